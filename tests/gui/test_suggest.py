"""Paste a conversation, get suggestions from the real Suggester, copy one to the clipboard by
click, keyboard, or the clipboard watcher; the compact always-on-top panel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


CONVERSATION = "Anna: I passed the exam!!\nSam: no way, congratulations\nAnna: let's celebrate tonight"


@pytest.fixture
def window(stocked_window):
    return stocked_window


def _suggest(panel, qtbot, text=CONVERSATION):
    panel.paste.setPlainText(text)
    with qtbot.waitSignal(panel.suggestions_ready, timeout=900_000) as blocker:
        job = panel.suggest_now()
        assert job is not None
    return blocker.args[0]


def test_paste_suggest_and_click_copies_image_and_file(stocked, window, qtbot):
    panel = window.suggest_panel
    window.tabs.setCurrentWidget(panel)
    suggestions = _suggest(panel, qtbot)
    assert suggestions, panel.status.text()
    assert panel.grid.count() == len(suggestions) <= 8
    item = panel.grid.item(0)
    tip = item.toolTip()
    assert "score" in tip and (not suggestions[0].reasons or suggestions[0].reasons[0][:20] in tip.replace("&#x27;", "'"))
    QApplication.clipboard().clear()
    rect = panel.grid.visualItemRect(item)
    qtbot.mouseClick(panel.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    mime = QApplication.clipboard().mimeData()
    assert mime.hasImage()
    image = QApplication.clipboard().image()
    assert not image.isNull() and image.width() > 16
    assert mime.hasUrls()
    assert mime.urls()[0].toLocalFile() == str(suggestions[0].sticker.path)
    assert "Copied" in panel.status.text()


def test_keyboard_only_arrows_enter_escape(stocked, window, qtbot):
    panel = window.suggest_panel
    window.tabs.setCurrentWidget(panel)
    panel.paste.setFocus()
    panel.paste.setPlainText(CONVERSATION)
    with qtbot.waitSignal(panel.suggestions_ready, timeout=900_000):
        qtbot.keyClick(panel.paste, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert panel.grid.count() >= 2
    panel.grid.setFocus()
    assert panel.grid.currentRow() == 0
    qtbot.keyClick(panel.grid, Qt.Key.Key_Right)
    with qtbot.waitSignal(panel.copied, timeout=5_000) as blocker:
        qtbot.keyClick(panel.grid, Qt.Key.Key_Return)
    assert blocker.args[0] is panel.suggestions[1]
    assert QApplication.clipboard().mimeData().hasImage()
    qtbot.keyClick(panel.grid, Qt.Key.Key_Escape)
    assert panel.paste.hasFocus() or QApplication.focusWidget() is panel.paste


def test_watch_clipboard_suggests_for_copied_conversation(stocked, window, qtbot):
    from assistant.gui.suggest_panel import looks_like_conversation

    assert looks_like_conversation("Bob: hi\nAlice: hey, how was the trip?")
    assert not looks_like_conversation("https://example.com/page")
    assert not looks_like_conversation("")
    panel = window.suggest_panel
    window.tabs.setCurrentWidget(panel)
    panel.watch.setChecked(True)
    assert stocked.config.load_settings().watch_clipboard is True
    with qtbot.waitSignal(panel.suggestions_ready, timeout=900_000):
        QApplication.clipboard().setText("Bob: the cat knocked my coffee over again\nAlice: oh no lol")
    assert "coffee" in panel.paste.toPlainText()
    assert panel.grid.count() > 0
    panel.watch.setChecked(False)


def test_compact_panel_is_on_top_and_hides_on_escape(stocked, window, qtbot):
    window.show_compact_panel()
    compact = window.compact
    qtbot.waitExposed(compact)
    assert compact.windowFlags() & Qt.WindowType.WindowStaysOnTopHint
    suggestions = _suggest(compact.panel, qtbot)
    assert suggestions
    compact.panel.grid.setFocus()
    qtbot.keyClick(compact.panel.grid, Qt.Key.Key_Escape)
    assert not compact.isVisible()


def test_warm_up_prepares_the_first_suggestion_in_a_worker(stocked, window, qtbot):
    """The window warms the Suggester up in a worker (library, models, habits); the first paste then
    finds everything loaded and says "Suggesting…", not "Loading models…"."""
    panel = window.suggest_panel
    job = panel.warm_up()
    assert panel.warm_up() is job  # one warm-up at a time
    took = []
    job.finished.connect(took.append)
    with qtbot.waitSignal(job.done, timeout=900_000):
        pass
    assert took and set(took[0]) == {"library", "embedder", "models", "learned match", "memory bank", "habits"}
    sug = panel._get_suggester()
    assert sug._lib is not None and len(sug._lib.ids) > 0
    assert any(key.startswith("preference:") for key in sug._lib.extras)  # the habits are built
    panel.paste.setPlainText(CONVERSATION)
    job = panel.suggest_now()
    assert panel.status.text() == "Suggesting…"
    with qtbot.waitSignal(job.done, timeout=900_000):
        pass
