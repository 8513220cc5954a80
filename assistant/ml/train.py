"""Training loops for the heads over frozen backbone features.

One loop (`fit_igsr`) serves every source: a benchmark directory, the user's own history, or a
synthetic task in the tests. It shuffles with a recorded seed, holds out a validation split for early
stopping (on validation loss), and after every epoch writes a resume file (weights, optimiser, epoch,
RNG state, best-so-far) so `train --resume` continues where an interrupted run stopped. On CUDA it runs
with AMP (bf16 autocast where supported, else fp16 with a GradScaler); on CPU in fp32.

The checkpoint records its config, seed, the data it saw (source, sizes, a content hash of the sample
ids), and the training history, so a shipped head can be reproduced with the command in its meta.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from assistant.jobs import CancelToken, Progress, no_progress
from assistant.ml.igsr import IGSRConfig, IGSRHead, igsr_loss, save_checkpoint

log = logging.getLogger(__name__)


@dataclass
class TrainData:
    """Backbone features for (context, memories) → sticker pairs."""

    r_c: np.ndarray  # (n, d_ctx)
    v: np.ndarray  # (n, d_sticker): the ground-truth sticker's raw vector
    sticker_keys: list  # the ground-truth sticker's id per row (duplicates are not negatives)
    intent: np.ndarray | None = None  # (n,) label index or -100
    r_m: np.ndarray | None = None  # (n, d_ctx) mean memory vector, zeros when none
    ids: list = field(default_factory=list)  # sample ids, for the data fingerprint

    def __len__(self) -> int:
        return len(self.r_c)

    def subset(self, idx: np.ndarray) -> "TrainData":
        return TrainData(self.r_c[idx], self.v[idx], [self.sticker_keys[i] for i in idx],
                         None if self.intent is None else self.intent[idx],
                         None if self.r_m is None else self.r_m[idx],
                         [self.ids[i] for i in idx] if self.ids else [])

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for i in (self.ids or range(len(self))):
            h.update(str(i).encode() + b"\x00")
        return h.hexdigest()[:16]


@dataclass
class TrainOptions:
    epochs: int = 60
    batch: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.0  # the paper's L2 term is in the loss (lambda_l2)
    val_frac: float = 0.1
    patience: int = 8
    seed: int = 0
    device: str = "cpu"
    label_smoothing: float = 0.1
    min_delta: float = 1e-4


@dataclass
class TrainResult:
    head: IGSRHead
    history: list[dict]
    best_epoch: int
    stopped_early: bool
    seconds: float
    meta: dict


def _split(n: int, val_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_val = int(round(n * val_frac)) if n >= 20 else 0
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _tensors(d: TrainData, device: str):
    t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    intent = None if d.intent is None else torch.as_tensor(d.intent, dtype=torch.long, device=device)
    return t(d.r_c), (None if d.r_m is None else t(d.r_m)), t(d.v), intent


def _amp(device: str):
    if device.startswith("cuda"):
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype), dtype
    return torch.autocast("cpu", enabled=False), None


def evaluate_loss(head: IGSRHead, data: TrainData, device: str = "cpu", batch: int = 256) -> float:
    """Mean loss in eval mode (no dropout) over fixed-order batches of ≥ 2 rows."""
    if len(data) < 2:
        return float("nan")
    head.eval()
    r_c, r_m, v, intent = _tensors(data, device)
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(data), batch):
            j = min(len(data), i + batch)
            if j - i < 2:
                break
            ctx, dtype = _amp(device)
            with ctx:
                out = igsr_loss(head, r_c[i:j], None if r_m is None else r_m[i:j], v[i:j],
                                None if intent is None else intent[i:j], data.sticker_keys[i:j])
            total += float(out["total"]) * (j - i)
            count += j - i
    return total / max(1, count)


def fit_igsr(data: TrainData, cfg: IGSRConfig, opts: TrainOptions | None = None,
             progress: Progress = no_progress, cancel: CancelToken | None = None,
             resume_path: Path | None = None, resume: bool = False, source: dict | None = None) -> TrainResult:
    """Train an IGSR head; early stopping on the held-out split; resumable through `resume_path`."""
    opts = opts or TrainOptions()
    device = opts.device
    if len(data) < 2:
        raise ValueError(f"training needs at least 2 pairs, got {len(data)}")
    torch.manual_seed(opts.seed)
    tr_idx, va_idx = _split(len(data), opts.val_frac, opts.seed)
    train, val = data.subset(tr_idx), data.subset(va_idx)
    head = IGSRHead(cfg).to(device)
    opt = torch.optim.AdamW([p for p in head.parameters() if p.requires_grad], lr=opts.lr,
                            weight_decay=opts.weight_decay)
    ctx_amp, amp_dtype = _amp(device)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    history: list[dict] = []
    best = (float("inf"), 0, None)
    start_epoch = 0
    if resume and resume_path is not None and Path(resume_path).exists():
        state = torch.load(resume_path, map_location=device, weights_only=False)
        if state.get("fingerprint") != data.fingerprint() or state.get("config") != asdict(cfg):
            raise ValueError(f"{resume_path} belongs to a different run (other data or settings); "
                             "train without --resume to start over")
        head.load_state_dict(state["head"])
        opt.load_state_dict(state["opt"])
        history = state["history"]
        start_epoch = state["epoch"]
        best = (state["best_loss"], state["best_epoch"], state["best_state"])
        torch.set_rng_state(state["torch_rng"])
        log.info("resuming from epoch %d", start_epoch)
    gen = torch.Generator().manual_seed(opts.seed)
    for _ in range(start_epoch):  # replay the shuffles so a resumed run sees the same batches
        torch.randperm(len(train), generator=gen)
    r_c, r_m, v, intent = _tensors(train, device)
    t0 = time.monotonic()
    stopped = False
    for epoch in range(start_epoch, opts.epochs):
        if cancel is not None:
            cancel.check()
        head.train()
        perm = torch.randperm(len(train), generator=gen).to(device)
        losses = []
        for i in range(0, len(train), opts.batch):
            b = perm[i:i + opts.batch]
            if len(b) < 2:  # a trailing batch of one carries no contrastive signal
                continue
            keys = [train.sticker_keys[int(j)] for j in b]
            with ctx_amp:
                out = igsr_loss(head, r_c[b], None if r_m is None else r_m[b], v[b],
                                None if intent is None else intent[b], keys, opts.label_smoothing)
            opt.zero_grad(set_to_none=True)
            scaler.scale(out["total"]).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(float(out["total"].detach()))
        train_loss = float(np.mean(losses)) if losses else float("nan")
        val_loss = evaluate_loss(head, val, device) if len(val) >= 2 else train_loss
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss})
        if val_loss < best[0] - opts.min_delta:
            best = (val_loss, epoch + 1, {k: t.detach().clone() for k, t in head.state_dict().items()})
        progress(epoch + 1, opts.epochs, f"epoch {epoch + 1} loss {train_loss:.3f} val {val_loss:.3f}")
        if resume_path is not None:
            import io

            from assistant.config import atomic_write_bytes

            buf = io.BytesIO()
            torch.save({"head": head.state_dict(), "opt": opt.state_dict(), "history": history,
                        "epoch": epoch + 1, "best_loss": best[0], "best_epoch": best[1], "best_state": best[2],
                        "torch_rng": torch.get_rng_state(), "fingerprint": data.fingerprint(),
                        "config": asdict(cfg)}, buf)
            atomic_write_bytes(Path(resume_path), buf.getvalue())
        if epoch + 1 - best[1] >= opts.patience:
            stopped = True
            break
    if best[2] is not None:
        head.load_state_dict(best[2])
    head.eval()
    meta = {"seed": opts.seed, "options": asdict(opts), "data": {**(source or {}), "pairs": len(data),
            "train": len(train), "val": len(val), "fingerprint": data.fingerprint()},
            "best_epoch": best[1], "stopped_early": stopped, "history": history,
            "torch": torch.__version__, "trained_at": time.time()}
    return TrainResult(head, history, best[1], stopped, time.monotonic() - t0, meta)


def save_result(path: Path, result: TrainResult, extra: dict | None = None) -> Path:
    save_checkpoint(Path(path), result.head, result.meta, extra)
    return Path(path)


# --- sources --------------------------------------------------------------------------------------------
def train_on_dataset(app, ds, opts: TrainOptions, progress: Progress = no_progress, resume_path: Path | None = None,
                     resume: bool = False) -> tuple[TrainResult, TrainData]:
    """IGSR on a benchmark's train split (its own intent labels, text sticker features)."""
    from assistant.eval.run import base_config, build_features, train_data
    from assistant.ml.features import store_for

    f = build_features(ds, app.embedder, store_for(app), progress=progress)
    data = train_data(f)
    res = fit_igsr(data, base_config(f), opts, progress=progress, resume_path=resume_path, resume=resume,
                   source={"dataset": str(ds.root or ds.name), "split": "train"})
    res.meta["command"] = f"sticker-assistant train --dataset {ds.root or ds.name} --epochs {opts.epochs} --seed {opts.seed}"
    return res, data


