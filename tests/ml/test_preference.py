"""PESRS preference memory: attention read, recency, gate default, leave-one-out training."""

from __future__ import annotations

import numpy as np

from assistant.ml.preference import PreferenceMemory, PreferenceParams, fit_params


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_read_attends_to_similar_contexts_and_sums_to_one():
    keys = np.stack([_unit([1, 0, 0]), _unit([0, 1, 0]), _unit([0.9, 0.1, 0])])
    mem = PreferenceMemory(keys, [10, 20, 10], params=PreferenceParams(half_life=1e9))
    w = mem.read(_unit([1, 0.05, 0]))
    assert abs(sum(w.values()) - 1.0) < 1e-9
    assert w[10] > 0.95 and w[20] < 0.05
    vec = mem.read_vector(_unit([1, 0.05, 0]), {10: np.array([1.0, 0.0]), 20: np.array([0.0, 1.0])})
    assert vec[0] > 0.95


def test_recency_prefers_the_newer_of_two_equal_matches():
    keys = np.stack([_unit([1, 0]), _unit([1, 0])])
    by_position = PreferenceMemory(keys, [1, 2], params=PreferenceParams(half_life=1.0))
    w = by_position.read(_unit([1, 0]))
    assert w[2] > 0.7  # the later send
    by_time = PreferenceMemory(keys, [1, 2], times=[0.0, 86400.0 * 300], params=PreferenceParams(half_life_s=86400.0 * 30))
    w = by_time.read(_unit([1, 0]), now=86400.0 * 301)
    assert w[2] > 0.99


def test_gate_default_and_empty_memory():
    empty = PreferenceMemory(np.zeros((0, 3)), [])
    match = np.array([0.2, 0.4, 0.9])
    assert np.allclose(empty.gate(match, np.zeros(3)), [0.0, 2 / 7, 1.0])
    assert empty.read(_unit([1, 0, 0])) == {}
    mem = PreferenceMemory(np.stack([_unit([1, 0, 0])]), [7])
    fused = mem.gate(match, np.array([1.0, 0.0, 0.0]))  # f = 0.5 without confidence
    assert np.allclose(fused, 0.5 * np.array([0.0, 2 / 7, 1.0]) + 0.5 * np.array([1.0, 0.0, 0.0]))
    # a near-duplicate past context hands the decision to the memory, an unfamiliar one to the match
    assert mem.gate_value(0.99, 1.0) < 0.2 < 0.8 < mem.gate_value(0.5, 0.1)


def test_fit_params_learns_which_dimensions_matter():
    rng = np.random.default_rng(0)
    n, d = 200, 16
    values = rng.integers(0, 5, n)
    keys = rng.normal(size=(n, d)).astype(np.float32)
    keys[:, 0] = values * 0.6  # only dimension 0 says which sticker follows, drowned in 15 noise dims
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)

    def loo_acc(params):
        mem = PreferenceMemory(keys, list(values), params=params)
        return np.mean([max(mem.read(keys[i], exclude=i).items(), key=lambda kv: kv[1])[0] == values[i]
                        for i in range(n)])

    base = PreferenceParams(half_life=1e9)
    trained = fit_params(keys, list(values), epochs=80, base=base)
    assert trained.trained and trained.scale[0] > np.median(trained.scale)
    assert loo_acc(trained) > loo_acc(base)
