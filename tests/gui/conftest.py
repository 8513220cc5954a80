"""GUI fixtures: a main window over a fresh data dir, offscreen (QT_QPA_PLATFORM is set in tests/conftest.py)."""

from __future__ import annotations

import pytest

TELEGRAM = ("fixtures", "exports", "frozenspider__chat-history-manager", "telegram_2020-01", "result.json")
STICKERS = ("fixtures", "stickers", "stickerconv-demo")


@pytest.fixture
def window(app, qtbot):
    from assistant.gui.main_window import MainWindow

    w = MainWindow(app, palette="light")
    w.import_view.background_after_import = False  # OCR/LLM passes have their own tests
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.runner.cancel_all()
    w.runner.wait(30_000)


def wait_jobs(qtbot, window, timeout=60_000):
    """Until every background job of the window has ended and its signals were delivered."""
    qtbot.waitUntil(lambda: not window.runner.active, timeout=timeout)
    qtbot.wait(50)
