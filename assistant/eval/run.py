"""Methods × metrics on a benchmark dataset (or the user's own history), as a Markdown table.

Everything a method may learn from comes from the training split only: the IGSR heads, the preference
memory (training contexts → their stickers), the most-used counts, and the "sent after" words added to
each sticker's text. The evaluated split is never seen before scoring.

Methods: random, most-used, BM25 over sticker words, embedder text match, CLIP zero-shot (when CLIP
and sticker images are available), kNN of training contexts, IGSR, IGSR w/o memory, IGSR w/o intent,
preference memory alone, and the full fused default (`fused_order`): intent probabilities from the
IGSR head and two dedicated intent probes (eval/probes.py: e5 vector and word tokens), weighted by
`INTENT_WEIGHTS` (the preference memory's intent vote is a candidate there, at weight 0 since
eval/tune.py measured it); inside each intent the exact-sticker score of retrieval/fusion.py (IGSR
match, the user's send counts, the words on the sticker); laid out by `fusion.intent_slot_order`, the
layout the Suggester uses once a trained IGSR head gives it reply intents.

Stability: the IGSR heads and the intent probes are trained with `ENSEMBLE_SEEDS` fixed seeds and
averaged (a single head moved P@1 by ±3 points between seeds), on one torch thread (tiny models:
two threads on a busy two-core machine ran 30× slower, and one thread gives the same sums each run).
The fused weights were chosen by cross-validation inside the training split (eval/tune.py), never on
the reported split.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from assistant.eval import baselines, probes
from assistant.eval.dataset import Dataset
from assistant.eval.metrics import METRICS, evaluate_scores, markdown_table
from assistant.jobs import Progress, no_progress
from assistant.ml.features import FeatureStore, context_text, embedder_tag, sticker_text, text_features
from assistant.ml.igsr import IGSRConfig, IGSRScorer
from assistant.ml.preference import PreferenceMemory, PreferenceParams, fit_params
from assistant.ml.train import TrainData, TrainOptions, fit_igsr
from assistant.retrieval.fusion import (DEFAULT_LAYOUT, SlotLayout, combine_intents, exact_scores, intent_sends,
                                        intent_slot_order)
from assistant.retrieval.lexical import bm25_scores

log = logging.getLogger(__name__)

METHODS = ["random", "most-used", "BM25 (sticker words)", "embedder text match", "CLIP zero-shot",
           "kNN (training contexts)", "IGSR", "IGSR w/o memory", "IGSR w/o intent", "preference memory",
           "fused default"]  # every row run_benchmark can produce, in table order
DIVERSE_SLOTS = DEFAULT_LAYOUT.slots
ENSEMBLE_SEEDS = 3  # IGSR heads / intent probes averaged per run (seeds seed, seed+1, ...)
# Intent probabilities of the fused default: the IGSR head, the dedicated probe, the memory's vote.
INTENT_WEIGHTS = {"head": 1.0, "probe": 1.0, "lexical": 1.0, "vote": 0.0}  # eval/tune.py chose it


@dataclass
class BenchFeatures:
    ds: Dataset
    split: str
    pool_ids: list[str]
    pool_intents: np.ndarray
    labels: list[str]
    sticker_vecs: np.ndarray  # passage vectors of sticker_text (words + attributes + sent-after)
    word_vecs: np.ndarray  # passage vectors of the words alone
    has_words: np.ndarray
    train_ctx: np.ndarray
    train_mem: np.ndarray
    train_stickers: list[str]
    train_times: list
    train_texts: list[str]
    eval_ctx: np.ndarray
    eval_mem: np.ndarray
    eval_gold: np.ndarray
    eval_texts: list[str]
    backbone: str


def build_features(ds: Dataset, embedder, store: FeatureStore, split: str | None = None,
                   progress: Progress = no_progress) -> BenchFeatures:
    split = split or ds.eval_split()
    train = ds.split("train")
    test = ds.split(split)
    if not train:
        raise ValueError(f"{ds.name}: no 'train' samples to learn from")
    sent_after: dict[str, list[str]] = {}
    for s in train:
        sent_after.setdefault(s.sticker, []).append(context_text(ds.context_texts(s), 2))
    texts = [sticker_text(words=st.text, emoji=st.emoji, intent=st.intent, style=st.style, tags=st.tags,
                          description=st.description, sent_after=sent_after.get(st.id, [])[-3:])
             for st in ds.stickers]
    sticker_vecs = text_features(embedder, texts, "passage", store, progress)
    words = [st.text or st.emoji or "" for st in ds.stickers]
    has_words = np.array([bool(w) for w in words])
    word_vecs = np.zeros_like(sticker_vecs)
    if has_words.any():
        word_vecs[has_words] = text_features(embedder, [w for w in words if w], "passage", store, progress)

    def ctx_mem(samples):
        ctx = text_features(embedder, [context_text(ds.context_texts(s)) for s in samples], "query", store, progress)
        mem = np.zeros_like(ctx)
        for i, s in enumerate(samples):
            mt = ds.memory_texts(s)
            if mt:
                mem[i] = text_features(embedder, mt, "query", store).mean(0)
        return ctx, mem

    tr_ctx, tr_mem = ctx_mem(train)
    ev_ctx, ev_mem = ctx_mem(test)
    return BenchFeatures(
        ds=ds, split=split, pool_ids=[s.id for s in ds.stickers],
        pool_intents=np.array([s.intent for s in ds.stickers], dtype=object), labels=ds.intents(),
        sticker_vecs=sticker_vecs, word_vecs=word_vecs, has_words=has_words, train_ctx=tr_ctx, train_mem=tr_mem,
        train_stickers=[s.sticker for s in train], train_times=[s.time for s in train],
        train_texts=[context_text(ds.context_texts(s)) for s in train],
        eval_ctx=ev_ctx, eval_mem=ev_mem, eval_gold=np.array([ds.index[s.sticker] for s in test]),
        eval_texts=[context_text(ds.context_texts(s)) for s in test], backbone=embedder_tag(embedder))


def train_data(f: BenchFeatures) -> TrainData:
    lab = {l: i for i, l in enumerate(f.labels)}
    intents = np.array([lab.get(f.ds.by_id[s].intent, -100) if f.ds.by_id[s].intent else -100
                        for s in f.train_stickers])
    v = f.sticker_vecs[[f.ds.index[s] for s in f.train_stickers]]
    return TrainData(r_c=f.train_ctx, v=v, sticker_keys=list(f.train_stickers), intent=intents,
                     r_m=f.train_mem, ids=[s.id for s in f.ds.split("train")])


def base_config(f: BenchFeatures) -> IGSRConfig:
    return IGSRConfig(ctx_dim=f.train_ctx.shape[1], sticker_dim=f.sticker_vecs.shape[1], intent_labels=list(f.labels),
                      context_backbone=f.backbone, sticker_backbone=f"text:{f.backbone}")


@contextlib.contextmanager
def torch_threads(n: int = 1):
    """Run a block with `n` torch threads (the heads are tiny: see the module docstring)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class Ensemble:
    """Several IGSR heads of one variant (different seeds); scores and intents are their means."""

    scorers: list[IGSRScorer]

    @property
    def head(self):
        return self.scorers[0].head

    def match_and_intents(self, f: BenchFeatures) -> tuple[np.ndarray, np.ndarray]:
        """(samples × pool match, samples × labels intent probabilities) on the evaluated split."""
        match = np.zeros((len(f.eval_ctx), len(f.pool_ids)))
        intents = np.zeros((len(f.eval_ctx), len(f.labels)))
        for sc in self.scorers:
            mat = sc.sticker_matrix(f.pool_ids)
            qs = sc.query_vectors(f.eval_ctx, f.eval_mem)
            match += np.stack([mat @ q.vector for q in qs]) / len(self.scorers)
            if f.labels and sc.head.cfg.use_intent:
                intents += np.array([[q.intent.get(l, 0.0) for l in f.labels] for q in qs]) / len(self.scorers)
        return match, intents


