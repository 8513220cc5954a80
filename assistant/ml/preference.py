"""The user's preference memory (PESRS): their own past (context → sticker) pairs, read by attention.

Memory: one slot per sticker the user sent, in time order. Key = the embedder's query vector of the
messages before it; value = the sticker (its id; its vector O_k when a sticker matrix is given).
Reading (PESRS eq. 23–24): δ_k = softmax_k(h·W·h_k / T + log recency_k), r = Σ_k δ_k·O_k. Here W is
diagonal (a learned per-dimension scale, identity before training): with a few hundred sends a full
d×d bilinear map only memorises. Recency replaces PESRS's position RNN with an explicit decay: a slot
`age` sends old (or `age_s` seconds old when times are known) counts exp(−age/half_life) times less, so
what the user sends now outweighs what they sent a year ago.

Fusion (PESRS eq. 31–32): f_g = σ(FC([features])), fused = f_g·match + (1 − f_g)·preference. Our match
is a score per candidate rather than a vector, so the gate reads the memory's confidence (how close the
best slot is, how peaked δ is) and decides per query how much to trust history over the match. The
training-free default (no gate trained) is f_g = σ(γ·(c₀ − best_similarity)): near-duplicate past
contexts hand the decision to the memory, unfamiliar ones to the match.

API (used by retrieval/suggest.py):
    mem = PreferenceMemory.from_catalog(app, me=None)
    weights = mem.read(query_vec, now=None)         # {sticker_id: weight}, weights sum to 1
    fused = mem.gate(match_scores, pref_scores)     # same shape as match_scores
"""

from __future__ import annotations

import json
import logging
import time as _time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

GATE_NAME = "preference.json"


@dataclass
class PreferenceParams:
    """Everything the memory learns; saved as JSON next to the other heads (tiny, human-readable)."""

    temperature: float = 0.05  # softmax temperature over cosine similarities
    half_life: float = 200.0  # in sends (positions) when times are unknown
    half_life_s: float = 180 * 86400.0  # in seconds when times are known
    top: int = 64  # slots read per query (the rest carry ~0 weight)
    gate_w: tuple[float, float, float] = (-12.0, 0.0, 0.0)  # on (best_sim, peak δ, bias term 1)
    gate_b: float = 10.2  # default: f = σ(12·(0.85 − best_sim))
    scale: list[float] | None = None  # the diagonal of W (None = identity)
    trained: bool = False
    meta: dict | None = None


class PreferenceMemory:
    def __init__(self, keys: np.ndarray, values: Sequence, times: Sequence[float | None] | None = None,
                 params: PreferenceParams | None = None) -> None:
        self.keys = np.asarray(keys, dtype=np.float32).reshape(len(values), -1) if len(values) else \
            np.zeros((0, np.asarray(keys).shape[-1] if np.asarray(keys).ndim == 2 else 384), np.float32)
        self.values = list(values)
        self.times = None if times is None else np.array([np.nan if t is None else t for t in times], dtype=np.float64)
        self.params = params or PreferenceParams()

    def __len__(self) -> int:
        return len(self.values)

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def from_catalog(cls, app, me: str | None = None, context_turns: int = 6) -> "PreferenceMemory":
        """Every sticker the user sent (is_me, or sender == me), keyed by the context before it in
        its session (a sticker that opens a session answers nothing there and is left out)."""
        from assistant.chats.sessions import context_before, sticker_sends
        from assistant.ml.features import context_text, store_for, text_features

        conn = app.catalog.conn
        texts, values, times = [], [], []
        for row in sticker_sends(conn, me):
            ctx = context_text([p["text"] for p in context_before(conn, row, context_turns) if p["text"]])
            if not ctx:
                continue
            texts.append(ctx)
            values.append(int(row["sticker_id"]))
            times.append(row["time"])
        keys = text_features(app.embedder, texts, "query", store_for(app)) if texts else \
            np.zeros((0, app.embedder.dim), np.float32)
        return cls(keys, values, times, load_params(app))

    # --- reading -------------------------------------------------------------------------------
    def attention(self, query_vec: np.ndarray, now: float | None = None,
                  exclude: int | None = None) -> tuple[np.ndarray, np.ndarray, float]:
        """(slot indices, δ over them, best similarity). `exclude` drops one slot (leave-one-out)."""
        p = self.params
        if not len(self):
            return np.zeros(0, np.int64), np.zeros(0), 0.0
        q = np.asarray(query_vec, dtype=np.float32).reshape(-1)
        if p.scale is not None:
            q = q * np.asarray(p.scale, dtype=np.float32)
        sims = self.keys @ q
        if exclude is not None:
            sims = sims.copy()
            sims[exclude] = -np.inf
        k = min(p.top, len(sims))
        idx = np.argpartition(-sims, k - 1)[:k]
        s = sims[idx]
        finite = np.isfinite(s)
        idx, s = idx[finite], s[finite]
        if not len(idx):
            return idx, np.zeros(0), 0.0
        logits = s / p.temperature + np.log(self._recency(idx, now))
        logits -= logits.max()
        w = np.exp(logits)
        return idx, w / w.sum(), float(s.max())

    def _recency(self, idx: np.ndarray, now: float | None) -> np.ndarray:
        p = self.params
        if self.times is not None and now is not None and not np.isnan(self.times[idx]).any():
            age = np.maximum(0.0, now - self.times[idx])
            return np.exp(-age / p.half_life_s) + 1e-6
        age = (len(self) - 1 - idx).astype(np.float64)  # position: sends since this one
        return np.exp(-age / p.half_life) + 1e-6

    def read(self, query_vec: np.ndarray, now: float | None = None, exclude: int | None = None) -> dict:
        """{sticker_id: weight}: attention mass summed per sticker (sums to 1 when the memory is not empty)."""
        idx, w, _ = self.attention(query_vec, now, exclude)
        out: dict = {}
        for i, wi in zip(idx, w):
            v = self.values[int(i)]
            out[v] = out.get(v, 0.0) + float(wi)
        return out

    def read_vector(self, query_vec: np.ndarray, value_vectors: dict, now: float | None = None) -> np.ndarray:
        """PESRS's r = Σ δ_k O_k, with O_k the sticker vectors given in `value_vectors`."""
        idx, w, _ = self.attention(query_vec, now)
        dim = len(next(iter(value_vectors.values()))) if value_vectors else 0
        r = np.zeros(dim, dtype=np.float32)
        for i, wi in zip(idx, w):
            vec = value_vectors.get(self.values[int(i)])
            if vec is not None:
                r += wi * vec
        return r

    def confidence(self, query_vec: np.ndarray, now: float | None = None, exclude: int | None = None) -> tuple[float, float]:
        """(best similarity, peak δ): how much the memory has seen this kind of conversation."""
        idx, w, best = self.attention(query_vec, now, exclude)
        return best, float(w.max()) if len(w) else 0.0

    # --- fusion --------------------------------------------------------------------------------
    def gate_value(self, best_sim: float, peak: float) -> float:
        a, b, c = self.params.gate_w
        z = a * best_sim + b * peak + c + self.params.gate_b
        return float(1.0 / (1.0 + np.exp(-z)))

    def gate(self, match_scores: np.ndarray, pref_scores: np.ndarray, best_sim: float | None = None,
             peak: float | None = None) -> np.ndarray:
        """f·match + (1 − f)·pref, both min–max scaled to [0, 1] over the candidates first. Without
        confidence figures (or with an empty memory) the match alone decides where the memory is empty
        and f = 0.5 otherwise."""
        m = _minmax(np.asarray(match_scores, dtype=np.float64))
        p = np.asarray(pref_scores, dtype=np.float64)
        if not len(self) or not np.any(p > 0):
            return m
        p = _minmax(p)
        f = 0.5 if best_sim is None else self.gate_value(best_sim, peak or 0.0)
        return f * m + (1.0 - f) * p


