"""The fused default's parts, each on a case small enough to check by hand: the exact-sticker score
(send-count prior, content match, memory), the intent-slot layout, the intent mix, the folds used to
choose the weights, and a fused ranking that is the same on every run."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from assistant.eval.dataset import load
from assistant.eval.tune import best_candidate, train_folds
from assistant.retrieval.fusion import SlotLayout, combine_intents, exact_scores, intent_slot_order
from tests.eval.test_run import tiny_dataset


def test_send_count_prior_puts_the_habit_first_inside_its_intent():
    # Four "thanks" stickers with the same content match; the user sent #2 nine times, #1 once.
    match = np.array([0.5, 0.5, 0.5, 0.5, 0.9])
    usage = np.array([0, 1, 9, 0, 0])
    intents = ["thanks", "thanks", "thanks", "thanks", "joy"]
    e = exact_scores(match, usage)
    order = intent_slot_order(e, intents, {"thanks": 0.8, "joy": 0.2}, slots=2, joint=0)
    assert order[0] == 2  # the habit fills the thanks slot
    assert order[1] == 4  # the joy slot
    # Sent once is not a habit: the log-linear fit weighs it no better than never sent.
    w = SlotLayout()
    assert w.prior * np.log(2) + w.seen <= 0.0
    assert e[1] <= e[0] + 1e-9


def test_exact_scores_by_hand():
    layout = SlotLayout(match=1.0, prior=2.0, seen=-1.0, memory=0.5, memory_floor=0.0)
    match = np.array([1.0, 3.0])  # z-scores -1, +1
    usage = np.array([3, 0])
    memory = np.array([np.e ** -2, 1.0])
    e = exact_scores(match, usage, memory, layout)
    assert e[0] == pytest.approx(-1 + 2 * np.log(4) - 1 + 0.5 * -2)
    assert e[1] == pytest.approx(1 + 0 + 0 + 0)
    # A flat match (all equal) carries nothing instead of dividing by zero.
    assert np.allclose(exact_scores(np.ones(3), None, None, layout), 0.0)


def test_layout_slots_then_joint_then_grouped_tail():
    # index:            0     1     2     3     4     5     6
    scores = np.array([0.9, 0.8, 0.1, 0.3, 5.0, 0.2, 0.0])
    intents = ["a", "a", "a", "b", "c", "b", None]
    probs = {"a": 0.6, "b": 0.3, "c": 0.1}
    order = intent_slot_order(scores, intents, probs, slots=2, joint=2, intent_weight=1.0)
    # slots: best of a (0), best of b (3); joint over the rest by score + log p:
    #   4: 5.0 + log .1 = 2.70; 1: 0.8 + log .6 = 0.29; 5: 0.2 + log .3 = -1.0; ...
    assert order[:4].tolist() == [0, 3, 4, 1]
    # tail: grouped by intent rank (a, b, c, unknown), best first inside each
    assert order[4:].tolist() == [2, 5, 6]
    assert sorted(order.tolist()) == list(range(7))
    # joint=0 is the IGSR baseline's layout: the rest stays grouped
    assert intent_slot_order(scores, intents, probs, slots=2, joint=0).tolist() == [0, 3, 1, 2, 5, 4, 6]
    assert intent_slot_order(np.array([]), [], probs).tolist() == []
    # no slots and every place joint: one ranking by score + log p (eval/tune.py's reference row);
    # the sticker without an intent counts with half the smallest probability (log .05 = -3.0)
    joint_only = intent_slot_order(scores, intents, probs, slots=0, joint=sys.maxsize, intent_weight=1.0)
    assert joint_only.tolist() == [4, 0, 1, 2, 3, 5, 6]


def test_gain_slots_let_a_likely_exact_sticker_take_a_long_shot_intents_place():
    # index:            0    1    2    3    4
    scores = np.array([0.0, 0.0, 0.0, 5.0, 0.0])
    intents = ["a", "b", "c", "c", "d"]
    probs = {"a": 0.4, "b": 0.3, "c": 0.1, "d": 0.2}
    # one slot per intent (exact_value 0): a, b, d, then c's best (3)
    assert intent_slot_order(scores, intents, probs, slots=4, joint=0).tolist()[:4] == [0, 1, 4, 3]
    # p_exact = softmax(score + log p): 3 gets e^5·.1 = 14.84 of 14.84 + .4 + .3 + .1 + .2 = 15.84,
    # so 0.937; with exact_value 1 its gain after place 1 is .1 + .937, more than b's .3 + 1·.3/15.84
    order = intent_slot_order(scores, intents, probs, slots=4, joint=0, intent_weight=1.0, exact_value=1.0)
    assert order.tolist()[:4] == [0, 3, 1, 4]
    # the first place stays the most probable intent's best sticker, however likely another one is
    huge = intent_slot_order(scores, intents, probs, slots=4, joint=0, intent_weight=1.0, exact_value=100.0)
    assert huge[0] == 0 and huge[1] == 3
    # once its intent is shown, a second sticker of it needs the exact value alone to win a place
    two = np.array([0.0, 0.0, 0.0, 5.0, 4.9])
    order = intent_slot_order(two, ["a", "b", "c", "c", "c"], {"a": 0.5, "b": 0.4, "c": 0.1}, slots=3,
                              joint=0, intent_weight=1.0, exact_value=1.0)
    # p_exact(4) = e^4.9·.1 / (e^5·.1 + e^4.9·.1 + .9) = 0.46: more than b's .4 + .4 / 29.2
    assert order.tolist()[:3] == [0, 3, 4]
    assert sorted(order.tolist()) == list(range(5))


def test_combine_intents_weighted_mean():
    out = combine_intents([({"a": 0.8, "b": 0.2}, 1.0), ({"a": 0.2, "b": 0.8}, 3.0), (None, 5.0), ({}, 1.0)])
    assert out["a"] == pytest.approx((0.8 + 3 * 0.2) / 4) and out["b"] == pytest.approx((0.2 + 3 * 0.8) / 4)
    assert combine_intents([(None, 1.0)]) == {}


def test_train_folds_never_see_the_reported_split(tmp_path):
    ds = load(tiny_dataset(tmp_path / "tiny"))
    folds = train_folds(ds, k=3, seed=5)
    train_ids = {s.id for s in ds.samples if s.split == "train"}
    held = [{s.id for s in f.samples if s.split == "valid"} for f in folds]
    assert set().union(*held) == train_ids  # every training sample is held out exactly once
    assert sum(len(h) for h in held) == len(train_ids)
    for f in folds:
        assert {s.id for s in f.samples} == train_ids  # no valid/test sample anywhere
    assert [{s.id for s in f.samples if s.split == "valid"} for f in train_folds(ds, k=3, seed=5)] == held
    assert all(s.split == "train" or s.split == "valid" for s in ds.samples)  # the original is untouched
    with pytest.raises(ValueError, match="too few"):
        train_folds(ds, k=100)


def test_best_candidate_weighs_every_metric_alike():
    from assistant.eval.metrics import METRICS

    n = 100
    base = {m: np.full(n, 10.0) for m in METRICS}

    def hits(k: int) -> np.ndarray:  # k hits of 100 in n samples, as the per-sample values (×100)
        return np.where(np.arange(n) < k, 100.0, 0.0)

    values = {"a": {**base, "P@5": hits(70), "R@1": hits(1)}, "b": {**base, "P@5": hits(71), "R@1": hits(2)}}
    assert best_candidate(values) == "b"  # +1 point of R@1 (doubling) beats nothing lost


def test_margins_by_hand_and_the_safest_lead_wins():
    from assistant.eval.metrics import METRICS
    from assistant.eval.tune import margins

    n = 100
    floor = {m: np.zeros(n) for m in METRICS}
    lead = {m: np.where(np.arange(n) < 50, 100.0, 0.0) for m in METRICS}  # +50 points on every metric
    # paired difference: 50 samples at +100, 50 at 0: mean 50, sd 50.25 (ddof 1), se 5.025
    assert margins(lead, floor)["P@1"] == pytest.approx(50 / (np.std(lead["P@1"], ddof=1) / 10))
    assert margins(floor, floor)["P@1"] == 0.0  # no lead, no spread: exactly level
    # "big" leads far on most metrics but only by one sample on P@3; "steady" leads by less, everywhere
    big = {m: np.where(np.arange(n) < 60, 100.0, 0.0) for m in METRICS}
    big["P@3"] = np.where(np.arange(n) < 1, 100.0, 0.0)
    steady = {m: np.where(np.arange(n) < 30, 100.0, 0.0) for m in METRICS}
    assert best_candidate({"big": big, "steady": steady}) == "big"  # without a floor: the bigger mean
    assert best_candidate({"big": big, "steady": steady}, floor) == "steady"  # the weakest lead decides
    below = {**steady, "R@1": -steady["R@1"]}
    assert best_candidate({"below": below, "big": big}, floor) == "big"  # below the floor loses first


def test_fused_default_is_the_same_every_run(tmp_path):
    from assistant.eval.run import run_benchmark
    from assistant.ml.embedder import get_embedder
    from assistant.ml.features import FeatureStore
    from assistant.ml.train import TrainOptions

    ds = load(tiny_dataset(tmp_path / "tiny"))
    store = FeatureStore(tmp_path / "f.sqlite3")
    runs = [run_benchmark(ds, get_embedder(), store, opts=TrainOptions(epochs=6, batch=16),
                          methods=["most-used", "fused default"])[0] for _ in range(2)]
    assert runs[0] == runs[1]
    assert list(runs[0]) == ["most-used", "fused default"]
    assert runs[0]["fused default"]["P@1"] > 50  # 4 clear intents; chance is 25


def test_fitted_exact_weights_follow_the_evidence():
    """The maximum-likelihood fit gives weight to the signal that actually finds the gold sticker."""
    from types import SimpleNamespace

    from assistant.eval.run import FusedInputs
    from assistant.eval.tune import fit_exact_weights

    rng = np.random.default_rng(0)
    n, pool = 60, 12
    ids = [str(i) for i in range(pool)]
    labels = ["a", "b"]
    intents = np.array(["a", "b"] * (pool // 2), dtype=object)

    def fold(gold, train_stickers, match, bm25=None):
        f = SimpleNamespace(pool_ids=ids, train_stickers=train_stickers, eval_gold=np.array(gold), labels=labels,
                            pool_intents=intents)
        flat = np.full((n, 2), 0.5)
        noise = rng.normal(size=(n, pool))
        return FusedInputs(f, match, flat, flat, flat, np.zeros((n, pool)), np.zeros(n), noise,
                           noise.copy() if bm25 is None else bm25)

    # Habit: the gold is mostly sticker 3, which the user sent 20 times; the match is noise.
    habit = fold([3] * 50 + list(rng.integers(0, pool, 10)), ["3"] * 20 + ["5"], rng.normal(size=(n, pool)))
    w = fit_exact_weights([habit], {"head": 1.0})
    assert w.prior > 0.5 and abs(w.match) < w.prior
    # Content: the gold always has the best match; nobody's habit points anywhere.
    gold = rng.integers(0, pool, n)
    match = rng.normal(size=(n, pool))
    match[np.arange(n), gold] += 3.0
    w = fit_exact_weights([fold(gold.tolist(), ["1", "2"], match)], {"head": 1.0})
    assert w.match > 1.0
    # Words: the gold sticker's words literally appear in the post (BM25 high); the rest is noise.
    gold = rng.integers(0, pool, n)
    bm25 = rng.random((n, pool))
    bm25[np.arange(n), gold] += 4.0
    w = fit_exact_weights([fold(gold.tolist(), ["1", "2"], rng.normal(size=(n, pool)), bm25)], {"head": 1.0})
    assert w.lexical > 1.0 and abs(w.match) < 0.5 and abs(w.words) < 0.5
    # The MAP fit (a user's short history, ml/calibration.py): the prior holds the weights near the
    # base in proportion to its precision, and lets the evidence through as the precision falls.
    base = SlotLayout()
    words_fold = [fold(gold.tolist(), ["1", "2"], rng.normal(size=(n, pool)), bm25)]
    held = fit_exact_weights(words_fold, {"head": 1.0}, base, prior=1e6)
    assert all(abs(getattr(held, k) - getattr(base, k)) <= 0.01 for k in ("match", "prior", "seen", "lexical", "intent"))
    loose = fit_exact_weights(words_fold, {"head": 1.0}, base, prior=1.0)
    mid = fit_exact_weights(words_fold, {"head": 1.0}, base, prior=60.0)
    assert base.lexical < mid.lexical < loose.lexical and loose.lexical > 1.0


def test_exact_scores_add_the_words_on_the_sticker():
    layout = SlotLayout(match=0.0, prior=0.0, seen=0.0, words=1.0, lexical=2.0)
    match = np.zeros(3)
    words = np.array([0.9, np.nan, 0.7])  # sticker 1 has no words: it neither gains nor loses
    lexical = np.array([0.0, 0.0, 3.0])
    e = exact_scores(match, None, None, layout, words=words, lexical=lexical)
    z_lex = (lexical - lexical.mean()) / lexical.std()
    assert e == pytest.approx([1.0 + 2 * z_lex[0], 2 * z_lex[1], -1.0 + 2 * z_lex[2]])
    # weights of 0 switch a signal off; absent arrays too
    assert exact_scores(match, None, None, SlotLayout(words=0.0, lexical=0.0), words=words, lexical=lexical) == \
        pytest.approx(np.zeros(3))


def test_lexical_probe_learns_the_words_of_an_intent(tmp_path):
    """The token view finds intents marked by set phrases (far above chance on unseen posts)."""
    from types import SimpleNamespace

    from assistant.eval.probes import fit_lexical_probe

    rng = np.random.default_rng(3)
    labels = ["Ask for help", "Thank", "Greet"]
    cue = {"Ask for help": "求助 有没有大佬", "Thank": "谢谢 感恩", "Greet": "早上好 大家好"}
    filler = ["今天", "这个", "我们", "然后", "真的", "那个", "一下", "东西"]

    def post(label):
        words = list(rng.choice(filler, 3)) + [rng.choice(cue[label].split())]
        rng.shuffle(words)
        return "".join(words)

    train_labels = [labels[i % 3] for i in range(150)]
    test_labels = [labels[i % 3] for i in range(60)]
    stickers = {f"s{l}": SimpleNamespace(intent=l) for l in labels}
    f = SimpleNamespace(labels=labels, ds=SimpleNamespace(by_id=stickers),
                        train_stickers=[f"s{l}" for l in train_labels],
                        train_texts=[post(l) for l in train_labels], eval_texts=[post(l) for l in test_labels],
                        eval_ctx=np.zeros((60, 4)))
    p = fit_lexical_probe(f, seed=0)
    assert p.shape == (60, 3) and np.allclose(p.sum(1), 1.0, atol=1e-5)
    acc = float(np.mean(np.array(labels)[p.argmax(1)] == np.array(test_labels)))
    assert acc > 0.9  # chance is 1/3
    assert np.array_equal(p, fit_lexical_probe(f, seed=0))  # seeded: the same every run


def test_tune_end_to_end_on_folds_of_a_tiny_dataset(tmp_path):
    """`tune` builds the folds, fits and scores every candidate, and names a winner from its grid with
    the two baseline rows and the reference row beside it (the command behind SlotLayout's numbers)."""
    from assistant.eval import tune
    from assistant.eval.metrics import METRICS
    from assistant.ml.embedder import get_embedder
    from assistant.ml.features import FeatureStore
    from assistant.ml.train import TrainOptions

    ds = load(tiny_dataset(tmp_path / "tiny"))
    best, grid, results = tune.tune(ds, get_embedder(), FeatureStore(tmp_path / "f.sqlite3"), k=2,
                                    opts=TrainOptions(epochs=6, batch=16), seeds=1)
    assert len(grid) == len(tune.MIXES) * len(tune.JOINTS) * len(tune.EXACT_VALUES)
    assert best in grid and best in results
    assert {"IGSR", "most-used", "winner, joint ranking, no intent slots"} <= set(results)
    assert all(set(METRICS) <= set(row) for row in results.values())
    layout, mix = grid[best]
    assert layout.exact_value in tune.EXACT_VALUES and layout.joint in tune.JOINTS and mix in tune.MIXES.values()
    assert results[best]["P@1"] > 50  # 4 clear intents; chance is 25


def test_crowd_term_counts_sends_per_intent_over_the_whole_library():
    """`intent_sends` totals every sticker's sends within its intent (unlabelled ones as one group),
    and the crowd term is log(1 + that total), weighted by the layout."""
    from assistant.retrieval.fusion import exact_terms, intent_sends

    usage = np.array([3.0, 0.0, 5.0, 1.0, 2.0])
    intents = ["a", "a", "b", None, None]
    sends = intent_sends(usage, intents)
    assert sends.tolist() == [3.0, 3.0, 5.0, 3.0, 3.0]
    terms = exact_terms(np.zeros(5), usage, crowd=sends)
    assert terms["crowd"] == pytest.approx(np.log1p(sends))
    layout = SlotLayout(match=0.0, prior=0.0, seen=0.0, crowd=-1.0)
    assert exact_scores(np.zeros(5), usage, None, layout, crowd=sends) == pytest.approx(-np.log1p(sends))
    assert "crowd" not in exact_terms(np.zeros(5), usage)  # left out: no term, no weight


def test_fit_finds_the_share_within_the_intent():
    """When the user picks an intent first and then a sticker in proportion to its sends within that
    intent, P(sticker) = P(intent) · n / N(intent): the fit gives the intent's total a negative weight
    (a habit in a crowded intent is worth less), which the send count alone cannot express."""
    from types import SimpleNamespace

    from assistant.eval.run import FusedInputs
    from assistant.eval.tune import fit_exact_weights

    rng = np.random.default_rng(5)
    pool, n = 20, 1500
    ids = [str(i) for i in range(pool)]
    intents = np.array(["a"] * 10 + ["b"] * 10, dtype=object)
    counts = np.concatenate([rng.integers(5, 40, 10), rng.integers(1, 5, 10)]).astype(float)  # a: crowded
    train = [ids[j] for j in range(pool) for _ in range(int(counts[j]))]
    gold = []
    for _ in range(n):
        block = np.arange(10) if rng.random() < 0.5 else np.arange(10, 20)
        gold.append(int(rng.choice(block, p=counts[block] / counts[block].sum())))
    f = SimpleNamespace(pool_ids=ids, train_stickers=train, eval_gold=np.array(gold), labels=["a", "b"],
                        pool_intents=intents)
    flat = np.full((n, 2), 0.5)
    zeros = np.zeros((n, pool))
    fi = FusedInputs(f, zeros, flat, flat, flat, zeros, np.zeros(n), zeros, zeros)
    w = fit_exact_weights([fi], {"head": 1.0})
    assert w.crowd < -0.5 and w.prior > 0.5


def test_goals_count_as_leads_too():
    """A candidate level with another over the baselines, but nearer one of the issue's bars, loses:
    a mean half a standard error above a goal is a coin toss on an unseen split."""
    from assistant.eval.metrics import METRICS
    from assistant.eval.tune import goal_margins

    n = 400

    def hits(k: int) -> np.ndarray:
        return np.where(np.arange(n) < k, 100.0, 0.0)

    floor = {**{m: np.zeros(n) for m in METRICS}, "R@10": hits(30), "mAP@100": hits(190)}
    common = {m: hits(200) for m in METRICS}
    near = {**common, "R@10": hits(34)}  # 8.5 %: just over a bar of 8, and 4 samples over the floor
    clear = {**common, "R@10": hits(44), "mAP@100": hits(192)}  # 11 %, but only 2 samples of mAP over the floor
    g = goal_margins(near, {"R@10": 8.0})["R@10"]
    assert g == pytest.approx((8.5 - 8.0) / (np.std(hits(34), ddof=1) / np.sqrt(n)))
    assert best_candidate({"near": near, "clear": clear}, floor) == "near"  # the floor alone: clear's mAP lead is weakest
    assert best_candidate({"near": near, "clear": clear}, floor, {"R@10": 8.0}) == "clear"