def train_variants(f: BenchFeatures, opts: TrainOptions, progress: Progress = no_progress,
                   seeds: int = ENSEMBLE_SEEDS, variants: list[str] | None = None) -> dict[str, Ensemble]:
    """IGSR, w/o memory and w/o intent, `seeds` heads each (an ablation compares like with like),
    each trained on the training split only."""
    data = train_data(f)
    cfg = base_config(f)
    configs = {"IGSR": cfg, "IGSR w/o memory": replace(cfg, use_memory=False),
               "IGSR w/o intent": replace(cfg, use_intent=False, lambda_intent=0.0)}
    out = {}
    for name, c in configs.items():
        if variants is not None and name not in variants:
            continue
        scorers = []
        for k in range(seeds):
            o = replace(opts, seed=opts.seed + k)
            res = fit_igsr(data, c, o, progress=lambda d, t, w, n=name: progress(d, t, f"{n}: {w}"),
                           source={"dataset": f.ds.name, "split": "train"})
            vecs = f.sticker_vecs
            scorers.append(IGSRScorer(res.head, None, lambda ids, v=vecs, ix=f.ds.index: v[[ix[i] for i in ids]],
                                      res.meta))
        out[name] = Ensemble(scorers)
    return out


def preference_memory(f: BenchFeatures, train: bool = True, seed: int = 0) -> PreferenceMemory:
    """The training split as the user's memory. Benchmark samples without times are not in time order,
    so recency is switched off for them (a position decay would fade file order, not the past)."""
    timed = all(t is not None for t in f.train_times)
    params = PreferenceParams() if timed else PreferenceParams(half_life=float("inf"))
    mem = PreferenceMemory(f.train_ctx, f.train_stickers, f.train_times if timed else None, params)
    if train:
        mem.params = fit_params(f.train_ctx, f.train_stickers, seed=seed, base=params)
    return mem


