"""Dropping real exports and sticker folders on the window imports them in workers, with progress,
cancel and a report, while the event loop keeps ticking."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from tests.conftest import shared_path
from tests.gui.conftest import STICKERS, TELEGRAM, wait_jobs
from tests.gui.ticks import TickGaps


def drop(window, paths) -> None:
    """Deliver a real drag-enter + drop of file URLs to the window, as a file manager would."""
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    target = window.tabs.currentWidget()
    pos = QPointF(target.mapTo(window, QPoint(10, 10)))
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


def test_drop_telegram_export_imports_into_catalog(window, qtbot):
    export = shared_path(*TELEGRAM)
    window.tabs.setCurrentIndex(1)  # dropping on any tab works
    drop(window, [export])
    assert window.tabs.currentWidget() is window.import_view
    wait_jobs(qtbot, window)
    catalog = window.app_core.catalog
    assert catalog.count("chats") >= 1
    assert catalog.count("messages") > 10
    assert catalog.count("sessions") >= 1
    row = window.import_view.rows[-1]
    assert "telegram" in row.subtitle.text()
    report = window.import_view.reports[-1]
    assert report.messages_added == catalog.count("messages")
    assert "new messages" in row.status.text()
    # the other views pick the import up
    window.tabs.setCurrentWidget(window.memory_view)
    qtbot.waitUntil(lambda: window.memory_view.sessions.topLevelItemCount() >= 1, timeout=10_000)
    assert window.suggest_panel.chat.count() == 1 + catalog.count("chats")


def test_drop_sticker_folder_adds_stickers_and_ticks_the_event_loop(window, qtbot):
    folder = shared_path(*STICKERS)
    n_files = sum(1 for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".png", ".webp"})
    ticks = TickGaps()
    ticks.start()
    drop(window, [folder])
    assert window.import_view.rows[-1].subtitle.text() == "sticker folder"
    wait_jobs(qtbot, window, timeout=300_000)
    ticks.stop()
    gaps = ticks.gaps
    assert window.app_core.catalog.count("stickers") >= n_files * 0.9
    worst = max(gaps)
    print(f"\nevent-loop: {len(gaps)} ticks, worst gap {worst * 1000:.0f} ms during a {n_files}-sticker import")
    # 50 ms is the product target (measured in tests/benchmarks/bench_gui.py); this bound only
    # catches a UI thread that blocks on the import, robustly on a loaded 2-core machine.
    assert worst < 0.25
    assert len(gaps) > 10


def test_cancel_keeps_finished_work_and_says_so(window, qtbot):
    folder = shared_path(*STICKERS)
    jobs = window.import_view.import_paths([folder])
    row = window.import_view.rows[-1]
    qtbot.waitUntil(lambda: row.bar.maximum() == 1000 or jobs[0].is_done, timeout=60_000)
    row.cancel_btn.click()
    wait_jobs(qtbot, window, timeout=120_000)
    report = window.import_view.reports[-1]
    assert report.cancelled
    assert "cancelled" in row.status.text()
    n = window.app_core.catalog.count("stickers")
    assert n < 140
    assert window.app_core.catalog.integrity_check() == "ok"


def test_unreadable_drop_reports_why(window, qtbot, tmp_path):
    bogus = tmp_path / "notes.json"
    bogus.write_text('{"hello": "world"}', encoding="utf-8")
    drop(window, [bogus])
    wait_jobs(qtbot, window)
    row = window.import_view.rows[-1]
    assert row.subtitle.text().startswith("not recognised")
    assert "errors" in row.status.text()
    assert row.details_btn.isVisible()
    row.details_btn.click()
    assert "not a chat export" in row.details.toPlainText()
    assert window.app_core.catalog.count("chats") == 0


def test_background_work_runs_after_import_with_its_own_progress(app, qtbot, tmp_path):
    """After an import that adds stickers the descriptions are built in the background (real OCR)."""
    import shutil

    from assistant.gui.main_window import MainWindow

    folder = tmp_path / "few"
    folder.mkdir()
    for p in sorted(shared_path(*STICKERS).glob("*.jpg"))[:3]:
        shutil.copy(p, folder / p.name)
    w = MainWindow(app, palette="light")
    qtbot.addWidget(w)
    w.show()
    w.import_view.import_paths([folder])
    qtbot.waitUntil(lambda: any("Describing" in r.title.text() for r in w.import_view.rows), timeout=60_000)
    wait_jobs(qtbot, w, timeout=300_000)
    describe_row = next(r for r in w.import_view.rows if "Describing" in r.title.text())
    assert describe_row.status.text().startswith("Done")
    described = app.catalog.conn.execute("SELECT COUNT(*) FROM stickers WHERE described_at IS NOT NULL").fetchone()[0]
    assert described == 3
