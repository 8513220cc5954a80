"""The row a long action shows while its worker job runs: progress bar, Cancel, status, Dismiss.

Library › Descriptions and Suggest › Learn from my chats both run minutes of work in a worker and
report under their buttons; this is that row once, so both read and behave alike (hidden when idle,
Cancel while running, a report with Dismiss after).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class JobRow(QWidget):
    """Subclasses call `__init__` with what the row is about (for screen readers), connect
    `cancel_btn` to their cancel, and drive it with `begin`, `set_progress` and `report`."""

    def __init__(self, progress_name: str, cancel_name: str, status_name: str, dismiss_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setAccessibleName(progress_name)
        row.addWidget(self.progress, 1)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setAccessibleName(cancel_name)
        row.addWidget(self.cancel_btn)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAccessibleName(status_name)
        row.addWidget(self.status, 2)
        self.close_btn = QPushButton("Dismiss")
        self.close_btn.setAccessibleName(dismiss_name)
        self.close_btn.clicked.connect(self.hide)
        row.addWidget(self.close_btn)
        self.hide()

    def begin(self, text: str) -> None:
        """A job started: a busy bar until the first count, Cancel on, no Dismiss."""
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_btn.setEnabled(True)
        self.cancel_btn.show()
        self.close_btn.hide()
        self.status.setText(text)
        self.show()

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, max(total, 1)))

    def report(self, text: str) -> None:
        """The job ended: its account, and Dismiss."""
        self.progress.hide()
        self.cancel_btn.hide()
        self.close_btn.show()
        self.status.setText(text)
        self.show()