def _pref_row(mem: PreferenceMemory, q: np.ndarray, pool_index: dict, n: int) -> np.ndarray:
    row = np.zeros(n)
    for sid, w in mem.read(q).items():
        row[pool_index[sid]] += w
    return row


@dataclass
class FusedInputs:
    """Everything the fused default reads for the evaluated samples: computed once, then re-ranked
    cheaply for every candidate layout (eval/tune.py)."""

    f: BenchFeatures
    match: np.ndarray  # samples × pool: IGSR match (mean of the ensemble)
    head_intents: np.ndarray  # samples × labels: the IGSR head's intent probabilities
    probe: np.ndarray  # samples × labels: the e5 intent probe (eval/probes.py)
    lexical: np.ndarray  # samples × labels: the token intent probe
    pref: np.ndarray  # samples × pool: the preference memory's read mass
    pref_share: np.ndarray  # samples: the memory's share by its gate (1 − PESRS's g), in [0, 1]
    words: np.ndarray  # samples × pool: e5 context ↔ sticker words (NaN: a sticker without words)
    bm25: np.ndarray  # samples × pool: BM25 of the context over the sticker words


def word_signals(f: BenchFeatures) -> tuple[np.ndarray, np.ndarray]:
    """(embedded, literal) match of each evaluated context to the words on each sticker."""
    words = f.eval_ctx @ f.word_vecs.T
    words[:, ~f.has_words] = np.nan
    bm25 = bm25_scores(f.eval_texts, [s.text or s.emoji or "" for s in f.ds.stickers])
    return words, bm25


def fused_inputs(f: BenchFeatures, match: np.ndarray, intents: np.ndarray, reads: tuple[np.ndarray, np.ndarray],
                 seed: int = 0, seeds: int = ENSEMBLE_SEEDS) -> FusedInputs:
    """Adds the intent probes (`seeds` of each, averaged) and the word signals to the IGSR ensemble's
    match and intents and the preference memory's `memory_reads`."""
    probe = np.mean([probes.fit_intent_probe(f, seed + k) for k in range(seeds)], axis=0)
    lexical = np.mean([probes.fit_lexical_probe(f, seed + k) for k in range(seeds)], axis=0)
    words, bm25 = word_signals(f)
    return FusedInputs(f, match, intents, probe, lexical, *reads, words, bm25)


def memory_reads(f: BenchFeatures, mem: PreferenceMemory) -> tuple[np.ndarray, np.ndarray]:
    """(samples × pool read mass, samples' preference share 1 − gate) of the memory on the evaluated split."""
    pool_index = {s: i for i, s in enumerate(f.pool_ids)}
    pref = np.stack([_pref_row(mem, q, pool_index, len(f.pool_ids)) for q in f.eval_ctx])
    share = np.array([1.0 - mem.gate_value(*mem.confidence(q)) for q in f.eval_ctx])
    return pref, share


def intent_mix(fi: FusedInputs, i: int, weights: dict | None = None) -> dict[str, float]:
    """The fused default's intent probabilities for sample `i`: the models' weighted mean (the IGSR
    head, the two intent probes), with the preference memory's vote (`_memory_vote`) taking the
    share ``weights["vote"]``: a fixed number, or "gate" for the memory's own PESRS gate."""
    w = weights or INTENT_WEIGHTS
    labels = fi.f.labels
    model = combine_intents([(dict(zip(labels, fi.head_intents[i])), w.get("head", 0.0)),
                             (dict(zip(labels, fi.probe[i])), w.get("probe", 0.0)),
                             (dict(zip(labels, fi.lexical[i])), w.get("lexical", 0.0))])
    share = w.get("vote", 0.0)
    if not share:
        return model
    base = _send_shares(fi.f)
    read = {int(j): float(fi.pref[i][j]) for j in np.nonzero(fi.pref[i])[0]}
    vote = _memory_vote(read, base, lambda j: fi.f.pool_intents[j])
    return _mix_intents(model, vote, fi.pref_share[i] if share == "gate" else float(share))


