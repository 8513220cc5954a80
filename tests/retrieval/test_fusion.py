"""Fusion maths: standardisation, the preference gate and intent-diverse re-ranking."""

from __future__ import annotations

import numpy as np

from assistant.retrieval.fusion import diverse_order, fuse, standardise


def test_standardise_ignores_absent_and_flat_signals():
    z = standardise(np.array([1.0, np.nan, 3.0]))
    assert z[1] == 0.0 and z[0] < 0 < z[2]
    assert not standardise(np.array([0.5, 0.5, 0.5])).any()
    assert not standardise(np.array([np.nan, 0.2])).any()


def test_fuse_scale_free_and_gated():
    text = np.array([0.80, 0.82, 0.90])  # e5-like cosines
    image = np.array([0.30, 0.20, 0.10])  # CLIP-like cosines disagree
    pref = np.array([0.0, 1.0, 0.0])
    no_hist = fuse({"text": text, "image": image, "pref": pref}, pref_share=0.0)
    assert no_hist.pref_share == 0.0 and "pref" in no_hist.used
    assert int(np.argmax(no_hist.scores)) == 2  # text carries more weight than image
    hist = fuse({"text": text, "image": image, "pref": pref}, pref_share=0.7)
    assert hist.pref_share == 0.7 and int(np.argmax(hist.scores)) == 1  # a close past context decides
    # Multiplying a signal by a constant changes nothing (scales differ between models).
    scaled = fuse({"text": text * 10, "image": image, "pref": pref}, pref_share=0.7)
    assert np.allclose(scaled.scores, hist.scores)


def test_favourite_is_a_prior_not_a_trump():
    text = np.array([0.70, 0.72, 0.95, 0.71])
    fav = np.array([0.0, 1.0, 0.0, 0.0])
    s = fuse({"text": text, "fav": fav}).scores
    assert s[1] > s[0] and s[1] > s[3]  # boosted over its peers
    assert s[2] > s[1]  # but a clearly better match still wins


def test_diverse_order_spreads_intents_but_keeps_the_best_first():
    scores = np.array([1.0, 0.99, 0.98, 0.97, 0.85, 0.4])
    intents = ["amusement", "amusement", "amusement", "amusement", "gratitude", None]
    plain = list(np.argsort(-scores))[:3]
    div = diverse_order(scores, intents, 3)
    assert div[0] == 0 and plain == [0, 1, 2]
    assert 4 in div  # another intent makes the top 3
    assert len(set(div)) == 3
    # With no intents at all the order is the score order.
    assert diverse_order(scores, [None] * 6, 4) == [0, 1, 2, 3]
    assert diverse_order(np.array([]), [], 3) == []


def test_nearly_flat_signal_is_not_blown_up():
    # All text cosines within 0.004: noise. Intent clearly separates: intent must decide.
    text = np.array([0.801, 0.800, 0.797, 0.799])
    intent = np.array([0.05, 0.10, 0.60, 0.05])
    s = fuse({"text": text, "intent": intent}).scores
    assert int(np.argmax(s)) == 2
    z = standardise(text, 0.015)
    assert np.abs(z).max() < 1.0


def test_history_alone_decides_when_nothing_else_informs():
    s = fuse({"text": np.array([0.8, 0.8, 0.8]), "pref": np.array([0.1, 0.0, 0.9])}, pref_share=0.2)
    assert s.pref_share == 1.0 and int(np.argmax(s.scores)) == 2
