"""Top-10 vector search: the app's own index (assistant/retrieval/vector_index.py) vs NumPy brute force
(what rclip does), FAISS flat, FAISS IVF with the app's nlist/nprobe, and Chroma HNSW as the app
configures it, with recall@10 against exact search.

Honest recall: queries are never indexed rows. Clustered data (low intrinsic dimension, as sticker
embeddings group by pack, style and intent) is generated in one draw and the queries split off;
uniform random unit vectors are the worst case for any partitioning index and are reported too.
Latency per query: each method runs over all the queries in a block, blocks alternating order over two
rounds (one at 1M), in one process under the same load; medians and p95 reported.
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.common import percentile, table

DIM = 512
K = 10
GOEMOTIONS = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "goemotions"
GOAL_MS, GOAL_RECALL = 10.0, 0.98


def clustered(n: int, dim: int = DIM, seed: int = 0, centers: int = 500, intrinsic: int = 48) -> np.ndarray:
    """Unit vectors around `centers` clusters on a random `intrinsic`-d subspace plus isotropic noise;
    built in float32 chunks so 1M rows peak near their own 2 GB."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((intrinsic, dim), dtype=np.float32)
    c = rng.standard_normal((centers, intrinsic), dtype=np.float32) * 2.0
    labels = rng.integers(0, centers, size=n)
    x = np.empty((n, dim), np.float32)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        z = c[labels[s:e]] + rng.standard_normal((e - s, intrinsic), dtype=np.float32)
        x[s:e] = z @ basis + 0.3 * rng.standard_normal((e - s, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def uniform(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def dataset(gen, n: int, nq: int) -> tuple[np.ndarray, np.ndarray]:
    """n indexed rows and nq held-out queries from the same distribution (one draw, split)."""
    x = gen(n + nq)
    return x[:n], np.ascontiguousarray(x[n:])


def exact_topk(base: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    out = np.empty((len(q), k), np.int64)
    for s in range(0, len(q), 50):
        sc = q[s:s + 50] @ base.T
        idx = np.argpartition(-sc, k, axis=1)[:, :k]
        order = np.take_along_axis(sc, idx, axis=1).argsort(axis=1)[:, ::-1]
        out[s:s + 50] = np.take_along_axis(idx, order, axis=1)
    return out


def recall(found, truth: np.ndarray) -> float:
    return float(np.mean([len(set(np.asarray(f).tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


# --- methods: each returns (search(q) -> ids, build seconds, note) --------------------------------

def numpy_method(base):
    def search(q):
        s = base @ q
        idx = np.argpartition(-s, K)[:K]
        return idx[np.argsort(-s[idx])]
    return search, 0.0, "exact"


def app_method(base):
    from assistant.retrieval.vector_index import VectorIndex

    t0 = time.perf_counter()
    index = VectorIndex.build(np.arange(len(base)), base)
    build = time.perf_counter() - t0
    c = index.check
    if index.mode == "ivf":
        note = f"IVF nlist {c['nlist']}, nprobe {c['nprobe']}, scans {100 * c['scan_share']:.1f}%, checked {c['recall']:.3f}"
    elif c.get("fallback"):
        note = (f"IVF would need nprobe {c['nprobe']}/{c['nlist']} ({100 * c['scan_share']:.0f}% of rows): "
                "float16 scan (torch, 1 thread) + exact re-rank of 4k+64")
    else:
        note = "exact scan (below 20k rows)"

    def search(q):
        return index.search(q, K, record=False)[0]
    return search, build, note, index


def faiss_flat_method(base):
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    t0 = time.perf_counter()
    index.add(base)
    build = time.perf_counter() - t0

    def search(q):
        return index.search(q[None, :], K)[1][0]
    return search, build, "exact"


def faiss_ivf_method(base, nlist: int, nprobe: int):
    import faiss

    quant = faiss.IndexFlatIP(base.shape[1])
    index = faiss.IndexIVFFlat(quant, base.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    index.train(base)
    index.add(base)
    build = time.perf_counter() - t0
    index.nprobe = nprobe

    def search(q):
        return index.search(q[None, :], K)[1][0]
    return search, build, f"same nlist {nlist} / nprobe {nprobe}", index


def chroma_method(base, td: str):
    from assistant.memory.bank import Bank

    bank = Bank(path=Path(td))
    t0 = time.perf_counter()
    bank.upsert("bench", [str(i) for i in range(len(base))], base, batch=5000)
    build = time.perf_counter() - t0

    def search(q):
        return [int(h.id) for h in bank.query("bench", q, k=K)]
    return search, build, f"inserts {len(base) / build:,.0f}/s"


def measure(methods: dict, queries: np.ndarray, rounds: int = 2) -> dict:
    """Per-method latencies and results. Each method runs over all the queries in a block (FAISS's
    OpenMP threads spin after a call and would slow whichever method ran next if calls were
    interleaved), the blocks alternate order over `rounds` so load drift hits every method alike."""
    lat = {name: [] for name in methods}
    res = {}
    names = list(methods)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            search = methods[name]
            for q in queries[:3]:
                search(q)
            out = []
            for q in queries:
                t0 = time.perf_counter()
                out.append(search(q))
                lat[name].append(time.perf_counter() - t0)
            res[name] = out
    return {name: (lat[name], res[name]) for name in methods}


def real_e5_rows(nq: int = 200) -> list[list[str]]:
    """Real embeddings: GoEmotions dev lines as e5 passages (the library) and held-out test lines as
    e5 queries, so the vectors are real, anisotropic 384-d ones and queries are of the other type, as
    in the app (a chat context against sticker passages). 5.4k rows is below the exact limit, so the
    IVF is forced (exact_limit 1,000) to check its recall check on real data. Vectors go through the
    features cache (first run embeds ~5.6k lines, later runs read them)."""
    import csv

    from assistant.ml.embedder import get_embedder
    from assistant.ml.features import text_features
    from assistant.retrieval.vector_index import VectorIndex

    def lines(name):
        with open(GOEMOTIONS / name, encoding="utf-8") as fh:
            return [r[0] for r in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE) if r]

    emb = get_embedder()
    base = text_features(emb, lines("dev.tsv"), "passage")
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    queries = text_features(emb, lines("test.tsv")[:nq], "query")
    truth = exact_topk(base, queries)
    t0 = time.perf_counter()
    index = VectorIndex.build(np.arange(len(base)), base, exact_limit=1_000)
    build = time.perf_counter() - t0
    c = index.check
    label = f"{len(base) / 1e3:.1f}k real e5 (GoEmotions)"
    np_search = numpy_method(base)[0]
    got = measure({"app": lambda q: index.search(q, K, record=False)[0], "np": np_search}, queries)
    (lat, res), (np_lat, np_res) = got["app"], got["np"]
    note = (f"IVF forced: nlist {c['nlist']}, nprobe {c['nprobe']}, scans {100 * c['scan_share']:.1f}%, "
            f"checked {c['recall']:.3f}" if index.mode == "ivf" else "IVF forced, fell back to the exact scan")
    return [[label, "app index (IVF forced)", f"{percentile(lat, 50) * 1e3:.2f}", f"{percentile(lat, 95) * 1e3:.2f}",
             f"{recall(res, truth):.3f}", f"{build:.1f}", note],
            [label, "NumPy brute force", f"{percentile(np_lat, 50) * 1e3:.2f}", f"{percentile(np_lat, 95) * 1e3:.2f}",
             f"{recall(np_res, truth):.3f}", "-", "exact"]]


def run(quick: bool = False) -> str:
    try:
        import faiss  # noqa: F401
        have_faiss = True
    except ImportError:
        have_faiss = False
    sets = [("10k clustered", clustered, 10_000), ("10k uniform", uniform, 10_000),
            ("100k clustered", clustered, 100_000)]
    if not quick:
        sets += [("100k uniform (worst case)", uniform, 100_000), ("1M clustered", clustered, 1_000_000)]
    nq = 60 if quick else 200
    rows, goal = [], ""
    load = os.getloadavg()[0]
    for label, gen, n in sets:
        base, queries = dataset(gen, n, nq)
        truth = exact_topk(base, queries)
        search, build, note, index = app_method(base)
        specs = {"app index (vector_index.py)": (search, build, note), "NumPy brute force": numpy_method(base)}
        if have_faiss:
            specs["FAISS IndexFlatIP"] = faiss_flat_method(base)
            if index.mode == "ivf":
                f = faiss_ivf_method(base, index.check["nlist"], index.check["nprobe"])
                specs["FAISS IndexIVFFlat"] = f[:3]
        td = None
        # Chroma at 100k uniform: HNSW degrades to ~320 inserts/s there (a 5-minute build, 40% of the whole
        # `make bench`); its worst case shows at 10k uniform already, and PERF-ANCHORS has the 100k figure.
        if (label == "10k clustered") if quick else (n <= 100_000 and not (n == 100_000 and gen is uniform)):
            td = tempfile.TemporaryDirectory()
            specs["Chroma HNSW (app settings)"] = chroma_method(base, td.name)
        fns = {name: spec[0] for name, spec in specs.items()}
        got = measure(fns, queries, rounds=1 if n >= 1_000_000 else 2)
        for name, (lat, res) in got.items():
            _, build, note = specs[name]
            r = recall(res, truth)
            rows.append([label, name, f"{percentile(lat, 50) * 1e3:.2f}", f"{percentile(lat, 95) * 1e3:.2f}",
                         f"{r:.3f}", f"{build:.1f}" if build else "-", note])
        if n == 100_000 and gen is clustered:
            app_lat, app_res = got["app index (vector_index.py)"]
            np_lat = got["NumPy brute force"][0]
            p50, r = percentile(app_lat, 50) * 1e3, recall(app_res, truth)
            met = "met" if p50 <= GOAL_MS and r >= GOAL_RECALL else "NOT met"
            goal = (f"**Goal (100k clustered): p50 ≤ {GOAL_MS:g} ms with recall@10 ≥ {GOAL_RECALL}: {met}** — "
                    f"app index p50 {p50:.2f} ms, recall@10 {r:.3f}; "
                    f"{percentile(np_lat, 50) / max(percentile(app_lat, 50), 1e-9):.0f}× faster than the "
                    f"NumPy brute force measured alongside ({percentile(np_lat, 50) * 1e3:.2f} ms).")
        if n >= 1_000_000:
            rows.append([label, "Chroma HNSW (app settings)", "skipped", "", "", "",
                         "a 1M build takes ~13 min and ~32 GB here (PERF-ANCHORS)"])
        elif not quick and n == 100_000 and gen is uniform:
            rows.append([label, "Chroma HNSW (app settings)", "skipped", "", "", "",
                         "a 5-min build here (~320 inserts/s); last measured 11.99 ms p50, recall@10 0.237; "
                         "PERF-ANCHORS: recall 0.10 with defaults"])
        if td is not None:
            td.cleanup()
        del base, queries, specs, fns, got, index
        gc.collect()
    if not quick and GOEMOTIONS.exists():
        try:
            rows += real_e5_rows()
        except Exception as exc:  # noqa: BLE001 - the embedder may be absent; the synthetic rows stand
            rows.append(["real e5 (GoEmotions)", "skipped", "", "", "", "", f"{type(exc).__name__}: {exc}"])
    return ("### Vector search (top-10, 512-d; real e5 rows 384-d)\n\n"
            + table(["vectors", "method", "p50 ms", "p95 ms", "recall@10", "build s", "notes"], rows)
            + f"\n\n{goal}\n\n"
              f"Queries ({nq}) are held out from the indexed rows (same distribution); recall is against exact "
              "search. The app index is what the Suggester uses for text and image candidates up to 150k "
              "stickers: exact below 20k rows; above, IVF whose nprobe is the smallest reaching recall@10 "
              "≥ 0.99 on its own held-out check (library rows minus themselves, midpoints, real queries "
              "served); when that would read > 40% of the rows (uniform data, real e5 sentence vectors) "
              "it scans a float16 copy instead and re-ranks the best 4k+64 exactly. Scores it returns "
              "are exact float32 cosines. Each method runs in blocks over all queries, "
              f"alternating order over two rounds (one at 1M). Load average at start: {load:.1f} on {os.cpu_count()} cores.\n")


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
