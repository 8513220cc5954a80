"""IGSR head and losses: hand-computed losses, real training on a synthetic task, checkpoints, CUDA."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

torch.set_num_threads(1)  # tiny models: thread hand-offs cost more than they give on a busy 2-core box

from assistant.ml.igsr import (IGSRConfig, IGSRHead, IGSRScorer, info_nce, intent_ce, intent_diverse_order,
                               load_checkpoint, save_checkpoint)
from assistant.ml.train import TrainData, TrainOptions, evaluate_loss, fit_igsr


def test_info_nce_matches_hand_computation():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    # logits = q·sᵀ/τ with τ = 0.5: [[1.2, 0.0], [1.6, 2.0]]
    t2v = (math.log(1 + math.exp(-1.2)) + math.log(1 + math.exp(-0.4))) / 2  # rows
    v2t = (math.log(1 + math.exp(0.4)) + math.log(1 + math.exp(-2.0))) / 2  # columns
    expected = 0.5 * (t2v + v2t)
    assert expected == pytest.approx(0.454060, abs=1e-6)
    assert float(info_nce(q, s, 0.5)) == pytest.approx(expected, abs=1e-6)


def test_info_nce_refuses_batch_of_one_and_masks_duplicate_stickers():
    with pytest.raises(ValueError, match="at least 2"):
        info_nce(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]]), 0.1)
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = torch.tensor([[0.6, 0.8], [0.0, 1.0]])
    # the same sticker answers both rows: neither is the other's negative, so each row's softmax has
    # only its own pair and the loss is exactly 0
    assert float(info_nce(q, s, 0.5, sticker_keys=["a", "a"])) == pytest.approx(0.0, abs=1e-7)
    assert float(info_nce(q, s, 0.5, sticker_keys=["a", "b"])) == pytest.approx(0.454060, abs=1e-6)


def test_intent_ce_matches_hand_computation():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([0, 2])
    row0 = math.log(1 + math.exp(-1) + math.exp(-2))  # -log softmax([2,1,0])[0]
    row1 = math.log(3)  # uniform over 3
    assert float(intent_ce(logits, target)) == pytest.approx((row0 + row1) / 2, abs=1e-6)
    assert float(intent_ce(logits, torch.tensor([0, -100]))) == pytest.approx(row0, abs=1e-6)
    assert float(intent_ce(logits, torch.tensor([-100, -100]))) == 0.0


def synthetic(n_stickers=30, n_pairs=600, d=24, seed=0):
    """Contexts are a fixed random linear map of their sticker's vector plus noise; intents = clusters."""
    rng = np.random.default_rng(seed)
    stickers = rng.normal(size=(n_stickers, d)).astype(np.float32)
    stickers /= np.linalg.norm(stickers, axis=1, keepdims=True)
    A = rng.normal(size=(d, d)).astype(np.float32)
    which = rng.integers(0, n_stickers, n_pairs)
    ctx = stickers[which] @ A + 0.3 * rng.normal(size=(n_pairs, d)).astype(np.float32)
    ctx /= np.linalg.norm(ctx, axis=1, keepdims=True)
    intents = (np.arange(n_stickers) % 4)
    data = TrainData(r_c=ctx, v=stickers[which], sticker_keys=[int(w) for w in which], intent=intents[which],
                     r_m=np.zeros_like(ctx), ids=list(range(n_pairs)))
    return data, stickers, which, ctx


def _cfg(d=24):
    return IGSRConfig(ctx_dim=d, sticker_dim=d, hidden=64, intent_labels=["a", "b", "c", "d"], tau=0.1)


