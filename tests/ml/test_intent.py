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


@pytest.fixture(scope="module")
def tiny_head(tiny_goemotions):
    from assistant.ml.embedder import get_embedder

    head, rep = train_intent(tiny_goemotions, get_embedder(), train_limit=None, epochs=25, seed=0, members=2,
                             char_buckets=512, lexical_epochs=25)
    return head


def test_trains_on_goemotions_format_and_roundtrips(tiny_head, tiny_goemotions, tmp_path):
    from assistant.ml.embedder import get_embedder

    head = tiny_head
    res = evaluate_intent(head, tiny_goemotions, "test")
    present = [res["per_label_f1"][l] for l in ("gratitude", "joy", "sadness", "neutral")]
    assert np.mean(present) > 0.5 and res["top1_accuracy"] > 0.6  # chance is 1/28
    assert len(head.members) == 2 and [m["seed"] for m in head.meta["ensemble"]] == [0, 1]
    assert head.mix in MIX_GRID and head.meta["mix"] == head.mix  # the views' weight was chosen on dev
    p = head.predict(["thank you very much for this"])[0]
    assert max(p, key=p.get) == "gratitude"
    path = tmp_path / "intent.pt"
    head.save(path)
    again = IntentHead.from_file(path, get_embedder())
    texts = [t for t, _ in ROWS] + ["谢谢你！", "🙂"]
    np.testing.assert_allclose(again.probs(texts), head.probs(texts), atol=2e-3)  # fp16 storage
    assert again.mix == head.mix and again.char_buckets == 512 and len(again.members) == 2
    np.testing.assert_array_equal(again.thresholds, head.thresholds)
    dist = again.distribution(["so sad"])[0]
    assert abs(sum(dist.values()) - 1) < 1e-6
    vec = get_embedder().query(["thanks!"])[0]
    assert set(again.predict(vec)) == set(LABELS)  # a single vector: embedding view only


def test_training_loss_falls_and_the_lexical_best_epoch_is_kept(tiny_head):
    for log in [tiny_head.meta["lexical"], *tiny_head.meta["ensemble"]]:
        losses = [h["train_loss"] for h in log["history"]]
        assert losses[-1] < 0.9 * losses[0] and sum(b < a for a, b in zip(losses, losses[1:])) > len(losses) // 2, losses
    lex = tiny_head.meta["lexical"]
    best = max(h["dev_macro_f1"] for h in lex["history"])
    assert lex["history"][lex["best_epoch"] - 1]["dev_macro_f1"] == best
    assert all(m["epochs"] == len(m["history"]) == 25 for m in tiny_head.meta["ensemble"])


def test_thresholds_and_mix_come_from_dev_not_test(tiny_goemotions, tmp_path):
    """Same train and dev, a different test split: identical thresholds and mix; and they are what
    tuning on the dev predictions gives."""
    import shutil

    from assistant.ml.embedder import get_embedder
    from assistant.ml.features import text_features
    from assistant.ml.intent import read_goemotions, tune_mix

    other = tmp_path / "ge"
    shutil.copytree(tiny_goemotions, other)
    (other / "test.tsv").write_text("\n".join(f"{t}\t{NEUTRAL}\tx{i}" for i, (t, _) in enumerate(ROWS)) + "\n")
    heads = [train_intent(d, get_embedder(), epochs=6, seed=3, members=1, char_buckets=0,
                          lexical_epochs=6)[0]
             for d in (tiny_goemotions, other)]
    np.testing.assert_array_equal(heads[0].thresholds, heads[1].thresholds)
    assert heads[0].mix == heads[1].mix
    dv_x, dv_y = read_goemotions(tiny_goemotions / "dev.tsv")
    a = heads[0].embedding_probs(text_features(get_embedder(), dv_x, "query"))
    b, known = heads[0].lexical_probs(dv_x)
    mix, th, f1 = tune_mix(a, b, known, dv_y)
    assert mix == heads[0].mix and f1 == pytest.approx(heads[0].meta["dev_macro_f1"])
    np.testing.assert_array_equal(th, heads[0].thresholds)


def test_text_without_known_words_is_read_by_the_embedding_view_alone(tiny_head):
    """GoEmotions is English: Chinese (or emoji-only) text gets no say from the lexical view."""
    from assistant.ml.embedder import get_embedder

    texts = ["谢谢你，太感谢了", "😭😭", "thank you so much"]
    feats = get_embedder().query(texts)
    mixed = tiny_head.probs_from_features(feats, texts)
    alone = tiny_head.embedding_probs(feats)
    np.testing.assert_allclose(mixed[:2], alone[:2], atol=1e-6)
    assert tiny_head.lexical_ids(texts[0]) == [] and tiny_head.lexical_ids(texts[2])
    if tiny_head.mix < 1.0:
        assert not np.allclose(mixed[2], alone[2])


def test_char_grams_are_stable_and_latin_only():
    from assistant.ml.intent import char_grams

    assert char_grams("thanks", 1000) == char_grams("THANKS!!", 1000)  # lower-cased, punctuation ignored
    assert len(char_grams("thanks", 1000)) == 6 + 5 + 4  # "<thanks>": 3-, 4- and 5-grams
    assert char_grams("谢谢", 1000) == [] and char_grams("thanks", 0) == []
    assert all(0 <= h < 1000 for h in char_grams("sooo happyyy", 1000))