def _memory_vote(read: dict, base: dict, intent_of) -> dict[str, float]:
    """The intents the preference memory's read makes *more likely than usual*: for each intent, the
    attention mass its stickers get for this context minus their share of all sends, positive part.

    Why the lift and not the raw mass: the raw read mostly mirrors how often each sticker was sent
    (cosines between any two chats sit within a few hundredths), so it would vote for the user's
    favourite intent after every message. ``read`` and ``base`` map a sticker key to its mass;
    ``intent_of(key)`` gives its intent or None (no vote)."""
    lift: dict[str, float] = {}
    for key in set(read) | set(base):
        label = intent_of(key)
        if label:
            lift[label] = lift.get(label, 0.0) + read.get(key, 0.0) - base.get(key, 0.0)
    return {label: v for label, v in lift.items() if v > 0}


def _mix_intents(model: dict[str, float] | None, vote: dict[str, float] | None, share: float) -> dict[str, float]:
    """The models' intent distribution with the memory's vote taking ``share`` of it (PESRS's gate
    applied to intents, a candidate in eval/tune.py: the closer this context is to ones the user
    answered before, the more their answers then say what is meant now)."""
    share = min(1.0, max(0.0, float(share)))
    return combine_intents([(model, 1.0 - share), (vote, share)]) or combine_intents([(model, 1.0), (vote, 1.0)])


def _send_shares(f: BenchFeatures) -> dict[int, float]:
    """Each pool sticker's share of the training sends (pool index → share)."""
    index = {s: i for i, s in enumerate(f.pool_ids)}
    return {index[s]: c / len(f.train_stickers) for s, c in Counter(f.train_stickers).items()}


def fused_order(fi: FusedInputs, i: int, usage: np.ndarray, crowd: np.ndarray, layout: SlotLayout = DEFAULT_LAYOUT,
                intent_weights: dict[str, float] | None = None) -> np.ndarray:
    """The full fused default for sample `i`: pool indices, best first (`fusion.exact_scores` inside
    each intent, laid out by `fusion.intent_slot_order`, the layout the Suggester uses too); ``usage``
    and ``crowd`` (`fusion.intent_sends`) are the training split's, computed once by the caller."""
    probs = intent_mix(fi, i, intent_weights)
    scores = exact_scores(fi.match[i], usage, fi.pref[i], layout, words=fi.words[i], lexical=fi.bm25[i],
                          crowd=crowd)
    return intent_slot_order(scores, fi.f.pool_intents, probs, layout.slots, layout.joint, intent_weight=layout.intent,
                             exact_value=layout.exact_value)


def order_to_scores(order: np.ndarray) -> np.ndarray:
    """A ranking (pool indices, best first) as one score per sticker: the metrics read scores, and a
    layout's order must reach them unchanged (no ties for their tie-break to reorder)."""
    s = np.empty(len(order))
    s[order] = -np.arange(len(order), dtype=np.float64)
    return s


def intent_slot_rows(f: BenchFeatures, match: np.ndarray, intents: np.ndarray) -> np.ndarray:
    """The IGSR row's scores (samples × pool): a head's own intents, one slot per intent
    (`DIVERSE_SLOTS`), each filled by its best match, no joint places."""
    return np.stack([order_to_scores(intent_slot_order(match[i], f.pool_intents, dict(zip(f.labels, intents[i])),
                                                       DIVERSE_SLOTS, joint=0))
                     for i in range(len(f.eval_gold))])


def fused_rows(fi: FusedInputs, layout: SlotLayout = DEFAULT_LAYOUT,
               intent_weights: dict[str, float] | None = None) -> np.ndarray:
    """The fused default's scores (samples × pool): the rank order of `fused_order` as scores."""
    f = fi.f
    usage = baselines.most_used_scores(1, f.pool_ids, f.train_stickers)[0]
    crowd = intent_sends(usage, f.pool_intents)
    return np.stack([order_to_scores(fused_order(fi, i, usage, crowd, layout, intent_weights))
                     for i in range(len(f.eval_gold))])


