"""IGSR (intent-guided sticker retrieval) as a small head over frozen backbones, its losses, and the
runtime scorer the Suggester uses.

The model, faithful to the paper:
- R_c = f_text(current context), R_m = f_text(retrieved memories); R_I = R_m ⊕ R_c.
- intent: a linear layer + softmax over the intent labels (the 28 GoEmotions labels in the product,
  a benchmark's own label set when training on one).
- R_I is projected into the sticker space, where a sticker is R_v: its CLIP image vector when CLIP is
  installed, else the text embedder's vector of the sticker's words/emoji/attributes (features.py).
- loss = ½(InfoNCE(text→sticker) + InfoNCE(sticker→text)) with temperature τ + λ_I·CE(intent) + λ₂·‖Θ‖².

Deliberate differences from the authors' released code, which is broken:
- the contrastive loss refuses batches of one (where it is identically zero) instead of silently
  training nothing; in-batch rows that share the same ground-truth sticker are not used as each other's
  negatives;
- every layer is created once in `__init__` (never inside `forward`);
- dropout is the only train-time noise and `eval()` turns it off; scoring always runs in eval mode.

Runtime API (consumed by retrieval/suggest.py; stable):
    scorer = load_scorer(app)            # IGSRScorer, or None when no trained checkpoint exists
    q = scorer.query(context_texts, memory_texts)   # QueryResult(.vector in sticker space, .intent)
    m = scorer.sticker_matrix(sticker_ids)          # rows aligned to ids, cached per sticker
    s = scorer.scores(q, sticker_ids)               # cosine match per sticker, np.ndarray
`intent_diverse_order` (the IGSR baseline's layout; the code lives in retrieval/fusion.py) puts the best
sticker of each probable intent in the first slots (the top-k otherwise all share one intent).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "igsr.pt"


@dataclass
class IGSRConfig:
    ctx_dim: int = 384
    sticker_dim: int = 384
    hidden: int = 512
    intent_labels: list[str] = field(default_factory=list)
    tau: float = 0.05
    learn_tau: bool = False
    lambda_intent: float = 1.0
    lambda_l2: float = 1e-5
    dropout: float = 0.2
    use_memory: bool = True
    use_intent: bool = True
    feature_scale: float = 10.0  # e5 rows are unit vectors with tiny coordinates; scale before the MLP
    context_backbone: str = ""
    sticker_backbone: str = ""

    @property
    def n_intents(self) -> int:
        return len(self.intent_labels)


class IGSRHead(nn.Module):
    """R_I = R_m ⊕ R_c → (query vector in sticker space, intent logits); sticker side: a residual
    adapter over the frozen sticker vector (zero-initialised, so training starts from the backbone's
    own geometry)."""

    def __init__(self, cfg: IGSRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d_in = 2 * cfg.ctx_dim
        self.proj = nn.Sequential(nn.Linear(d_in, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout),
                                  nn.Linear(cfg.hidden, cfg.sticker_dim))
        self.ctx_skip = nn.Linear(cfg.ctx_dim, cfg.sticker_dim, bias=False) if cfg.ctx_dim == cfg.sticker_dim else None
        if self.ctx_skip is not None:
            with torch.no_grad():
                self.ctx_skip.weight.copy_(torch.eye(cfg.ctx_dim))
        self.intent = nn.Linear(d_in, max(1, cfg.n_intents))
        self.sticker_adapter = nn.Linear(cfg.sticker_dim, cfg.sticker_dim)
        nn.init.zeros_(self.sticker_adapter.weight)
        nn.init.zeros_(self.sticker_adapter.bias)
        self.dropout = nn.Dropout(cfg.dropout)
        self.log_tau = nn.Parameter(torch.tensor(float(np.log(cfg.tau))), requires_grad=cfg.learn_tau)

    @property
    def tau(self) -> torch.Tensor:
        return self.log_tau.exp().clamp(0.01, 1.0)

    def intent_repr(self, r_c: torch.Tensor, r_m: torch.Tensor | None) -> torch.Tensor:
        if r_m is None or not self.cfg.use_memory:
            r_m = torch.zeros_like(r_c)
        return torch.cat([r_m, r_c], dim=-1) * self.cfg.feature_scale

    def forward(self, r_c: torch.Tensor, r_m: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        r_i = self.dropout(self.intent_repr(r_c, r_m))
        q = self.proj(r_i)
        if self.ctx_skip is not None:
            q = q + self.ctx_skip(r_c)
        return F.normalize(q, dim=-1), self.intent(r_i)

    def encode_stickers(self, v: torch.Tensor) -> torch.Tensor:
        return F.normalize(v + self.sticker_adapter(v), dim=-1)


# --- losses ---------------------------------------------------------------------------------------
def info_nce(q: torch.Tensor, s: torch.Tensor, tau: float | torch.Tensor,
             sticker_keys: Sequence | None = None) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of (query, sticker) pairs, both already L2-normalised.

    ½[−mean_j log softmax_k(q_j·s_k/τ)[j] − mean_j log softmax_k(s_j·q_k/τ)[j]]. When `sticker_keys`
    is given, off-diagonal pairs with the same key (two contexts answered by one sticker) are masked
    out rather than pushed apart. A batch of one is refused: its loss is identically zero.
    """
    if q.shape[0] < 2:
        raise ValueError("InfoNCE needs at least 2 pairs per batch (with 1 the loss is always 0)")
    logits = q @ s.t() / tau
    if sticker_keys is not None:
        keys = list(sticker_keys)
        same = torch.tensor([[a == b for b in keys] for a in keys], device=logits.device)
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(q.shape[0], device=q.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def intent_ce(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = -100,
              label_smoothing: float = 0.0) -> torch.Tensor:
    """Softmax cross-entropy for the intent (rows whose target is `ignore_index` are skipped; a batch
    without any labelled row gives 0)."""
    if not bool((target != ignore_index).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits, target, ignore_index=ignore_index, label_smoothing=label_smoothing)


def l2_penalty(module: nn.Module) -> torch.Tensor:
    return sum((p ** 2).sum() for n, p in module.named_parameters() if p.requires_grad and "log_tau" not in n)


def igsr_loss(head: IGSRHead, r_c: torch.Tensor, r_m: torch.Tensor | None, v: torch.Tensor,
              intent_target: torch.Tensor | None, sticker_keys: Sequence | None = None,
              label_smoothing: float = 0.0) -> dict[str, torch.Tensor]:
    cfg = head.cfg
    q, logits = head(r_c, r_m)
    s = head.encode_stickers(v)
    out = {"nce": info_nce(q, s, head.tau, sticker_keys)}
    if cfg.use_intent and intent_target is not None and cfg.n_intents:
        out["intent"] = intent_ce(logits, intent_target, label_smoothing=label_smoothing)
    else:
        out["intent"] = torch.zeros((), device=q.device)
    out["l2"] = l2_penalty(head)
    out["total"] = out["nce"] + cfg.lambda_intent * out["intent"] + cfg.lambda_l2 * out["l2"]
    return out


# --- checkpoints -----------------------------------------------------------------------------------
def save_checkpoint(path: Path, head: IGSRHead, meta: dict, extra: dict | None = None) -> None:
    """Weights + config + what it was trained on, written atomically."""
    import io

    from assistant.config import atomic_write_bytes

    buf = io.BytesIO()
    torch.save({"config": asdict(head.cfg), "state": head.state_dict(), "meta": meta, "extra": extra or {}}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())
    (Path(path).with_suffix(".json")).write_text(json.dumps({"config": asdict(head.cfg), "meta": meta},
                                                            indent=2, ensure_ascii=False))


def load_checkpoint(path: Path, device: str = "cpu") -> tuple[IGSRHead, dict, dict]:
    blob = torch.load(Path(path), map_location=device, weights_only=False)
    cfg = IGSRConfig(**blob["config"])
    head = IGSRHead(cfg)
    head.load_state_dict(blob["state"])
    head.eval().to(device)
    return head, blob.get("meta", {}), blob.get("extra", {})


# --- runtime scoring -------------------------------------------------------------------------------
@dataclass
class QueryResult:
    vector: np.ndarray  # unit vector in sticker space
    intent: dict[str, float]  # label -> probability (empty when the head has no intents)


class IGSRScorer:
    """A trained head plus its backbones, for scoring catalog stickers against a conversation."""

    def __init__(self, head: IGSRHead, embedder, sticker_features, meta: dict | None = None) -> None:
        self.head = head.eval()
        self.embedder = embedder
        self._sticker_features = sticker_features  # callable(list[ids]) -> (n, sticker_dim) raw vectors
        self.meta = meta or {}
        self._cache: dict = {}
        self._lock = threading.Lock()

    @torch.no_grad()
    def query(self, context_texts: list[str], memory_texts: list[str] | None = None) -> QueryResult:
        from assistant.ml.features import context_text

        r_c = torch.from_numpy(self.embedder.query([context_text(context_texts)]))
        r_m = None
        if memory_texts:
            mem = self.embedder.query(list(memory_texts))
            r_m = torch.from_numpy(mem.mean(0, keepdims=True))
        return self.query_vectors(r_c, r_m)[0]

    @torch.no_grad()
    def query_vectors(self, r_c: torch.Tensor | np.ndarray, r_m=None) -> list[QueryResult]:
        """Batch form over precomputed backbone vectors (evaluation, benchmarks)."""
        r_c = torch.as_tensor(r_c, dtype=torch.float32)
        r_m = None if r_m is None else torch.as_tensor(r_m, dtype=torch.float32)
        q, logits = self.head(r_c, r_m)
        labels = self.head.cfg.intent_labels
        probs = torch.softmax(logits, -1).numpy() if labels else np.zeros((len(q), 0))
        return [QueryResult(q[i].numpy().astype(np.float32), {l: float(p) for l, p in zip(labels, probs[i])})
                for i in range(len(q))]

    @torch.no_grad()
    def sticker_matrix(self, sticker_ids: Sequence) -> np.ndarray:
        ids = list(sticker_ids)
        with self._lock:
            missing = [i for i in ids if i not in self._cache]
            if missing:
                raw = np.asarray(self._sticker_features(missing), dtype=np.float32)
                enc = self.head.encode_stickers(torch.from_numpy(raw)).numpy()
                for i, row in zip(missing, enc):
                    self._cache[i] = row
            if not ids:
                return np.zeros((0, self.head.cfg.sticker_dim), dtype=np.float32)
            return np.stack([self._cache[i] for i in ids])

    def scores(self, query_result: QueryResult, sticker_ids: Sequence) -> np.ndarray:
        return self.sticker_matrix(sticker_ids) @ query_result.vector

    def invalidate(self, sticker_ids: Sequence | None = None) -> None:
        """Forget cached sticker rows (after a sticker's words or attributes change)."""
        with self._lock:
            if sticker_ids is None:
                self._cache.clear()
            else:
                for i in sticker_ids:
                    self._cache.pop(i, None)


def checkpoint_path(app) -> Path:
    return Path(app.config.heads_dir) / CHECKPOINT_NAME


_scorers: dict[str, IGSRScorer] = {}
_scorers_lock = threading.Lock()


def load_scorer(app) -> IGSRScorer | None:
    """The user's trained IGSR scorer (cached per checkpoint file), or None before any training or
    when the checkpoint's sticker backbone is not available now (e.g. trained with CLIP, CLIP removed)."""
    from assistant.ml.features import catalog_sticker_features, embedder_tag

    path = checkpoint_path(app)
    if not path.exists():
        return None
    key = f"{path}:{path.stat().st_mtime_ns}"
    with _scorers_lock:
        if key in _scorers:
            return _scorers[key]
        try:
            head, meta, _ = load_checkpoint(path)
        except Exception as exc:  # noqa: BLE001 - a corrupt checkpoint must not break suggestions
            log.error("IGSR checkpoint %s could not be loaded: %s; retrain with `sticker-assistant train`", path, exc)
            return None
        embedder = app.embedder
        want = head.cfg.sticker_backbone
        if want.startswith("clip:") and app.clip is None:
            log.warning("IGSR checkpoint %s was trained on CLIP image vectors but CLIP is not installed", path)
            return None
        if head.cfg.context_backbone and head.cfg.context_backbone != embedder_tag(embedder):
            log.warning("IGSR checkpoint %s was trained with %s, the embedder is %s", path,
                        head.cfg.context_backbone, embedder_tag(embedder))
            return None
        scorer = IGSRScorer(head, embedder, lambda ids: catalog_sticker_features(app, ids, want), meta)
        _scorers[key] = scorer
        return scorer


# --- re-ranking -------------------------------------------------------------------------------------
def intent_diverse_order(scores: np.ndarray, sticker_intents: Sequence[str | None],
                         intent_probs: dict[str, float], slots: int = 5) -> np.ndarray:
    """An ordering (indices, best first) whose first `slots` places hold the best-scored sticker of
    each of the `slots` most probable intents, most probable first; then the rest grouped by intent
    probability, best score first inside each intent (stickers without a known intent last).

    Why: scored flat, the top k all share the single most likely intent, so a wrong intent guess
    loses every slot. This is the IGSR baseline's layout; the one implementation lives in
    retrieval/fusion.py (`intent_slot_order`, which the fused default and the Suggester use with
    extra exact-sticker places after the slots).
    """
    from assistant.retrieval.fusion import intent_slot_order

    return intent_slot_order(scores, list(sticker_intents), intent_probs, slots, joint=0)