def test_a_format_1_head_still_loads(tmp_path):
    """Heads users trained before the ensemble (one MLP + bag in one state dict) keep working."""
    import io

    from assistant.ml.intent import EmbeddingMLP, LexicalBag

    torch.manual_seed(0)
    mlp, lex = EmbeddingMLP(384, len(LABELS), 32).eval(), LexicalBag(3, len(LABELS))
    torch.nn.init.normal_(lex.bag.weight)
    state = {**{k: v.half() for k, v in mlp.state_dict().items()},
             "bag.weight": lex.bag.weight.detach().half(), "bag_bias": lex.bias.detach().half()}
    buf = io.BytesIO()
    torch.save({"state": state, "vocab": {"<none>": 0, "thanks": 1, "sad": 2}, "thresholds": [0.4] * len(LABELS),
                "labels": list(LABELS), "dim": 384, "hidden": 32, "mix": 0.5, "meta": {"seed": 0}}, buf)
    (tmp_path / "old.pt").write_bytes(buf.getvalue())
    head = IntentHead.from_file(tmp_path / "old.pt", None)
    x = np.random.default_rng(0).normal(size=(1, 384)).astype(np.float32)
    with torch.no_grad():
        want_a = torch.sigmoid(mlp.half().float()(torch.tensor(x))).numpy()
    np.testing.assert_allclose(head.embedding_probs(x), want_a, atol=1e-5)
    both = head.probs_from_features(x, ["thanks"])
    assert not np.allclose(both, want_a)  # the old bag speaks for a known word


def test_bad_goemotions_line_is_reported(tmp_path):
    from assistant.ml.intent import read_goemotions

    (tmp_path / "train.tsv").write_text("hello\t99\tx\n")
    with pytest.raises(ValueError, match="train.tsv:1: bad label list"):
        read_goemotions(tmp_path / "train.tsv")


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped intent head in models/ (sticker-assistant train --intent --out models/intent-goemotions.pt)")
def test_shipped_head_loads_and_reads_obvious_intents(app):
    head = IntentHead.load(app)
    p = head.predict(["thank you so much!", "I'm so sorry, my fault", "谢谢你，太感谢了", "哈哈哈哈笑死我了"])
    top = [max(d, key=d.get) for d in p]
    assert top[0] == "gratitude" and top[1] in ("remorse", "sadness")
    assert top[2] == "gratitude" and top[3] == "amusement"  # Chinese: the embedding view alone
    assert "test" in head.meta and head.meta["seed"] == 0 and len(head.members) == head.meta["members"]


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped intent head in models/")
def test_shipped_head_reproduces_its_recorded_test_figures():
    """The record next to the shipped head matches what it scores now, on the first 1,000 test rows
    (about 15 s of embedding on a cold feature cache; the full split is in bench_quality)."""
    import json

    from assistant.ml.embedder import get_embedder
    from tests.conftest import shared_path

    root = shared_path("datasets", "goemotions")
    record = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert record["test"]["macro_f1"] >= 0.46 and record["seed"] == 0
    head = IntentHead.from_file(SHIPPED, get_embedder())
    res = evaluate_intent(head, root, "test", limit=1000)
    want = record["test_first_1000"]
    assert res["macro_f1"] == pytest.approx(want["macro_f1"], abs=0.005)
    assert res["top1_accuracy"] == pytest.approx(want["top1_accuracy"], abs=0.005)


def test_train_intent_command_writes_the_head_and_its_record(tiny_goemotions, data_dir, tmp_path, capsys):
    """`sticker-assistant train --intent` is the one command that makes the shipped head: it writes
    the head and a JSON record (seed, data sizes, dev and test figures, the command) next to it."""
    import json

    from assistant import cli

    out = tmp_path / "intent-goemotions.pt"
    assert cli.main(["--data-dir", str(data_dir), "train", "--intent", "--goemotions", str(tiny_goemotions),
                     "--members", "2", "--seed", "1", "--out", str(out)]) == 0
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["seed"] == 1 and rec["members"] == 2 and rec["data"]["train"] == len(ROWS) * 4
    assert rec["thresholds_tuned_on"] == "GoEmotions dev" and rec["bytes"] == out.stat().st_size
    assert {"macro_f1", "exact_match", "top1_accuracy"} <= set(rec["test"]) and rec["test_first_1000"]["n"] == len(ROWS)
    assert rec["command"].startswith("sticker-assistant train --intent --seed 1 --members 2")
    assert len(IntentHead.from_file(out, None).members) == 2
    assert "test macro-F1" in capsys.readouterr().out
    bad = tmp_path / "bad"
    bad.mkdir()
    for split in ("train", "dev", "test"):
        (bad / f"{split}.tsv").write_text("fine\t1\ta\nbroken\tx\tb\n")
    assert cli.main(["--data-dir", str(data_dir), "train", "--intent", "--goemotions", str(bad)]) == 1
    assert "train.tsv:2: bad label list" in capsys.readouterr().out
