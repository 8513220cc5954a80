"""The app's own top-k index over the sticker vectors (text and image): exact where it is cheap,
an IVF index with a self-checked recall where a full scan would cost too much.

Why not a full scan everywhere: a query over 100k × 512-d float32 rows reads 205 MB; on the 2-core
machines this runs on that is memory-bandwidth bound at 5–10 ms quiet and several times that under
load, right at the 10 ms goal. Why not Chroma's HNSW: it returned recall@10 0.94 at 100k (0.10 on
uniform data) with the app's settings, and the suggester wants the true nearest stickers.

How it works:
- Below `EXACT_LIMIT` rows the index is a flat matrix and every search is exact.
- Above it, spherical k-means (sqrt(n) lists, trained on a sample) partitions the rows; rows are
  stored contiguously per list, a query scores the centroids, scans the `nprobe` nearest lists with
  one small matrix product each and ranks those candidates by their exact float32 cosine. Scores
  returned are always exact; only a neighbour in an unprobed list can be missed.
- `nprobe` is not guessed: after every (re)layout the index measures recall@10 on held-out queries
  (library rows with themselves excluded, midpoints between two random rows, and the last real
  queries it served, which carry the true query distribution such as CLIP text against images) and
  takes the smallest `nprobe` that reaches `TARGET_RECALL`. The measurement is exact and cheap: a
  true neighbour is found iff its list ranks below `nprobe` for that query. When reaching the target
  would scan more than `MAX_SCAN_SHARE` of the rows (data without cluster structure: uniform vectors,
  and real e5 sentence vectors of GoEmotions needed ~2/3 of the lists), the index falls back to a full
  scan: it never trades recall for speed it cannot deliver. Full scans of `HALF_SCAN_MIN` rows or more
  read a float16 copy (torch, one thread; ~2.3x faster than NumPy's float32 sgemv here) and re-rank
  the best 4k + 64 candidates by their exact float32 cosine.
- Incremental: `upsert` appends to a small exact-scanned tail; `remove` and `set_hidden` flip flags.
  When the tail outgrows `TAIL_SHARE` of the rows the index re-lays out (tail rows go to their nearest
  list, removed rows are dropped) and re-checks recall; it retrains when the row count doubled.
- Hidden rows are kept (un-hiding must be instant) but never returned by `search`.
- `save`/`load` persist the laid-out rows (NumPy .npz, written atomically) so a restart does not pull
  every vector back out of Chroma; callers re-sync stamps afterwards.
"""

from __future__ import annotations

import io
import logging
import math
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

EXACT_LIMIT = 20_000  # below this a full scan is ~1 ms: exact and no training
TARGET_RECALL = 0.99  # recall@10 the chosen nprobe must reach on the held-out check (goal: 0.98)
CHECK_K = 10
MAX_SCAN_SHARE = 0.4  # an IVF that must scan more than this of the rows is slower than it is worth
HALF_SCAN_MIN = EXACT_LIMIT  # full scans of at least this many rows read a float16 copy, then re-rank
TAIL_SHARE = 0.05  # re-layout when the unassigned tail holds more than this share of the rows
TAIL_MIN = 2_000  # ... and at least this many rows (a tail this small costs ~0.1 ms per query)
TRAIN_PER_LIST = 64  # k-means sample: rows per list (FAISS warns below 39)
KMEANS_ITERS = 12
OBSERVED_KEEP = 200  # recent real queries kept for the recall check
FORMAT = 1
_CHUNK = 8192


class IndexFileError(Exception):
    """A persisted index that cannot be used (damaged, other format or width); rebuild it."""


