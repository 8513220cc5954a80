"""The GoEmotions intent head: trains on a small GoEmotions-format set (real embedder), thresholds,
persistence, and the shipped default."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from assistant.ml.intent import (LABELS, MIX_GRID, SHIPPED, IntentHead, evaluate_intent, macro_f1, train_intent,
                                 tune_thresholds)

torch.set_num_threads(1)

GRATITUDE, JOY, SADNESS, NEUTRAL = (LABELS.index(x) for x in ("gratitude", "joy", "sadness", "neutral"))
ROWS = [("thank you so much, really appreciate it", GRATITUDE), ("thanks a lot for the help", GRATITUDE),
        ("many thanks, you are the best", GRATITUDE), ("thank you!", GRATITUDE),
        ("I'm so happy today, what a great day", JOY), ("yay this is wonderful, so happy", JOY),
        ("best day ever, I love it, so happy", JOY), ("happy happy joy", JOY),
        ("I miss her so much, I'm so sad", SADNESS), ("this is heartbreaking and sad", SADNESS),
        ("feeling down and sad tonight", SADNESS), ("so sad, I cried all day", SADNESS),
        ("the meeting is at 3pm", NEUTRAL), ("the bus leaves from the station", NEUTRAL),
        ("it is a table", NEUTRAL), ("the report is in the folder", NEUTRAL)]


@pytest.fixture(scope="module")
def tiny_goemotions(tmp_path_factory):
    d = tmp_path_factory.mktemp("goemotions")
    for split, reps in (("train", 4), ("dev", 1), ("test", 1)):
        lines = [f"{t}\t{y}\tid{i}" for i, (t, y) in enumerate(ROWS * reps)]
        (d / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return d


def test_macro_f1_and_thresholds_by_hand():
    y = np.array([[1, 0], [0, 1], [1, 0], [0, 0]], dtype=np.float32)
    dec = np.array([[1, 0], [1, 1], [0, 0], [0, 0]], dtype=np.float32)
    f1, per = macro_f1(y, dec)
    # label 0: tp 1, fp 1, fn 1 -> 0.5; label 1: tp 1 -> 1.0
    assert per.tolist() == pytest.approx([0.5, 1.0]) and f1 == pytest.approx(0.75)
    th = tune_thresholds(np.array([[0.9], [0.3], [0.2]]), np.array([[1], [1], [0]], dtype=np.float32))
    assert 0.2 < th[0] <= 0.3


def test_trains_on_goemotions_format_and_roundtrips(tiny_goemotions, tmp_path):
    from assistant.ml.embedder import get_embedder

    head, rep = train_intent(tiny_goemotions, get_embedder(), train_limit=None, epochs=25, seed=0)
    res = evaluate_intent(head, tiny_goemotions, "test")
    present = [res["per_label_f1"][l] for l in ("gratitude", "joy", "sadness", "neutral")]
    assert np.mean(present) > 0.5 and res["top1_accuracy"] > 0.6  # chance is 1/28
    assert head.mix in MIX_GRID and head.meta["mix"] == head.mix  # the views' weight was chosen on dev
    p = head.predict(["thank you very much for this"])[0]
    assert max(p, key=p.get) == "gratitude"
    path = tmp_path / "intent.pt"
    head.save(path)
    again = IntentHead.from_file(path, get_embedder())
    texts = [t for t, _ in ROWS]
    np.testing.assert_allclose(again.probs(texts), head.probs(texts), atol=2e-3)  # fp16 storage
    assert again.mix == head.mix
    dist = again.distribution(["so sad"])[0]
    assert abs(sum(dist.values()) - 1) < 1e-6
    vec = get_embedder().query(["thanks!"])[0]
    assert set(again.predict(vec)) == set(LABELS)  # a single vector: embedding view only


def test_bad_goemotions_line_is_reported(tmp_path):
    from assistant.ml.intent import read_goemotions

    (tmp_path / "train.tsv").write_text("hello\t99\tx\n")
    with pytest.raises(ValueError, match="train.tsv:1: bad label list"):
        read_goemotions(tmp_path / "train.tsv")


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped intent head in models/ (sticker-assistant train --intent --out models/intent-goemotions.pt)")
def test_shipped_head_loads_and_reads_obvious_intents(app):
    head = IntentHead.load(app)
    p = head.predict(["thank you so much!", "I'm so sorry, my fault"])
    assert max(p[0], key=p[0].get) == "gratitude"
    assert max(p[1], key=p[1].get) in ("remorse", "sadness")
    assert "test" in head.meta and head.meta["seed"] == 0
