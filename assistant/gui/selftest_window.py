"""The window half of `--selftest`: show the main window offscreen for a moment, then close it."""

from __future__ import annotations

from assistant.selftest import SelfTestError


def open_window_briefly(app, window_ms: int) -> str:
    from PySide6.QtCore import QEventLoop, QTimer

    from assistant.gui.app import ensure_qapp
    from assistant.gui.main_window import MainWindow

    qapp = ensure_qapp()
    window = MainWindow(app)
    window.show()
    loop = QEventLoop()
    QTimer.singleShot(window_ms, loop.quit)
    loop.exec()
    shown = window.isVisible()
    size = window.size()
    window.close()  # its closeEvent cancels and waits for the window's background jobs
    window.deleteLater()
    qapp.processEvents()
    if not shown:
        raise SelfTestError("the window did not show")
    return f"platform {qapp.platformName()}, {size.width()}×{size.height()}"