def history_training_data(app, me: str | None = None) -> tuple[TrainData, str, list[str], object]:
    """(pairs, sticker backbone tag, intent labels, the `eval.dataset.from_history` dataset they came
    from) from every sticker the user sent."""
    from assistant.eval.dataset import from_history
    from assistant.ml.emoji_intents import intent_for_emoji
    from assistant.ml.features import catalog_sticker_features, context_text, embedder_tag, store_for, text_features
    from assistant.ml.intent import LABELS

    ds = from_history(app, me=me, test_frac=0.0, min_samples=4)
    store = store_for(app)
    r_c = text_features(app.embedder, [context_text(ds.context_texts(s)) for s in ds.samples], "query", store)
    backbone = (f"clip:{getattr(app.clip, 'name', 'custom')}" if app.clip is not None
                else f"text:{embedder_tag(app.embedder)}")
    ids = [int(s.sticker) for s in ds.samples]
    uniq = list(dict.fromkeys(ids))
    raw = catalog_sticker_features(app, uniq, backbone)
    row = {sid: i for i, sid in enumerate(uniq)}
    v = raw[[row[i] for i in ids]]
    lab = {l: i for i, l in enumerate(LABELS)}
    intents = []
    for s in ds.samples:
        st = ds.by_id.get(s.sticker)
        label = (st.intent if st and st.intent in lab else None) or (intent_for_emoji(st.emoji) if st else None)
        intents.append(lab.get(label, -100) if label else -100)
    data = TrainData(r_c=r_c, v=v, sticker_keys=[str(i) for i in ids], intent=np.array(intents),
                     r_m=np.zeros_like(r_c), ids=[s.id for s in ds.samples])
    return data, backbone, list(LABELS), ds


