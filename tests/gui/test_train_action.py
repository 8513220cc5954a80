"""The Suggest tab's "Learn from my chats": real training on the demo history in a worker, its progress
row, cancel, the report, and the next suggestion using the new head."""

from __future__ import annotations

import pytest


@pytest.fixture
def demo_window(tmp_path, qtbot):
    """A window over its own seeded demo data dir: training writes heads/, which the shared `stocked`
    library must never get (its tests expect no trained head)."""
    from assistant.app import App
    from assistant.demo import seed_demo
    from tests.gui.conftest import shown_window

    app = App(data_dir=tmp_path / "data")
    assert seed_demo(app).stickers >= 10
    with shown_window(app, qtbot) as w:
        yield w
    app.close()


def test_learn_from_my_chats_trains_saves_and_the_next_suggestion_uses_the_head(demo_window, qtbot):
    from assistant.ml import igsr

    panel = demo_window.suggest_panel
    trainer = panel.trainer
    demo_window.tabs.setCurrentWidget(panel)
    assert trainer is not None and trainer.button.isVisible() and trainer.isHidden()
    ckpt = igsr.checkpoint_path(demo_window.app_core)
    assert not ckpt.exists()
    panel.paste.setPlainText("Sam: I fixed your bike for you")
    with qtbot.waitSignal(trainer.trained, timeout=600_000):
        qtbot.mouseClick(trainer.button, qtbot_left())
        assert trainer.isVisible() and not trainer.button.isEnabled()  # progress row shown, one run at a time
    assert ckpt.exists() and not ckpt.with_suffix(".resume.pt").exists()
    text = trainer.status.text()
    assert text.startswith("Learned from ") and "stickers you sent" in text, text
    # the demo's few sends: the habit weights stay the defaults, and the report says until when
    assert text.endswith("Your habits count as by default until you have sent 150 stickers or more."), text
    assert trainer.status.toolTip().startswith("exact-score weights: not fitted (")
    # the panel suggests again with the new head: the trained head's reply intents are in use
    qtbot.waitUntil(lambda: bool(panel._get_suggester().last_reply_intents), timeout=120_000)
    qtbot.waitUntil(lambda: trainer.button.isEnabled(), timeout=10_000)


def test_cancel_leaves_the_model_as_it_was(demo_window, qtbot):
    from assistant.ml import igsr

    trainer = demo_window.suggest_panel.trainer
    job = trainer.start()
    trainer.cancel()
    with qtbot.waitSignal(job.done, timeout=600_000, raising=False):
        pass
    qtbot.waitUntil(lambda: trainer.job is None, timeout=60_000)
    assert not igsr.checkpoint_path(demo_window.app_core).exists()
    assert trainer.status.text() == "Cancelled: the suggestion model is as it was."
    assert trainer.button.isEnabled() and not trainer.close_btn.isHidden() and trainer.cancel_btn.isHidden()


def test_without_sends_the_report_says_what_is_missing(window, qtbot):
    trainer = window.suggest_panel.trainer
    window.tabs.setCurrentWidget(window.suggest_panel)
    job = trainer.start()
    with qtbot.waitSignal(job.done, timeout=120_000, raising=False):
        pass
    qtbot.waitUntil(lambda: trainer.job is None, timeout=10_000)
    text = trainer.status.text()
    assert text.startswith("Could not learn from your chats: ") and "import more chats" in text, text


def qtbot_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_the_report_says_whether_the_habit_weights_were_fitted():
    from types import SimpleNamespace

    from assistant.gui.train_action import result_text

    fitted = SimpleNamespace(seconds=42.4, meta={"exact_score": {"fitted": {}, "defaults": {}, "held_out": 120}})
    assert result_text(fitted, [0] * 600) == ("Learned from 600 stickers you sent in 42 s. How much your habits "
                                              "count was fitted on your latest 120 sends.")
    plain = SimpleNamespace(seconds=3.0, meta={})
    assert result_text(plain, [0] * 18) == "Learned from 18 stickers you sent in 3 s."