def _model_rows(f: BenchFeatures, opts: TrainOptions, seed: int, want, progress: Progress,
                extra_fused: dict[str, tuple[SlotLayout, dict]] | None = None) -> dict[str, np.ndarray]:
    """IGSR and its ablations, the preference memory and the fused default (and `extra_fused`: more
    rows of the fused default's inputs under other weights and intent mixes)."""
    rows: dict[str, np.ndarray] = {}
    need = [v for v in ("IGSR", "IGSR w/o memory", "IGSR w/o intent") if want(v)]
    if (want("fused default") or extra_fused) and "IGSR" not in need:
        need.append("IGSR")
    ensembles = train_variants(f, opts, progress, variants=need)
    igsr = None
    for name, ens in ensembles.items():
        match, intents = ens.match_and_intents(f)
        if name == "IGSR":
            igsr = match, intents
        if not want(name):
            continue
        if ens.head.cfg.use_intent and f.labels:
            rows[name] = intent_slot_rows(f, match, intents)
        else:
            rows[name] = match
    reads = memory_reads(f, preference_memory(f, seed=seed))
    if want("preference memory"):
        rows["preference memory"] = reads[0]
    if (want("fused default") or extra_fused) and igsr is not None:
        fi = fused_inputs(f, *igsr, reads, seed)
        if want("fused default"):
            rows["fused default"] = fused_rows(fi)
        for name, (layout, mix) in (extra_fused or {}).items():
            rows[name] = fused_rows(fi, layout, mix)
    return rows


def run_benchmark(ds: Dataset, embedder, store: FeatureStore, split: str | None = None, seed: int = 0,
                  opts: TrainOptions | None = None, clip=None, progress: Progress = no_progress,
                  methods: list[str] | None = None, extra_fused: dict[str, tuple[SlotLayout, dict]] | None = None
                  ) -> tuple[dict[str, dict[str, float]], BenchFeatures, list[str]]:
    """All methods on one split; returns (method → metrics, features, notes). `extra_fused`: more
    rows, name → (layout, intent mix), of the fused default's inputs."""
    opts = opts or TrainOptions(seed=seed)
    f = build_features(ds, embedder, store, split, progress)
    n, npool = len(f.eval_gold), len(f.pool_ids)
    pool_index = {s: i for i, s in enumerate(f.pool_ids)}
    notes: list[str] = []
    rows: dict[str, np.ndarray] = {}
    want = (lambda m: True) if methods is None else (lambda m: m in methods)
    if want("random"):
        rows["random"] = baselines.random_scores(n, npool, seed)
    if want("most-used"):
        rows["most-used"] = baselines.most_used_scores(n, f.pool_ids, f.train_stickers)
    if want("BM25 (sticker words)"):
        rows["BM25 (sticker words)"] = bm25_scores(f.eval_texts, [s.text or s.emoji or "" for s in ds.stickers])
    if want("embedder text match"):
        rows["embedder text match"] = baselines.text_match_scores(f.eval_ctx, f.word_vecs, f.has_words)
    if want("CLIP zero-shot"):
        if clip is not None and any(s.image is not None and s.image.exists() for s in ds.stickers):
            from PIL import Image

            from assistant.ml.features import image_features

            def loader(p):
                return lambda: Image.open(p).convert("RGB")

            imgs = [(f"{ds.name}:{s.id}:{s.image}", loader(s.image)) for s in ds.stickers if s.image and s.image.exists()]
            has = np.array([bool(s.image and s.image.exists()) for s in ds.stickers])
            iv = np.zeros((npool, clip.dim), np.float32)
            iv[has] = image_features(clip, imgs, store)
            tv = clip.encode_texts(f.eval_texts)
            sc = tv @ iv.T
            sc[:, ~has] = -2.0
            rows["CLIP zero-shot"] = sc
        else:
            notes.append("CLIP zero-shot: not run (no CLIP weights installed or the dataset has no images)")
    if want("kNN (training contexts)"):
        rows["kNN (training contexts)"] = baselines.knn_scores(f.eval_ctx, f.train_ctx, f.train_stickers, pool_index)
    need_models = bool(extra_fused) or methods is None or any(
        m.startswith("IGSR") or m in ("preference memory", "fused default") for m in methods)
    if need_models:
        with torch_threads(1):
            rows.update(_model_rows(f, opts, seed, want, progress, extra_fused))
        if "IGSR w/o memory" in rows and not f.train_mem.any() and not f.eval_mem.any():
            notes.append("IGSR w/o memory: this dataset has no memories (no earlier sessions), so the memory "
                         "input is empty and the row equals IGSR")
    results = {name: evaluate_scores(r, f.eval_gold, f.pool_intents, seed) for name, r in rows.items()}
    return results, f, notes


def report(results: dict[str, dict[str, float]], title: str, notes: list[str] | None = None) -> str:
    text = markdown_table(results, METRICS, title)
    if notes:
        text += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return text
