"""The exact-sticker score's weights fitted on the user's own history (ml/calibration.py), end to end:
a real catalog and chat history, real e5, the real IGSR training, the Suggester reading the result."""

from __future__ import annotations

import json

import pytest

from assistant.ml import calibration
from assistant.retrieval.fusion import DEFAULT_LAYOUT


@pytest.fixture(scope="module")
def random_habits(tmp_path_factory):
    """200 stickers and 200 sends by "Alex", each sticker drawn at random whatever was said before
    (tests/benchmarks/bench_suggest.build_library): a history in which the conversation says nothing
    about the sticker sent, only how often each one was sent before does."""
    from tests.benchmarks.bench_suggest import build_library

    d = tmp_path_factory.mktemp("habits") / "data"
    build_library(d, n=200, sends=200, seed=3)
    return d


def test_train_fits_the_weights_on_the_latest_sends_and_the_suggester_uses_them(random_habits, tmp_path):
    import shutil

    from assistant.app import App
    from assistant.domain import Utterance
    from assistant.ml import igsr
    from assistant.ml.train import TrainOptions, save_result, train_on_history
    from assistant.retrieval.suggest import Suggester

    d = tmp_path / "data"
    shutil.copytree(random_habits, d)
    app = App(data_dir=d)
    try:
        result, _ = train_on_history(app, TrainOptions(epochs=15, seed=0), me="Alex")
        save_result(igsr.checkpoint_path(app), result)
        info = result.meta["exact_score"]
        assert "fitted" in info, info
        assert info["held_out"] == 40 and info["sends"] == 200
        saved = json.loads(calibration.path(app).read_text(encoding="utf-8"))
        assert saved["fitted"] == info["fitted"]
        fitted = info["fitted"]
        # Nothing said before a send points at the sticker: the held-out sends pull the weight of the
        # content match and of the reply intent down from msairs' (where both carry evidence).
        assert fitted["match"] < DEFAULT_LAYOUT.match and fitted["intent"] < DEFAULT_LAYOUT.intent - 0.3, fitted
        assert calibration.describe(info).startswith("exact-score weights fitted on your latest 40 sends: ")

        sug = Suggester(app)
        out = sug.suggest([Utterance("Sam", "thanks for the dinner last night")], k=5, me="Alex")
        assert out and sug.last_reply_intents
        layout = sug._active_layout(sug.library())
        assert {k: getattr(layout, k) for k in fitted} == fitted
        assert (layout.exact_value, layout.slots, layout.joint) == (DEFAULT_LAYOUT.exact_value, DEFAULT_LAYOUT.slots,
                                                                    DEFAULT_LAYOUT.joint)

        # A damaged file is no reason to stop suggesting: the defaults come back, and the log says why.
        calibration.path(app).write_text("{not json", encoding="utf-8")
        assert sug._active_layout(sug.library()) == DEFAULT_LAYOUT
        assert sug.suggest([Utterance("Sam", "see you at the party")], k=5, me="Alex")
    finally:
        app.close()


def test_a_short_history_keeps_the_defaults_and_says_why(demo_app):
    from assistant.ml.train import TrainOptions, train_on_history

    demo_app.override("clip", None)
    result, _ = train_on_history(demo_app, TrainOptions(epochs=5, batch=8, seed=0))
    info = result.meta["exact_score"]
    assert "skipped" in info and f"{calibration.MIN_HELD_OUT} needed" in info["skipped"]
    assert not calibration.path(demo_app).exists()
    assert calibration.load_layout(demo_app) == DEFAULT_LAYOUT
    assert calibration.describe(info).startswith("exact-score weights: not fitted (")


def test_eval_from_history_shows_the_app_ranking_with_default_and_fitted_weights(random_habits, capsys):
    """`eval --from-history` adds the app's ranking under both weights; the fitted one is fitted inside
    the training split, so the reported (latest) sends are never seen by the fit."""
    from assistant.app import App
    from assistant.cli import main
    from assistant.commands.evaluate import APP_DEFAULT, APP_FITTED
    from assistant.eval.dataset import from_history
    from assistant.ml.features import store_for
    from assistant.ml.train import TrainOptions

    assert main(["--data-dir", str(random_habits), "eval", "--from-history", "--me", "Alex", "--epochs", "8"]) == 0
    out = capsys.readouterr().out
    assert f"| {APP_DEFAULT} |" in out and f"| {APP_FITTED} |" in out, out
    assert f"{APP_FITTED}: fitted on the latest 32 of the 160 training sends" in out

    app = App(data_dir=random_habits)
    try:
        ds = from_history(app, me="Alex")
        before = [(s.id, s.split) for s in ds.samples]
        layout, info = calibration.fit_layout(ds, app.embedder, store_for(app), TrainOptions(epochs=8, seed=0))
        assert layout is not None and info["sends"] == 160 and info["held_out"] == 32
        assert [(s.id, s.split) for s in ds.samples] == before  # the dataset is left as it was
    finally:
        app.close()


def test_a_sticker_without_an_intent_is_labelled_by_its_emoji_in_the_history_dataset(demo_app):
    from assistant.eval.dataset import from_history
    from assistant.ml.emoji_intents import intent_for_emoji

    with demo_app.catalog.transaction() as conn:
        conn.execute("UPDATE stickers SET intent=NULL")
    ds = from_history(demo_app, test_frac=0.0, min_samples=4)
    by_emoji = [s for s in ds.stickers if intent_for_emoji(s.emoji)]
    assert by_emoji and all(s.intent == intent_for_emoji(s.emoji) for s in by_emoji)
    assert any(s.intent for s in ds.samples)  # the samples take their sticker's intent
