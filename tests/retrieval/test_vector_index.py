"""The app's vector index: exact below its limit, an IVF with a checked recall above it, kept in step
with the catalog by the Suggester. Real data paths throughout (real Chroma and SQLite for the sync)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.retrieval.vector_index import IndexFileError, VectorIndex


def clustered(n: int, dim: int = 64, seed: int = 0, centers: int = 60, intrinsic: int = 16) -> np.ndarray:
    """Unit vectors in clusters on a low-dimensional subspace, as real embeddings are. One seed for
    one distribution: take the queries from the same call and split them off."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(intrinsic, dim))
    c = rng.normal(size=(centers, intrinsic)) * 2.0
    z = c[rng.integers(0, centers, size=n)] + rng.normal(size=(n, intrinsic))
    x = (z @ basis + 0.3 * rng.normal(size=(n, dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact(base: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int, skip: set[int] = frozenset()) -> list[int]:
    s = base @ q
    order = [int(ids[j]) for j in np.argsort(-s, kind="stable") if int(ids[j]) not in skip]
    return order[:k]


def recall_at(index: VectorIndex, base, ids, queries, k=10, skip=frozenset()) -> float:
    got = [set(index.search(q, k, record=False)[0].tolist()) for q in queries]
    want = [set(exact(base, ids, q, k, skip)) for q in queries]
    return float(np.mean([len(g & w) / len(w) for g, w in zip(got, want)]))


@pytest.fixture(scope="module")
def ivf_data():
    x = clustered(12_200)
    base, queries = x[:12_000], x[12_000:]  # held out: the queries are not indexed rows
    ids = np.arange(12_000) * 3 + 7  # sticker ids are not row numbers
    index = VectorIndex.build(ids, base, exact_limit=4_000)
    return index, base, ids, queries


def test_small_library_is_exact_with_exact_scores():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(1500, 48)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    ids = rng.permutation(10_000)[:1500]
    index = VectorIndex.build(ids, base)
    assert index.mode == "flat" and len(index) == 1500
    for q in rng.normal(size=(20, 48)).astype(np.float32):
        q /= np.linalg.norm(q)
        got, scores = index.search(q, 12)
        assert got.tolist() == exact(base, ids, q, 12)
        assert np.allclose(scores, base[[list(ids).index(i) for i in got]] @ q, atol=1e-6)
        assert np.all(np.diff(scores) <= 0)


def test_ivf_recall_on_held_out_clustered_queries(ivf_data):
    index, base, ids, queries = ivf_data
    assert index.mode == "ivf"
    assert index.check["recall"] >= 0.99 and index.check["scan_share"] < 0.4  # it prunes, and checked
    assert recall_at(index, base, ids, queries) >= 0.98
    got, scores = index.search(queries[0], 10, record=False)
    assert np.allclose(scores, index.scores(got, queries[0]), atol=1e-6)  # scores are exact cosines


def test_structureless_data_falls_back_to_the_exact_scan():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(5000, 128)).astype(np.float32)  # uniform: no list structure to exploit
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    index = VectorIndex.build(np.arange(5000), base, exact_limit=1000)
    assert index.mode == "flat" and index.check["fallback"] == "flat"
    q = rng.normal(size=128).astype(np.float32)
    assert index.search(q, 10)[0].tolist() == exact(base, np.arange(5000), q, 10)
    # growing by less than double does not train (and refuse) again at every re-layout
    more = rng.normal(size=(2100, 128)).astype(np.float32)
    index.upsert(np.arange(5000, 7100), more)
    assert index._tail_n == 0 and index.mode == "flat" and "nprobe" not in index.check


def test_recall_check_widens_nprobe_for_the_queries_it_served():
    """Queries unlike the library's rows (as CLIP text is unlike images) can need more lists than the
    rows' own neighbourhoods; the recall check counts the queries the index served and widens nprobe
    until they too reach the target."""
    x = clustered(8000, seed=3)
    index = VectorIndex.build(np.arange(8000), x, exact_limit=2000)
    before = index.nprobe
    rng = np.random.default_rng(4)
    served = rng.normal(size=(400, 64)).astype(np.float32)  # directions with no cluster of their own
    served /= np.linalg.norm(served, axis=1, keepdims=True)
    for q in served[:200]:
        index.search(q, 10)
    assert index.served_since_check == 200
    index.recheck()
    assert index.check["observed"] == 200 and index.nprobe > before and index.served_since_check == 0
    assert recall_at(index, x, np.arange(8000), served[200:]) >= 0.98  # held out from the check too


def test_incremental_add_replace_remove(ivf_data):
    index, base, ids, queries = ivf_data
    index = VectorIndex.build(ids, base, exact_limit=4_000)
    q = queries[1]
    # add: a new id right on the query is the first hit, straight from the tail
    index.upsert([999_999], q[None, :], [5.0])
    assert index.search(q, 1)[0][0] == 999_999 and index.stamps()[999_999] == 5.0
    # replace: moved far away, it is gone from the top
    index.upsert([999_999], -q[None, :], [6.0])
    assert 999_999 not in index.search(q, 10)[0]
    # remove an indexed row that was a top hit
    top = int(index.search(q, 1)[0][0])
    index.remove([top, 123_456_789])  # an unknown id is ignored
    assert top not in index and top not in index.search(q, 50)[0]
    # many adds fold the tail into the lists (re-layout) and keep recall
    rng = np.random.default_rng(5)
    extra = clustered(3000, seed=0)[:3000] + 0.01 * rng.normal(size=(3000, 64)).astype(np.float32)
    new_ids = np.arange(3000) + 10_000_000
    index.upsert(new_ids, extra)
    assert index._tail_n == 0 and len(index) == 12_000 - 1 + 1 + 3000
    live = np.concatenate([base, extra / np.linalg.norm(extra, axis=1, keepdims=True)])
    live_ids = np.concatenate([ids, new_ids])
    assert recall_at(index, live, live_ids, queries[:100], skip={top}) >= 0.98
    # removing as many compacts the rows (dropped, not just flagged) and the lists stay right
    index.remove(new_ids.tolist())
    assert index._n_dead == 0 and len(index._ids) == len(index) == 12_000
    assert recall_at(index, base, ids, queries[:100], skip={top}) >= 0.98


def test_hidden_rows_are_never_returned_and_come_back_when_unhidden(ivf_data):
    index, base, ids, queries = ivf_data
    index = VectorIndex.build(ids, base, exact_limit=4_000)
    q = queries[2]
    top = index.search(q, 20)[0].tolist()
    index.set_hidden(top[:5])
    got = index.search(q, 20)[0].tolist()
    assert not set(top[:5]) & set(got) and got[:15] == top[5:]
    index.upsert([42], q[None, :], hidden=[True])  # hidden in the tail too
    assert 42 not in index.search(q, 20)[0]
    index.set_hidden(top[:5], False)
    assert index.search(q, 20)[0].tolist() == top
    assert index.hidden_ids() == {42}


def test_many_hidden_rows_near_a_query_still_give_k_visible_hits(ivf_data):
    index, base, ids, queries = ivf_data
    index = VectorIndex.build(ids, base, exact_limit=4_000)
    q = queries[3]
    near = index.search(q, 2000, record=False)[0].tolist()
    index.set_hidden(near)  # everything in the usually probed lists and more
    got = index.search(q, 10, record=False)[0].tolist()
    assert len(got) == 10 and not set(got) & set(near)
    want = exact(base, ids, q, 10, skip=set(near))
    assert len(set(got) & set(want)) >= 8


def test_save_load_round_trip_and_damaged_files(tmp_path, ivf_data):
    index, base, ids, queries = ivf_data
    path = tmp_path / "idx.npz"
    index.save(path)
    back = VectorIndex.load(path, dim=64)
    assert back.mode == index.mode and back.nprobe == index.nprobe and len(back) == len(index)
    for q in queries[:20]:
        a, sa = index.search(q, 10, record=False)
        b, sb = back.search(q, 10, record=False)
        assert a.tolist() == b.tolist() and np.allclose(sa, sb)
    with pytest.raises(IndexFileError, match="expected 32-d"):
        VectorIndex.load(path, dim=32)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(IndexFileError, match="bad.npz"):
        VectorIndex.load(bad)


def test_bad_input_is_refused_with_a_clear_message():
    index = VectorIndex(8)
    with pytest.raises(ValueError, match="4-d"):
        index.upsert([1], np.ones((1, 4)))
    with pytest.raises(ValueError, match="duplicate"):
        index.upsert([1, 1], np.ones((2, 8)))
    with pytest.raises(ValueError, match="3-d"):
        index.search(np.ones(3))
    assert index.search(np.ones(8))[0].tolist() == []  # empty index: no hits, no error


# --- the Suggester keeps its index in step with the catalog --------------------------------------

def test_suggester_index_matches_exact_search_over_the_store(demo_app):
    from assistant.memory.bank import STICKER_TEXTS
    from assistant.retrieval.suggest import Suggester

    demo_app.override("clip", None)
    sug = Suggester(demo_app)
    lib = sug.library()
    got = demo_app.bank.get(STICKER_TEXTS, include_embeddings=True)
    ids = np.array([int(i) for i in got["ids"]])
    mat = np.asarray(got["embeddings"], dtype=np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    q = demo_app.embedder.query(["thank you so much!"])[0]
    assert lib.text.search(q, 10, record=False)[0].tolist() == exact(mat, ids, q, 10)


def test_suggester_index_follows_hide_delete_and_store_changes(demo_app):
    from assistant.library import index as library_index
    from assistant.memory.bank import STICKER_TEXTS
    from assistant.retrieval.suggest import Suggester

    demo_app.override("clip", None)
    sug = Suggester(demo_app)
    first = sug.library().text
    all_ids = [int(r[0]) for r in demo_app.catalog.conn.execute("SELECT id FROM stickers ORDER BY id")]
    a, b, c = all_ids[:3]
    q = first.vector(a)
    with demo_app.catalog.transaction() as conn:
        conn.execute("UPDATE stickers SET hidden=1 WHERE id=?", (a,))
    text = sug.library().text
    assert text is first  # synced in place, not rebuilt
    assert a in text and a not in text.search(q, 50)[0]
    # a deleted sticker leaves the index
    library_index.remove(demo_app, [b])
    with demo_app.catalog.transaction() as conn:
        conn.execute("DELETE FROM stickers WHERE id=?", (b,))
    assert b not in sug.library().text
    # a vector removed from the store behind the catalog's back is noticed by the count check
    demo_app.bank.delete(STICKER_TEXTS, [str(c)])
    demo_app.catalog.set_kv("library_version", 1)
    assert c not in sug.library().text
    # re-indexing brings it back (new indexed_at stamp)
    library_index.reindex(demo_app, [c])
    assert c in sug.library().text


def test_persisted_index_is_used_and_a_damaged_one_rebuilt(demo_app):
    from assistant.memory.bank import STICKER_TEXTS
    from assistant.retrieval.suggest import Suggester

    demo_app.override("clip", None)
    sug = Suggester(demo_app)
    want = [s.sticker.id for s in sug.suggest("thank you so much!", k=5)]
    path = sug._index_path(STICKER_TEXTS)
    assert path.exists()
    again = Suggester(demo_app)
    assert [s.sticker.id for s in again.suggest("thank you so much!", k=5)] == want
    path.write_bytes(b"not an index")
    third = Suggester(demo_app)
    assert [s.sticker.id for s in third.suggest("thank you so much!", k=5)] == want
    assert VectorIndex.load(path).search(third.library().text.vector(want[0]), 1)[0][0] == want[0]


def test_large_full_scans_read_float16_and_rerank_exactly(monkeypatch):
    """Above HALF_SCAN_MIN rows a flat index scans a float16 copy and re-ranks the best 4k + 64 in
    float32: the same hits as the exact scan on structureless data, exact scores, hidden left out."""
    from assistant.retrieval import vector_index

    monkeypatch.setattr(vector_index, "HALF_SCAN_MIN", 1000)
    rng = np.random.default_rng(6)
    base = rng.normal(size=(4000, 96)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    index = VectorIndex.build(np.arange(4000), base, exact_limit=10**9)
    assert index.mode == "flat"
    queries = rng.normal(size=(50, 96)).astype(np.float32)
    assert recall_at(index, base, np.arange(4000), queries) >= 0.99
    assert index._half is not None and index._half is not False  # the float16 path really ran
    got, scores = index.search(queries[0], 10, record=False)
    assert np.allclose(scores, base[got] @ queries[0], atol=1e-6)
    index.set_hidden(got[:3].tolist())
    assert not set(got[:3].tolist()) & set(index.search(queries[0], 10, record=False)[0].tolist())
