"""The row a long action shows while its worker job runs: progress bar, Cancel, status, Dismiss.

Library › Descriptions and Suggest › Learn from my chats both run minutes of work in a worker and
report under their buttons; this is that row once, so both read and behave alike (hidden when idle,
Cancel while running, a report with Dismiss after).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class JobRow(QWidget):
    """Subclasses call `__init__` with what the row is about (for screen readers) and what it says
    while a cancel takes effect, keep their running job in `job`, and drive the row with `begin`,
    `set_progress` and `report`; Cancel cancels `job`."""

    def __init__(self, progress_name: str, cancel_name: str, status_name: str, dismiss_name: str,
                 cancelling: str = "Cancelling…", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = None  # the running Job, set by the subclass
        self.cancelling = cancelling
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setAccessibleName(progress_name)
        row.addWidget(self.progress, 1)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setAccessibleName(cancel_name)
        self.cancel_btn.clicked.connect(self.cancel)
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

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.cancel_btn.setEnabled(False)
            self.status.setText(self.cancelling)

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