class VectorIndex:
    """Top-k by inner product over unit vectors keyed by int ids (sticker ids). Not thread-safe for
    writers: the Suggester updates it under its own lock; searches only read."""

    def __init__(self, dim: int, *, exact_limit: int = EXACT_LIMIT, target_recall: float = TARGET_RECALL,
                 seed: int = 0) -> None:
        self.dim = int(dim)
        self.exact_limit = exact_limit
        self.target_recall = target_recall
        self.seed = seed
        # Main part: rows laid out per IVF list (or in any order when flat).
        self._vecs = np.zeros((0, self.dim), np.float32)
        self._ids = np.zeros(0, np.int64)
        self._stamps = np.zeros(0, np.float64)
        self._hidden = np.zeros(0, bool)
        self._dead = np.zeros(0, bool)
        # Tail: rows added since the last layout, scanned exactly.
        self._tail_vecs = np.zeros((0, self.dim), np.float32)
        self._tail_ids = np.zeros(0, np.int64)
        self._tail_stamps = np.zeros(0, np.float64)
        self._tail_hidden = np.zeros(0, bool)
        self._tail_dead = np.zeros(0, bool)
        self._tail_n = 0
        self._pos: dict[int, int] = {}  # id -> position; positions >= len(main) are tail rows
        self._n_dead = 0
        self._n_hidden = 0
        # IVF structure (None when flat).
        self.centroids: np.ndarray | None = None
        self._offsets = np.zeros(1, np.int64)
        self.nprobe = 0
        self.trained_rows = 0
        self.check: dict = {}  # the last recall check: recall, nprobe, scan share, queries
        self._observed: list[np.ndarray] = []
        self._half = None  # torch float16 copy of the main rows for the full scan (built lazily)
        self._refused_at = 0  # row count at which the recall check last found no IVF worth having
        self.served_since_check = 0  # real queries served since the last recall check

    # --- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, ids, vectors, stamps=None, *, hidden=None, **kwargs) -> "VectorIndex":
        """An index over these rows, laid out (and trained and checked when large) at once. Holds one
        normalised copy of the vectors (plus one transient copy while laying out)."""
        vectors = np.array(vectors, dtype=np.float32, copy=True)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a matrix, got shape {vectors.shape}")
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(set(ids.tolist())) != len(ids):
            raise ValueError("duplicate ids")
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        index = cls(vectors.shape[1], **kwargs)
        n = len(ids)
        index._vecs, index._ids = vectors, ids
        index._stamps = np.zeros(n) if stamps is None else np.asarray(stamps, dtype=np.float64).reshape(-1)
        index._hidden = np.zeros(n, bool) if hidden is None else np.asarray(hidden, dtype=bool).reshape(-1)
        index._dead = np.zeros(n, bool)
        index.relayout(retrain=True)
        return index

    @property
    def mode(self) -> str:
        return "flat" if self.centroids is None else "ivf"

    def __len__(self) -> int:
        return len(self._pos)

    def __contains__(self, sticker_id: int) -> bool:
        return int(sticker_id) in self._pos

    def stamps(self) -> dict[int, float]:
        """id -> the stamp given with its vector (the catalog's indexed_at), to find stale rows."""
        m = len(self._ids)
        out = {}
        for i, p in self._pos.items():
            out[i] = float(self._stamps[p] if p < m else self._tail_stamps[p - m])
        return out

    def upsert(self, ids, vectors, stamps=None, *, hidden=None, relayout: bool = True) -> None:
        """Add rows or replace the vectors of ids already present (normalised here)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1) if len(ids) else \
            np.zeros((0, self.dim), np.float32)
        if len(ids) and vectors.shape[1] != self.dim:
            raise ValueError(f"vectors are {vectors.shape[1]}-d, this index holds {self.dim}-d")
        if len(set(ids.tolist())) != len(ids):
            raise ValueError("duplicate ids in one upsert")
        if not len(ids):
            return
        stamps = np.zeros(len(ids)) if stamps is None else np.asarray(stamps, dtype=np.float64).reshape(-1)
        hidden = np.zeros(len(ids), bool) if hidden is None else np.asarray(hidden, dtype=bool).reshape(-1)
        self._drop(ids)
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        need = self._tail_n + len(ids)
        if need > len(self._tail_vecs):
            cap = max(need, 2 * len(self._tail_vecs), 256)
            self._tail_vecs = _grow(self._tail_vecs, cap, self._tail_n)
            self._tail_ids = _grow(self._tail_ids, cap, self._tail_n)
            self._tail_stamps = _grow(self._tail_stamps, cap, self._tail_n)
            self._tail_hidden = _grow(self._tail_hidden, cap, self._tail_n)
            self._tail_dead = _grow(self._tail_dead, cap, self._tail_n)
        a, b = self._tail_n, need
        self._tail_vecs[a:b] = vectors
        self._tail_ids[a:b] = ids
        self._tail_stamps[a:b] = stamps
        self._tail_hidden[a:b] = hidden
        self._tail_dead[a:b] = False
        self._tail_n = b
        m = len(self._ids)
        for j, i in enumerate(ids.tolist()):
            self._pos[i] = m + a + j
        self._n_hidden += int(hidden.sum())
        if relayout:
            self.maintain()

    def maintain(self) -> bool:
        """Re-lay out when the tail or the removed rows outgrow `TAIL_SHARE` of the rows (each costs
        scan time); True when it did. Batch writers upsert with relayout=False and call this once."""
        limit = max(TAIL_MIN, TAIL_SHARE * max(len(self), 1))
        if self._tail_n > limit or self._n_dead > limit:
            self.relayout()
            return True
        return False

    def remove(self, ids, *, relayout: bool = True) -> None:
        """Forget these ids (absent ones are ignored)."""
        self._drop(np.asarray(list(ids), dtype=np.int64).reshape(-1))
        if relayout:
            self.maintain()

    def set_hidden(self, ids, hidden: bool = True) -> None:
        """Hidden rows stay indexed but are never returned by `search`."""
        m = len(self._ids)
        for i in ids:
            p = self._pos.get(int(i))
            if p is None:
                continue
            arr, q = (self._hidden, p) if p < m else (self._tail_hidden, p - m)
            if arr[q] != hidden:
                arr[q] = hidden
                self._n_hidden += 1 if hidden else -1

    def hidden_ids(self) -> set[int]:
        m = len(self._ids)
        return {i for i, p in self._pos.items() if (self._hidden[p] if p < m else self._tail_hidden[p - m])}

    def _drop(self, ids: np.ndarray) -> None:
        m = len(self._ids)
        for i in ids.tolist():
            p = self._pos.pop(int(i), None)
            if p is None:
                continue
            if p < m:
                self._dead[p] = True
                if self._hidden[p]:
                    self._n_hidden -= 1
                self._n_dead += 1
            else:
                self._tail_dead[p - m] = True
                if self._tail_hidden[p - m]:
                    self._n_hidden -= 1
                self._n_dead += 1

    def relayout(self, retrain: bool = False) -> None:
        """Fold the tail into the lists and drop removed rows; retrain the lists when asked, when the
        size crossed the exact limit either way, or when it doubled since training. Then re-check
        recall and choose nprobe (or fall back to flat)."""
        t = self._tail_n
        if t == 0 and not self._dead.any():
            vecs, ids, stamps, hidden = self._vecs, self._ids, self._stamps, self._hidden
        else:
            keep = ~self._dead
            tkeep = ~self._tail_dead[:t]
            vecs = np.concatenate([self._vecs[keep], self._tail_vecs[:t][tkeep]])
            ids = np.concatenate([self._ids[keep], self._tail_ids[:t][tkeep]])
            stamps = np.concatenate([self._stamps[keep], self._tail_stamps[:t][tkeep]])
            hidden = np.concatenate([self._hidden[keep], self._tail_hidden[:t][tkeep]])
            self._vecs = self._tail_vecs = None  # free the old copies before the layout makes its own
        n = len(ids)
        # Structureless rows stay structureless as they grow: after a refusal, train again only once
        # the row count has doubled (or when asked).
        want_ivf = n >= self.exact_limit and (retrain or n >= 2 * self._refused_at)
        if want_ivf and (retrain or self.centroids is None or n >= 2 * max(self.trained_rows, 1)
                         or n < self.trained_rows // 2):
            self.centroids = _spherical_kmeans(vecs, _nlist(n), self.seed)
            self.trained_rows = n
        elif not want_ivf:
            self.centroids = None
            self.trained_rows = 0
        if self.centroids is not None:
            labels = _assign(vecs, self.centroids)
            order = np.argsort(labels, kind="stable")
            ids, stamps, hidden = ids[order], stamps[order], hidden[order]
            self._vecs = None
            vecs = vecs[order]
            counts = np.bincount(labels, minlength=len(self.centroids))
            self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        else:
            self._offsets = np.array([0, n], np.int64)
        self._vecs = np.ascontiguousarray(vecs)
        self._half = None
        self._ids, self._stamps, self._hidden = ids, stamps, hidden
        self._dead = np.zeros(n, bool)
        self._tail_n = 0
        self._tail_vecs = np.zeros((0, self.dim), np.float32)
        for name in ("_tail_ids", "_tail_stamps", "_tail_hidden", "_tail_dead"):
            setattr(self, name, getattr(self, name)[:0])
        self._pos = dict(zip(ids.tolist(), range(n)))
        self._n_dead = 0
        self._n_hidden = int(hidden.sum())
        self.check = {}
        if self.centroids is not None:
            self._choose_nprobe()

    # --- recall check ---------------------------------------------------------------------------
    def _check_queries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Held-out queries, for each the main-part position to exclude (-1 for none), and its group
        (0: library rows, 1: midpoints of two rows, 2: real queries served); each group must reach
        the target on its own, so easy queries cannot hide hard ones."""
        rng = np.random.default_rng(self.seed + 1)
        n = len(self._ids)
        own = rng.choice(n, size=min(100, n), replace=False)
        a, b = rng.integers(0, n, size=(2, 100))
        mid = self._vecs[a] + self._vecs[b]
        mid /= np.maximum(np.linalg.norm(mid, axis=1, keepdims=True), 1e-12)
        parts = [self._vecs[own], mid]
        skip = [own, np.full(len(mid), -1)]
        group = [np.zeros(len(own), np.int64), np.ones(len(mid), np.int64)]
        if self._observed:
            obs = np.stack(self._observed)
            parts.append(obs)
            skip.append(np.full(len(obs), -1))
            group.append(np.full(len(obs), 2))
        return np.concatenate(parts).astype(np.float32), np.concatenate(skip), np.concatenate(group)

    def recheck(self) -> None:
        """Re-run the recall check with the queries served since (no re-layout): callers do this off
        the query path once enough real queries have been seen (`served_since_check`)."""
        if self.centroids is not None:
            if self._tail_n or self._n_dead:
                self.relayout()
            else:
                self._choose_nprobe()

    def _choose_nprobe(self) -> None:
        self.served_since_check = 0
        q, skip, group = self._check_queries()
        n, nlist = len(self._ids), len(self.centroids)
        k = min(CHECK_K, n - 1)
        truth = np.empty((len(q), k), np.int64)
        for s in range(0, len(q), 32):
            sc = q[s:s + 32] @ self._vecs.T
            rows = np.arange(len(sc))
            own = skip[s:s + 32]
            sc[rows[own >= 0], own[own >= 0]] = -np.inf  # a row is not its own held-out neighbour
            truth[s:s + 32] = np.argpartition(-sc, k - 1, axis=1)[:, :k]
        list_of = np.repeat(np.arange(nlist), np.diff(self._offsets))
        rank = np.empty((len(q), nlist), np.int64)
        order = np.argsort(-(q @ self.centroids.T), axis=1)
        np.put_along_axis(rank, order, np.arange(nlist)[None, :].repeat(len(q), 0), axis=1)
        need = np.take_along_axis(rank, list_of[truth], axis=1)  # a neighbour is found iff nprobe > need
        nprobe = 1
        for g in np.unique(group):
            flat = np.sort(need[group == g].reshape(-1))
            nprobe = max(nprobe, int(flat[max(0, math.ceil(self.target_recall * len(flat)) - 1)]) + 1)
        nprobe = min(nprobe, nlist)
        sizes = np.diff(self._offsets)
        share = float(sizes[order[:, :nprobe]].sum(axis=1).mean() / max(n, 1))
        recall = min(float((need[group == g] < nprobe).mean()) for g in np.unique(group))
        self.check = {"recall": recall, "nprobe": nprobe, "nlist": nlist, "scan_share": share,
                      "queries": len(q), "observed": len(self._observed)}
        if share > MAX_SCAN_SHARE:
            log.info("vector index: recall %.3f needs %d of %d lists (%.0f%% of rows); exact scan instead",
                     self.target_recall, nprobe, nlist, 100 * share)
            self.centroids = None
            self._offsets = np.array([0, n], np.int64)
            self.check["fallback"] = "flat"
            self._refused_at = n
            self.nprobe = 0
        else:
            self.nprobe = nprobe

    # --- searching ------------------------------------------------------------------------------
    def search(self, query, k: int = 10, *, record: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The k visible ids nearest to `query` (cosine), best first, with their exact scores."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"query is {q.shape[0]}-d, this index holds {self.dim}-d")
        if record and q.any():
            self._observed.append(q / max(float(np.linalg.norm(q)), 1e-12))
            if len(self._observed) > OBSERVED_KEEP:
                del self._observed[0]
            self.served_since_check += 1
        if k <= 0 or not self._pos:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores, where = self._main_candidates(q, k)
        t = self._tail_n
        if t:
            ts = self._tail_vecs[:t] @ q
            bad = self._tail_dead[:t] | self._tail_hidden[:t]
            if bad.any():
                ts = np.where(bad, -np.inf, ts)
            scores = np.concatenate([scores, ts])
            where = np.concatenate([where, len(self._ids) + np.arange(t)])
        ok = np.isfinite(scores)
        if not ok.all():
            scores, where = scores[ok], where[ok]
        if len(scores) > k:
            part = np.argpartition(-scores, k - 1)[:k]
            scores, where = scores[part], where[part]
        order = np.argsort(-scores, kind="stable")
        scores, where = scores[order], where[order]
        m = len(self._ids)
        ids = np.empty(len(where), np.int64)
        main = where < m
        ids[main] = self._ids[where[main]]
        ids[~main] = self._tail_ids[where[~main] - m]
        return ids, scores.astype(np.float32)

    def _main_candidates(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        m = len(self._ids)
        if m == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        bad_any = self._n_dead or self._n_hidden
        if self.centroids is None:
            if m >= HALF_SCAN_MIN and self._half_copy() is not None:
                return self._half_scan(q, k, bad_any)
            s = self._vecs @ q
            if bad_any:
                s = np.where(self._dead | self._hidden, -np.inf, s)
            return s, np.arange(m)
        nlist = len(self.centroids)
        cs = self.centroids @ q
        nprobe = self.nprobe
        want = k
        while True:
            probe = np.argpartition(-cs, nprobe - 1)[:nprobe] if nprobe < nlist else np.arange(nlist)
            starts, ends = self._offsets[probe], self._offsets[probe + 1]
            total = int((ends - starts).sum())
            scores = np.empty(total, np.float32)
            where = np.empty(total, np.int64)
            o = 0
            for a, b in zip(starts.tolist(), ends.tolist()):
                if b > a:
                    np.dot(self._vecs[a:b], q, out=scores[o:o + b - a])
                    where[o:o + b - a] = np.arange(a, b)
                    o += b - a
            usable = total
            if bad_any:
                bad = self._dead[where] | self._hidden[where]
                if bad.any():
                    scores[bad] = -np.inf
                    usable = total - int(bad.sum())
                if nprobe == self.nprobe:
                    # The check calibrated nprobe with every row visible. Hidden rows crowded near
                    # this query shrink its visible neighbourhood: scan on until at least half the
                    # visible rows an even spread of hidden ones would leave have been seen.
                    share = (self._n_hidden + self._n_dead) / m
                    want = max(k, int(0.5 * total * (1.0 - share)))
            if usable >= want or nprobe >= nlist:
                return scores, where
            # Too few visible rows in the probed lists (a large k, or many hidden ones nearby):
            # widen rather than return fewer or worse hits.
            nprobe = min(nlist, nprobe * 2)

    def _half_copy(self):
        """A float16 copy of the main rows as a torch tensor, or None without torch. Where the rows
        have no cluster structure an IVF cannot prune (real e5 sentence vectors need ~2/3 of the
        lists for recall 0.99), so large full scans read half the bytes instead: NumPy has no fast
        float16 product, torch's CPU kernel runs ~3x faster than float32 sgemv on these machines."""
        if self._half is None:
            try:
                import torch
            except ImportError:
                self._half = False
            else:
                self._half = torch.from_numpy(self._vecs).to(torch.float16)
        return self._half if self._half is not False else None

    def _half_scan(self, q: np.ndarray, k: int, bad_any: bool) -> tuple[np.ndarray, np.ndarray]:
        """Candidates by float16 score, then exact float32 cosines of the best 4k + 64: the float16
        error (~1e-3) is far below the score gap between the top 10 and rank 100 of real data."""
        import torch

        # One thread: with more, torch's OpenMP workers spin after the call and slow the NumPy steps
        # that follow (measured: argpartition 1 ms -> 12 ms); one thread is as fast for this product.
        threads = torch.get_num_threads()
        if threads != 1:
            torch.set_num_threads(1)
        try:
            approx = torch.mv(self._half, torch.from_numpy(q).to(torch.float16)).float().numpy()
        finally:
            if threads != 1:
                torch.set_num_threads(threads)
        if bad_any:
            approx[self._dead | self._hidden] = -np.inf
        c = min(len(approx), 4 * k + 64)
        cand = np.argpartition(-approx, c - 1)[:c] if c < len(approx) else np.arange(len(approx))
        cand = cand[np.isfinite(approx[cand])]
        return self._vecs[cand] @ q, cand

    def scores(self, ids, query) -> np.ndarray:
        """Exact cosines of these ids against `query` (NaN for ids without a vector here)."""
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        m = len(self._ids)
        pos = np.array([self._pos.get(int(i), -1) for i in ids], dtype=np.int64)
        out = np.full(len(pos), np.nan)
        main = (pos >= 0) & (pos < m)
        tail = pos >= m
        if main.any():
            out[main] = self._vecs[pos[main]] @ q
        if tail.any():
            out[tail] = self._tail_vecs[pos[tail] - m] @ q
        return out

    def vector(self, sticker_id: int) -> np.ndarray | None:
        p = self._pos.get(int(sticker_id))
        if p is None:
            return None
        m = len(self._ids)
        return (self._vecs[p] if p < m else self._tail_vecs[p - m]).copy()

    # --- persistence ----------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the index (tail folded in first) atomically; hidden flags are saved too, though the
        caller re-syncs them from the catalog after loading."""
        from assistant.config import atomic_write_bytes

        if self._tail_n or self._n_dead:
            self.relayout()
        buf = io.BytesIO()
        np.savez(buf, format=np.array([FORMAT, self.dim]), vecs=self._vecs, ids=self._ids, stamps=self._stamps,
                 hidden=self._hidden, offsets=self._offsets,
                 centroids=self.centroids if self.centroids is not None else np.zeros((0, self.dim), np.float32),
                 params=np.array([self.nprobe, self.trained_rows, self.exact_limit]),
                 observed=np.stack(self._observed) if self._observed else np.zeros((0, self.dim), np.float32))
        atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: Path, *, dim: int | None = None, **kwargs) -> "VectorIndex":
        """A saved index; IndexFileError (naming the file and the problem) when it cannot be used."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                fmt, d = (int(x) for x in z["format"])
                arrays = {name: z[name] for name in ("vecs", "ids", "stamps", "hidden", "offsets", "centroids",
                                                       "params", "observed")}
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - any damage means: rebuild from the vector store
            raise IndexFileError(f"{path}: not a readable vector index ({exc})") from exc
        if fmt != FORMAT:
            raise IndexFileError(f"{path}: index format {fmt}, this version reads {FORMAT}")
        if dim is not None and d != dim:
            raise IndexFileError(f"{path}: index holds {d}-d vectors, expected {dim}-d")
        a = arrays
        n = len(a["ids"])
        if (a["vecs"].shape != (n, d) or len(a["stamps"]) != n or len(a["hidden"]) != n
                or a["offsets"][-1] != n or a["centroids"].shape[1:] != (d,)
                or len(a["offsets"]) != max(len(a["centroids"]), 1) + 1 or len(set(a["ids"].tolist())) != n):
            raise IndexFileError(f"{path}: inconsistent vector index (sizes do not match)")
        index = cls(d, **kwargs)
        index._vecs = np.ascontiguousarray(a["vecs"], dtype=np.float32)
        index._ids = a["ids"].astype(np.int64)
        index._stamps = a["stamps"].astype(np.float64)
        index._hidden = a["hidden"].astype(bool)
        index._dead = np.zeros(n, bool)
        index._offsets = a["offsets"].astype(np.int64)
        index.centroids = a["centroids"].astype(np.float32) if len(a["centroids"]) else None
        index.nprobe, index.trained_rows, _ = (int(x) for x in a["params"])
        index._pos = dict(zip(index._ids.tolist(), range(n)))
        index._n_hidden = int(index._hidden.sum())
        index._observed = list(a["observed"].astype(np.float32))
        if index.centroids is not None and not 1 <= index.nprobe <= len(index.centroids):
            raise IndexFileError(f"{path}: nprobe {index.nprobe} out of range")
        return index


def _grow(arr: np.ndarray, cap: int, used: int) -> np.ndarray:
    out = np.zeros((cap,) + arr.shape[1:], dtype=arr.dtype)
    out[:used] = arr[:used]
    return out


def _nlist(n: int) -> int:
    """sqrt(n) lists: the centroid scan and the probed lists cost about the same."""
    return int(min(4096, max(16, round(math.sqrt(n)))))


def _assign(vecs: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    labels = np.empty(len(vecs), np.int64)
    for s in range(0, len(vecs), _CHUNK):
        labels[s:s + _CHUNK] = np.argmax(vecs[s:s + _CHUNK] @ centroids.T, axis=1)
    return labels


def _spherical_kmeans(vecs: np.ndarray, nlist: int, seed: int) -> np.ndarray:
    """k-means on the unit sphere (cosine), trained on a sample; empty lists are re-seeded."""
    rng = np.random.default_rng(seed)
    n = len(vecs)
    nlist = min(nlist, n)
    train = vecs[rng.choice(n, size=min(n, nlist * TRAIN_PER_LIST), replace=False)]
    cent = train[rng.choice(len(train), size=nlist, replace=False)].copy()
    for _ in range(KMEANS_ITERS):
        labels = _assign(train, cent)
        sums = np.zeros_like(cent)
        _sum_by_label(train, labels, sums)
        counts = np.bincount(labels, minlength=nlist)
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            sums[empty] = train[rng.choice(len(train), size=len(empty), replace=False)]
        cent = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return cent.astype(np.float32)


def _sum_by_label(x: np.ndarray, labels: np.ndarray, out: np.ndarray) -> None:
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    out[lab[starts]] = np.add.reduceat(x[order], starts, axis=0)
