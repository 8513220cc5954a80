"""Retrieval metrics exactly as DESIGN.md defines them.

Every method hands in one score per pool sticker per sample; one ordering is derived from the scores
and every metric reads that ordering, so no metric can disagree with another about where a sticker
stands. Ties are broken by a seeded random permutation of the pool (the same for every method), never by
file order: benchmark files are often grouped by intent, and index order would quietly favour flat
scorers.

- P@1/3/5 (IGSR): a sample scores when any of the top k stickers has the ground-truth sticker's intent
  (so P@k rises with k, as in the paper's tables).
- mAP@100: average precision over the top 100 with "same intent" as relevant, normalised by the
  number of relevant stickers retrieved in those 100 (0 when none), averaged over samples — the
  AP@K most retrieval code reports, and the one the project's reference figures were measured with.
- R@1/5/10 and MRR: the exact ground-truth sticker, over the whole pool.
- R10@1/2/5 (PESRS): the ground truth plus 9 negatives sampled from the pool (seeded per sample);
  the rank of the ground truth among those 10.
All values are percentages (0–100) except MRR, also reported ×100 for the table's readability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

METRICS = ["P@1", "P@3", "P@5", "mAP@100", "R@1", "R@5", "R@10", "MRR", "R10@1", "R10@2", "R10@5"]


@dataclass
class MetricAccumulator:
    """Collects per-sample results; `summary()` gives the means (×100)."""

    pool_intents: np.ndarray  # intent label per pool sticker (object array; None for unknown)
    seed: int = 0
    values: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in METRICS})

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.tie_perm = rng.permutation(len(self.pool_intents))
        self.n = 0

    def order(self, scores: np.ndarray) -> np.ndarray:
        """Pool indices best first; ties broken by the shared seeded permutation."""
        perm = self.tie_perm
        return perm[np.argsort(-np.asarray(scores, dtype=np.float64)[perm], kind="stable")]

    def add(self, scores: np.ndarray, gold: int) -> None:
        """One sample: `scores` over the pool, `gold` the index of the ground-truth sticker."""
        if len(scores) != len(self.pool_intents):
            raise ValueError(f"scores cover {len(scores)} stickers, the pool has {len(self.pool_intents)}")
        order = self.order(scores)
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        v = self.values
        gold_intent = self.pool_intents[gold]
        if gold_intent is not None:
            rel = self.pool_intents[order[:100]] == gold_intent
            for k in (1, 3, 5):
                v[f"P@{k}"].append(float(rel[:k].any()))
            hits = np.cumsum(rel)
            prec = hits / np.arange(1, len(rel) + 1)
            v["mAP@100"].append(float(np.sum(prec * rel) / hits[-1]) if hits[-1] else 0.0)
        rank = int(position[gold]) + 1
        for k in (1, 5, 10):
            v[f"R@{k}"].append(float(rank <= k))
        v["MRR"].append(1.0 / rank)
        rng = np.random.default_rng([self.seed, self.n])
        others = rng.choice(len(order) - 1, size=min(9, len(order) - 1), replace=False)
        others = np.where(others >= gold, others + 1, others)  # skip the gold index
        rank10 = 1 + int(np.sum(position[others] < position[gold]))
        for k in (1, 2, 5):
            v[f"R10@{k}"].append(float(rank10 <= k))
        self.n += 1

    def summary(self) -> dict[str, float]:
        return {m: (100.0 * float(np.mean(x)) if x else float("nan")) for m, x in self.values.items()}


def evaluate_scores(score_rows: Sequence[np.ndarray] | np.ndarray, gold: Sequence[int],
                    pool_intents: Sequence[str | None], seed: int = 0) -> dict[str, float]:
    """Convenience: all metrics for a (samples × pool) score matrix."""
    acc = MetricAccumulator(np.asarray(list(pool_intents), dtype=object), seed=seed)
    for row, g in zip(score_rows, gold):
        acc.add(np.asarray(row), int(g))
    return acc.summary()


def markdown_table(results: dict[str, dict[str, float]], metrics: Sequence[str] = METRICS,
                   title: str | None = None) -> str:
    """Methods × metrics as a Markdown table (one decimal)."""
    lines = []
    if title:
        lines += [f"### {title}", ""]
    lines.append("| method | " + " | ".join(metrics) + " |")
    lines.append("|---|" + "---:|" * len(metrics))
    for name, res in results.items():
        cells = [("—" if res.get(m) is None or res.get(m) != res.get(m) else f"{res[m]:.1f}") for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
