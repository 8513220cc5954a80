"""The exact-sticker score's weights, fitted on the user's own later sends.

`fusion.SlotLayout`'s weights (how much a send count, a sticker sent only once, the learned match,
the words on it... say about "this is the sticker sent now") were fitted on msairs-dev, posts by
many people. One person's habits can be much stronger or weaker than that crowd's: someone who
answers almost everything with the same five stickers should see them, someone who never repeats
one should not. So `train --from-history` fits them again on this user's history, honestly: the
models learn from the earlier sends only, and the weights are fitted on how well the scores picked
out the latest ones (`eval.tune.fit_exact_weights`, the same fit the evaluation uses).

A history of a few dozen sends cannot say much, so the fit is a MAP fit pulled towards the msairs
weights (`PRIOR`): with little evidence the weights barely move. Below `MIN_HELD_OUT` later sends
nothing is fitted and the msairs weights stay; the reason is returned for the command to print.
The result is a small JSON file beside the IGSR checkpoint, read by the Suggester (`load_layout`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace
from pathlib import Path

from assistant.jobs import Progress, no_progress
from assistant.retrieval.fusion import DEFAULT_LAYOUT, SlotLayout

log = logging.getLogger(__name__)

FILE_NAME = "exact-score.json"
HELD_OUT_FRAC = 0.2  # the latest fifth of the sends is what the weights are fitted on
MIN_HELD_OUT = 30  # fewer later sends than this: the msairs weights stay
MAX_HELD_OUT = 300  # the fit holds held-out sends × library × 7 numbers in memory: the latest 300 are plenty
PRIOR = 25.0  # precision of the pull towards the msairs weights (≈ an SD of 0.2 per weight)


def path(app) -> Path:
    return Path(app.config.heads_dir) / FILE_NAME


APP_INTENTS = {"head": 1.0}  # the Suggester's reply intents: the trained IGSR head's alone


def fit_layout(ds, embedder, store, opts, progress: Progress = no_progress) -> tuple[SlotLayout | None, dict]:
    """The weights fitted on `ds`'s "train" samples (in time order, as `eval.dataset.from_history`
    gives them): the models learn from the earlier ones, the fit reads the latest `HELD_OUT_FRAC`.
    Returns (layout, what was done) or (None, ``{"skipped": reason}``); `ds` is not changed."""
    import copy

    from assistant.eval import tune
    from assistant.eval.dataset import Dataset

    train = [s for s in ds.samples if s.split == "train"]
    n_held = int(round(len(train) * HELD_OUT_FRAC))
    if n_held < MIN_HELD_OUT:
        return None, {"skipped": f"{n_held} later sends to fit the exact-score weights on, {MIN_HELD_OUT} needed: "
                                 "the defaults stay"}
    samples = [copy.copy(s) for s in train]
    cut = len(samples) - n_held
    for i, s in enumerate(samples):
        s.split = "train" if i < cut else ("valid" if i >= len(samples) - MAX_HELD_OUT else "unused")
    part = Dataset(name=f"{ds.name}:calibration", stickers=ds.stickers, samples=samples, sessions=ds.sessions,
                   root=ds.root)
    fi = tune.fold_inputs(part, embedder, store, opts, seeds=1, progress=progress)  # evaluates "valid"
    layout = tune.fit_exact_weights([fi], APP_INTENTS, DEFAULT_LAYOUT, prior=PRIOR)
    info = {"fitted": {name: getattr(layout, name) for name in tune.EXACT_FEATURES},
            "defaults": {name: getattr(DEFAULT_LAYOUT, name) for name in tune.EXACT_FEATURES},
            "held_out": min(n_held, MAX_HELD_OUT), "sends": len(train), "prior": PRIOR, "seed": opts.seed}
    return layout, info


def fit_on_history(app, opts, me: str | None = None, progress: Progress = no_progress, ds=None) -> dict:
    """Fit the weights on the user's whole history (`ds`, when the caller already built it with
    `from_history(..., test_frac=0.0)`) and save them; returns what was done (``fitted`` or
    ``skipped`` with the reason)."""
    from assistant.eval.dataset import DatasetError, from_history
    from assistant.ml.features import store_for

    if ds is None:
        try:
            ds = from_history(app, me=me, test_frac=0.0, min_samples=4)
        except DatasetError as exc:
            return {"skipped": str(exc)}
    layout, info = fit_layout(ds, app.embedder, store_for(app), opts, progress)
    if layout is not None:
        save(app, {**info, "me": me, "fitted_at": time.time()})
    return info


def describe(info: dict) -> str:
    """What the fit did, in one line (the train command and the window print it)."""
    if "skipped" in info:
        return f"exact-score weights: not fitted ({info['skipped']})"
    moved = ", ".join(f"{name} {info['defaults'][name]:.2f} → {value:.2f}" for name, value in info["fitted"].items()
                      if abs(value - info["defaults"][name]) >= 0.05) or "all within 0.05 of the defaults"
    return f"exact-score weights fitted on your latest {info['held_out']} sends: {moved}"


def save(app, info: dict) -> None:
    """Written whole to a temporary file, then renamed over the old one: never half a file."""
    p = path(app)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, p)


def load_layout(app, base: SlotLayout = DEFAULT_LAYOUT) -> SlotLayout:
    """`base` with the weights fitted on this user's history, when there are any; a file that cannot
    be read leaves `base` (and says so in the log: retraining writes it again)."""
    from assistant.eval.tune import EXACT_FEATURES

    p = path(app)
    if not p.exists():
        return base
    try:
        fitted = json.loads(p.read_text(encoding="utf-8"))["fitted"]
        # A file from before a term existed lacks it: that term keeps its default until the next fit.
        weights = {name: float(fitted[name]) for name in EXACT_FEATURES if name in fitted}
        if not weights:
            raise KeyError("no weights")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("%s could not be read (%s); the default exact-score weights are used", p, exc)
        return base
    return replace(base, **weights)
