"""The methods × metrics runner and the `train` / `eval` commands on a small dataset (real embedder)."""

from __future__ import annotations

import json

import torch

from assistant.cli import main
from tests.eval.test_dataset import seed_history, write

torch.set_num_threads(1)

TOPICS = {
    "joy": ("哈哈 太好笑了", ["笑死我了", "哈哈哈哈", "太搞笑了吧", "这也太逗了", "笑出声了", "哈哈好好笑"]),
    "thanks": ("谢谢你", ["谢谢大家的帮助", "太感谢了", "谢谢老板", "多谢你帮忙", "感谢感谢", "谢谢啦"]),
    "sad": ("好难过", ["我好伤心", "今天很难过", "哭了", "心情不好", "太难受了", "想哭"]),
    "hello": ("早上好", ["大家早上好", "早安", "你好呀", "早", "嗨大家好", "早上好呀"]),
}


def tiny_dataset(root):
    stickers, samples = [], []
    for t, (intent, (words, posts)) in enumerate(TOPICS.items()):
        for k in range(3):
            stickers.append({"id": f"{intent}{k}", "text": words if k == 0 else "", "intent": intent})
        for i, post in enumerate(posts * 2):
            samples.append({"id": f"{intent}-{i}", "split": "valid" if i % 4 == 3 else "train",
                            "context": [{"speaker": "u", "text": post}], "sticker": f"{intent}{i % 2}",
                            "intent": intent})
    write(root, stickers, samples)
    return root


def test_run_benchmark_table(tmp_path):
    from assistant.eval.dataset import load
    from assistant.eval.run import report, run_benchmark
    from assistant.ml.embedder import get_embedder
    from assistant.ml.features import FeatureStore
    from assistant.ml.train import TrainOptions

    ds = load(tiny_dataset(tmp_path / "tiny"))
    results, f, notes = run_benchmark(ds, get_embedder(), FeatureStore(tmp_path / "f.sqlite3"),
                                      opts=TrainOptions(epochs=15, batch=16))
    names = ["random", "most-used", "BM25 (sticker words)", "embedder text match", "kNN (training contexts)",
             "IGSR", "IGSR w/o memory", "IGSR w/o intent", "preference memory", "fused default"]
    assert list(results) == names
    fused = results["fused default"]
    assert fused["P@1"] > 60  # 4 clear intents; chance is 25
    assert fused["P@3"] >= fused["P@1"]
    text = report(results, "tiny", notes)
    assert "| fused default |" in text and "CLIP zero-shot: not run" in text
    # single posts, no earlier sessions: the ablation without memory cannot differ, and says why
    assert results["IGSR w/o memory"] == results["IGSR"]
    assert any(n.startswith("IGSR w/o memory: this dataset has no memories") for n in notes)


def test_cli_train_and_eval_dataset(tmp_path, data_dir, capsys):
    root = tiny_dataset(tmp_path / "tiny")
    assert main(["--data-dir", str(data_dir), "train", "--dataset", str(root), "--epochs", "5"]) == 0
    out = capsys.readouterr().out
    assert "saved" in out
    ckpt = data_dir / "heads" / "datasets" / "tiny" / "igsr.pt"
    meta = json.loads(ckpt.with_suffix(".json").read_text())["meta"]
    assert meta["seed"] == 0 and meta["data"]["train"] > 0 and "--dataset" in meta["command"]
    assert main(["--data-dir", str(data_dir), "eval", str(root), "--epochs", "5"]) == 0
    assert "| fused default |" in capsys.readouterr().out
    assert main(["--data-dir", str(data_dir), "eval", str(tmp_path / "missing")]) == 1
    assert "not a directory" in capsys.readouterr().out


def test_cli_train_from_history_gives_a_scorer(app, data_dir, capsys):
    from assistant.app import App
    from assistant.ml.igsr import load_scorer

    assert load_scorer(app) is None  # before any training
    seed_history(app, n=30)
    assert main(["--data-dir", str(data_dir), "train", "--epochs", "8"]) == 0
    assert "saved" in capsys.readouterr().out
    fresh = App(data_dir=data_dir)
    try:
        scorer = load_scorer(fresh)
        assert scorer is not None
        q = scorer.query(["I got the job, so happy!"], [])
        s = scorer.scores(q, [1, 2])
        assert s.shape == (2,) and set(q.intent) and abs(sum(q.intent.values()) - 1) < 1e-5
        assert (data_dir / "heads" / "preference.json").exists()
    finally:
        fresh.close()


def test_methods_lists_every_row_in_table_order(tmp_path):
    from assistant.eval.dataset import load
    from assistant.eval.run import METHODS, run_benchmark
    from assistant.ml.embedder import get_embedder
    from assistant.ml.features import FeatureStore
    from assistant.ml.train import TrainOptions

    ds = load(tiny_dataset(tmp_path / "tiny"))
    results, _, notes = run_benchmark(ds, get_embedder(), FeatureStore(tmp_path / "f.sqlite3"),
                                      opts=TrainOptions(epochs=3, batch=16), methods=METHODS)
    assert list(results) == [m for m in METHODS if m != "CLIP zero-shot"]  # no CLIP here, and it says so
    assert any(n.startswith("CLIP zero-shot: not run") for n in notes)
