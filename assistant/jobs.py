"""Progress and cancellation for long work, shared by the CLI (a progress bar) and the GUI (workers).

Core functions take `progress(done, total, what)` and a `CancelToken`; they check the token between
units of work (a chat, a file, a session), so cancel keeps every finished unit and loses none.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

Progress = Callable[[int, int, str], None]


class Cancelled(Exception):
    """Raised by `CancelToken.check()`; finished units of work are already committed."""


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def no_progress(done: int, total: int, what: str) -> None:  # noqa: ARG001
    return None


class TerminalProgress:
    """A one-line progress bar with ETA on stderr; silent when stderr is not a terminal unless forced."""

    def __init__(self, label: str = "", force: bool = False, min_interval: float = 0.1) -> None:
        from assistant.domain import printable

        self.label = printable(label)
        self.enabled = force or sys.stderr.isatty()
        self.start = time.monotonic()
        self.last = 0.0
        self.min_interval = min_interval
        self._shown = False

    def __call__(self, done: int, total: int, what: str) -> None:
        if not self.enabled:
            return
        from assistant.domain import printable

        what = printable(what)
        now = time.monotonic()
        if now - self.last < self.min_interval and done < total:
            return
        self.last = now
        elapsed = now - self.start
        if total > 0:
            frac = min(1.0, done / total)
            eta = (elapsed / frac - elapsed) if frac > 0 else 0.0
            bar = "#" * int(frac * 30)
            line = f"\r{self.label} [{bar:<30}] {frac * 100:5.1f}% ETA {eta:5.0f}s {what[:40]:<40}"
        else:
            line = f"\r{self.label} {done} {what[:60]:<60}"
        sys.stderr.write(line)
        sys.stderr.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\n")
            sys.stderr.flush()