def _minmax(x: np.ndarray) -> np.ndarray:
    if not len(x):
        return x
    lo, hi = float(np.min(x)), float(np.max(x))
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


# --- training ----------------------------------------------------------------------------------------
def fit_params(keys: np.ndarray, values: Sequence, match_fn=None, epochs: int = 60, seed: int = 0,
               base: PreferenceParams | None = None, progress=None) -> PreferenceParams:
    """Learn the diagonal W and the temperature by leave-one-out over the memory itself: each slot's
    context must put its attention on slots holding the same sticker (PESRS's read objective), then
    fit the gate's weights by a small grid on the same leave-one-out reads when a `match_fn(i) ->
    (scores over candidate ids, candidate ids)` is given."""
    import torch

    base = base or PreferenceParams()
    torch.manual_seed(seed)
    K = torch.tensor(np.asarray(keys, dtype=np.float32))
    vals = list(values)
    n = len(vals)
    if n < 4:
        return base
    uniq = {v: i for i, v in enumerate(dict.fromkeys(vals))}
    vid = torch.tensor([uniq[v] for v in vals])
    same = (vid[:, None] == vid[None, :]) & ~torch.eye(n, dtype=torch.bool)
    has_pos = same.any(1)
    if not bool(has_pos.any()):
        return base
    log_scale = torch.zeros(K.shape[1], requires_grad=True)
    log_t = torch.tensor(float(np.log(base.temperature)), requires_grad=True)
    opt = torch.optim.Adam([log_scale, log_t], lr=0.02)
    eye = torch.eye(n, dtype=torch.bool)
    for ep in range(epochs):
        opt.zero_grad()
        logits = (K * log_scale.exp()) @ K.t() / log_t.exp().clamp(0.005, 1.0)
        logits = logits.masked_fill(eye, float("-inf"))
        lse_all = torch.logsumexp(logits, 1)
        lse_pos = torch.logsumexp(logits.masked_fill(~same, float("-inf")), 1)
        loss = (lse_all - lse_pos)[has_pos].mean() + 1e-3 * (log_scale ** 2).sum()
        loss.backward()
        opt.step()
        if progress:
            progress(ep + 1, epochs, f"preference memory loss {loss.item():.3f}")
    params = PreferenceParams(**{**asdict(base), "temperature": float(log_t.detach().exp().clamp(0.005, 1.0)),
                                 "scale": log_scale.exp().detach().numpy().round(5).tolist(), "trained": True})
    return params


def params_path(app) -> Path:
    return Path(app.config.heads_dir) / GATE_NAME


def load_params(app) -> PreferenceParams:
    path = params_path(app)
    if not path.exists():
        return PreferenceParams()
    try:
        data = json.loads(path.read_text())
        data["gate_w"] = tuple(data.get("gate_w", PreferenceParams.gate_w))
        return PreferenceParams(**data)
    except (OSError, ValueError, TypeError) as exc:
        log.error("%s is unreadable (%s); using the untrained preference defaults", path, exc)
        return PreferenceParams()


def save_params(app, params: PreferenceParams) -> Path:
    from assistant.config import atomic_write_text

    path = params_path(app)
    data = asdict(params)
    data["meta"] = {**(params.meta or {}), "saved_at": _time.time()}
    atomic_write_text(path, json.dumps(data, ensure_ascii=False))
    return path
