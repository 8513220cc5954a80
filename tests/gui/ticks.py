"""Measuring UI stalls: a 10 ms QTimer ticks, and each gap between ticks is how long the event loop
could not respond. Shared by the GUI tests and bench_gui."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer


class TickGaps:
    def __init__(self, interval_ms: int = 10) -> None:
        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def restart_clock(self) -> None:
        """Start the current gap now (e.g. right before blocking work that should count as one gap)."""
        self.last = time.perf_counter()

    def stop(self) -> None:
        self.timer.stop()