def train_history_and_save(app, opts: TrainOptions, me: str | None = None, progress: Progress = no_progress,
                           cancel: CancelToken | None = None, out: Path | None = None,
                           resume: bool = False) -> tuple[TrainResult, TrainData]:
    """`train_on_history`, then the checkpoint at `out`, by default where the Suggester looks for it
    (`train --from-history`, the window's "Learn from my chats"). ``cancel`` is checked at every
    progress report. Cancelled while the IGSR head trains, nothing is saved; cancelled while the
    exact-score weights are fitted, the preference memory's refitted parameters are kept (they were
    complete) and the checkpoint is the old one."""
    from assistant.ml.igsr import checkpoint_path

    def checked(done: int, total: int, what: str) -> None:
        if cancel is not None:
            cancel.check()
        progress(done, total, what)

    out = out or checkpoint_path(app)
    resume_path = out.with_suffix(".resume.pt")
    result, data = train_on_history(app, opts, me, checked, resume_path=resume_path, resume=resume)
    save_result(out, result)
    resume_path.unlink(missing_ok=True)
    return result, data


def train_on_history(app, opts: TrainOptions, me: str | None = None, progress: Progress = no_progress,
                     resume_path: Path | None = None, resume: bool = False) -> tuple[TrainResult, TrainData]:
    """IGSR on the user's own sends (→ the Suggester's scorer), the preference memory's parameters and
    the exact-sticker score's weights (ml/calibration.py: what it did is in ``meta["exact_score"]``)."""
    from assistant.ml import calibration
    from assistant.ml.features import embedder_tag
    from assistant.ml.preference import PreferenceMemory, fit_params, save_params

    data, backbone, labels, ds = history_training_data(app, me)
    cfg = IGSRConfig(ctx_dim=data.r_c.shape[1], sticker_dim=data.v.shape[1], intent_labels=labels,
                     context_backbone=embedder_tag(app.embedder), sticker_backbone=backbone)
    res = fit_igsr(data, cfg, opts, progress=progress, resume_path=resume_path, resume=resume,
                   source={"history": str(app.config.data_dir), "me": me})
    res.meta["command"] = f"sticker-assistant train --from-history --epochs {opts.epochs} --seed {opts.seed}"
    mem = PreferenceMemory.from_catalog(app, me)
    if len(mem) >= 4:
        params = fit_params(mem.keys, mem.values, seed=opts.seed, base=mem.params)
        params.meta = {"seed": opts.seed, "slots": len(mem)}
        save_params(app, params)
    res.meta["exact_score"] = calibration.fit_on_history(app, opts, me, progress, ds)
    return res, data
