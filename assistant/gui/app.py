"""Qt application setup: the QApplication, palettes, the single-instance guard and `run_gui`.

The window is built before any model is touched (the core loads models lazily, the first time a
feature needs one), so it opens in well under two seconds even on a cold machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QLockFile, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

APP_TITLE = "Sticker Assistant"
LOCK_NAME = "gui.lock"


def has_display() -> bool:
    """False where Qt would abort for want of a display (Linux with neither X11 nor Wayland)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY")
                or os.environ.get("WAYLAND_DISPLAY"))


NO_DISPLAY_MESSAGE = (
    "No display found (no $DISPLAY or $WAYLAND_DISPLAY), so the window cannot open here.\n"
    "Open it from a desktop session, or run it under a virtual display:\n"
    "  xvfb-run -a sticker-assistant gui\n"
    "Everything else works in the terminal: sticker-assistant import / suggest / library / memory.")


def ensure_qapp(argv: list[str] | None = None) -> QApplication:
    qapp = QApplication.instance()
    if qapp is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        qapp = QApplication(argv if argv is not None else [sys.argv[0]])
    qapp.setApplicationName(APP_TITLE)
    qapp.setOrganizationName("sticker-assistant")
    qapp.setApplicationDisplayName(APP_TITLE)
    return qapp  # type: ignore[return-value]


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 30, 34), QColor(45, 45, 50), QColor(230, 230, 230)
    disabled = QColor(127, 127, 127)
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, window)
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor(60, 60, 66))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor(150, 150, 150))
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, window)
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor(255, 80, 80))
    p.setColor(QPalette.ColorRole.Link, QColor(90, 160, 255))
    p.setColor(QPalette.ColorRole.Highlight, QColor(60, 120, 215))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_palette(qapp: QApplication, mode: str) -> None:
    """`system`, `light` or `dark`. Fusion draws both palettes consistently on every platform."""
    qapp.setStyle("Fusion")
    if mode == "dark":
        qapp.setPalette(dark_palette())
    else:
        qapp.setPalette(qapp.style().standardPalette())


class SingleInstance:
    """One window per data dir: two processes writing one embedded Chroma store can corrupt it."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_NAME
        self.lock = QLockFile(str(self.path))
        self.lock.setStaleLockTime(0)  # a crashed owner's lock is detected by its dead pid instead

    def acquire(self) -> bool:
        if self.lock.tryLock(100):
            return True
        # A lock left by a process that no longer exists is stale; take it over.
        if self.lock.removeStaleLockFile():
            return self.lock.tryLock(100)
        return False

    def owner(self) -> str:
        info = self.lock.getLockInfo()  # PySide6 returns (pid, host, app) or an empty value
        if isinstance(info, tuple) and len(info) >= 2:
            pid, host = info[-3], info[-2]
            return f"process {pid} on {host}" if pid else "another process"
        return "another process"

    def release(self) -> None:
        self.lock.unlock()


def refusal_text(data_dir: Path, owner: str) -> str:
    return (f"Sticker Assistant is already open for the data folder {data_dir} ({owner}).\n"
            "Switch to that window, or start with --data-dir to use a different folder.")


def run_gui(app_core, *, compact: bool = False, palette: str | None = None,
            argv: list[str] | None = None) -> int:
    """Open the main window (or only the compact suggestion panel) and run the event loop."""
    if not has_display():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 2
    qapp = ensure_qapp(argv)
    guard = SingleInstance(app_core.config.data_dir)
    if not guard.acquire():
        text = refusal_text(app_core.config.data_dir, guard.owner())
        print(text, file=sys.stderr)
        if qapp.platformName() not in ("offscreen", "minimal"):
            box = QMessageBox(QMessageBox.Icon.Information, APP_TITLE, text)
            box.setTextFormat(Qt.TextFormat.PlainText)
            box.exec()
        return 1
    from assistant.gui.main_window import MainWindow

    try:
        window = MainWindow(app_core, palette=palette)
        if compact:
            window.show_compact_panel()
        else:
            window.show()
            from assistant.gui.welcome import maybe_show_welcome

            maybe_show_welcome(window, app_core)  # once per data folder, non-blocking
        return qapp.exec()
    finally:
        guard.release()
