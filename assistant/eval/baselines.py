"""Baselines every method is measured against, each a function of the benchmark features that returns
one score per pool sticker per evaluated sample (higher = better).

random (seeded), most-used (training-split counts), BM25 over the stickers' words
(`retrieval/lexical.py`, the Suggester's own literal term), embedder
text match (context ↔ the sticker's words; stickers without words score lowest), CLIP zero-shot
(context text ↔ sticker image, when CLIP and images are available) and kNN (the nearest training
contexts vote for the stickers they were answered with).
"""

from __future__ import annotations

from collections import Counter

import numpy as np


def random_scores(n_samples: int, n_pool: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n_samples, n_pool))


def most_used_scores(n_samples: int, pool_ids: list[str], train_stickers: list[str]) -> np.ndarray:
    counts = Counter(train_stickers)
    row = np.array([counts.get(i, 0) for i in pool_ids], dtype=np.float64)
    return np.tile(row, (n_samples, 1))


def text_match_scores(ctx: np.ndarray, word_vecs: np.ndarray, has_words: np.ndarray) -> np.ndarray:
    s = ctx @ word_vecs.T
    s[:, ~has_words] = -2.0
    return s


def knn_scores(ctx: np.ndarray, train_ctx: np.ndarray, train_stickers: list[str], pool_index: dict,
               k: int = 30, temperature: float = 0.05) -> np.ndarray:
    """Softmax-weighted votes of the k nearest training contexts for their stickers."""
    out = np.zeros((len(ctx), len(pool_index)))
    if not len(train_ctx):
        return out
    sims = ctx @ train_ctx.T
    k = min(k, sims.shape[1])
    for i in range(len(ctx)):
        idx = np.argpartition(-sims[i], k - 1)[:k]
        w = np.exp((sims[i, idx] - sims[i, idx].max()) / temperature)
        for j, wj in zip(idx, w):
            out[i, pool_index[train_stickers[j]]] += wj
    return out