def test_training_is_real_loss_falls_and_retrieval_beats_chance():
    data, stickers, which, ctx = synthetic()
    train_idx, test_idx = np.arange(500), np.arange(500, 600)
    res = fit_igsr(data.subset(train_idx), _cfg(), TrainOptions(epochs=40, batch=64, patience=40, seed=0))
    hist = res.history
    assert hist[-1]["train_loss"] < 0.6 * hist[0]["train_loss"]
    scorer = IGSRScorer(res.head, None, lambda ids: stickers[list(ids)])
    ids = list(range(len(stickers)))
    mat = scorer.sticker_matrix(ids)
    qs = scorer.query_vectors(ctx[test_idx])
    hits = sum(int(np.argmax(mat @ q.vector) == which[i]) for q, i in zip(qs, test_idx))
    assert hits / len(test_idx) > 0.5  # chance is 1/30
    # an untrained head on the same task is far worse: the learning, not the backbone, does it
    untrained = IGSRScorer(IGSRHead(_cfg()).eval(), None, lambda ids: stickers[list(ids)])
    base = sum(int(np.argmax(untrained.sticker_matrix(ids) @ q.vector) == which[i])
               for q, i in zip(untrained.query_vectors(ctx[test_idx]), test_idx))
    assert hits > base + 20
    # intent head learned the clusters too
    acc = np.mean([max(q.intent, key=q.intent.get) == "abcd"[which[i] % 4] for q, i in zip(qs, test_idx)])
    assert acc > 0.6


def test_checkpoint_roundtrip_gives_identical_scores(tmp_path):
    data, stickers, which, ctx = synthetic(n_pairs=200)
    res = fit_igsr(data, _cfg(), TrainOptions(epochs=3, batch=32, seed=1))
    path = tmp_path / "igsr.pt"
    save_checkpoint(path, res.head, res.meta)
    head2, meta, _ = load_checkpoint(path)
    a = IGSRScorer(res.head, None, lambda ids: stickers[list(ids)])
    b = IGSRScorer(head2, None, lambda ids: stickers[list(ids)])
    ids = list(range(len(stickers)))
    for qa, qb in zip(a.query_vectors(ctx[:20]), b.query_vectors(ctx[:20])):
        np.testing.assert_array_equal(a.scores(qa, ids), b.scores(qb, ids))
        assert qa.intent == qb.intent
    assert meta["seed"] == 1 and meta["data"]["pairs"] == 200 and (tmp_path / "igsr.json").exists()


def test_eval_mode_is_deterministic_and_forward_creates_no_layers():
    head = IGSRHead(_cfg()).eval()
    n_params = len(list(head.parameters()))
    x = torch.randn(4, 24)
    a, _ = head(x)
    b, _ = head(x)
    assert torch.equal(a, b)  # no dropout or augmentation at eval
    assert len(list(head.parameters())) == n_params


def test_resume_continues_the_same_run(tmp_path):
    data, *_ = synthetic(n_pairs=200)
    opts = TrainOptions(epochs=6, batch=32, seed=3, patience=100)
    full = fit_igsr(data, _cfg(), opts)
    rp = tmp_path / "run.resume.pt"
    fit_igsr(data, _cfg(), TrainOptions(epochs=3, batch=32, seed=3, patience=100), resume_path=rp)
    resumed = fit_igsr(data, _cfg(), opts, resume_path=rp, resume=True)
    assert [h["epoch"] for h in resumed.history] == list(range(1, 7))
    for k, v in full.head.state_dict().items():
        torch.testing.assert_close(v, resumed.head.state_dict()[k])
    other, *_ = synthetic(n_pairs=150, seed=9)
    with pytest.raises(ValueError, match="different run"):
        fit_igsr(other, _cfg(), opts, resume_path=rp, resume=True)


def test_intent_diverse_order_puts_one_sticker_per_probable_intent_first():
    scores = np.array([0.9, 0.8, 0.7, 0.1, 0.2, 0.05])
    intents = ["x", "x", "x", "y", "z", None]
    order = intent_diverse_order(scores, intents, {"x": 0.5, "y": 0.3, "z": 0.2}, slots=3)
    assert order[:3].tolist() == [0, 3, 4]
    assert order[3:].tolist() == [1, 2, 5]
    assert sorted(order.tolist()) == list(range(6))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU path (AMP) runs only with one")
def test_cuda_training_with_amp():
    data, stickers, which, ctx = synthetic(n_pairs=300)
    res = fit_igsr(data, _cfg(), TrainOptions(epochs=10, batch=64, device="cuda", patience=20))
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    assert next(res.head.parameters()).is_cuda
    assert np.isfinite(evaluate_loss(res.head, data, "cuda"))
