"""Background jobs for the window: every long call into the core runs here, never on the UI thread.

A `Job` wraps a core call of the shape `fn(progress, cancel) -> result` (the same contract the CLI uses
with `assistant.jobs`), runs it on a `QThreadPool`, and reports back through queued Qt signals:
`progress(done, total, what)`, `finished(result)`, `failed(message, details)`, `cancelled()`.

Progress is throttled in the worker thread (at most one signal per `PROGRESS_INTERVAL_S`, plus the
final one): an importer that reports every message would otherwise flood the event queue and stall
the UI thread with thousands of repaint requests, which is exactly what these workers exist to avoid.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from assistant.jobs import CancelToken, Cancelled, Progress

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05

JobFn = Callable[[Progress, CancelToken], Any]


def user_message(exc: BaseException) -> str:
    """One line a user can read; the traceback goes to the details."""
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0]
    if isinstance(exc, (ModuleNotFoundError, ImportError)):
        return f"This feature is not available in this build yet ({first})."
    if isinstance(exc, FileNotFoundError):
        return f"File not found: {exc.filename or first}"
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or first}"
    return first


PREWARM_MODULES = ("PIL.Image", "imagehash", "assistant.library.files", "assistant.library.ingest",
                   "assistant.chats.store", "assistant.library.manage")


def prewarm(progress=None, cancel=None) -> int:
    """Import the import/library stack off the UI thread while the user is idle.

    Loading a C extension holds the GIL for its whole initialisation; done inside the first import it
    showed up as a 100+ ms UI stall. Done early in a worker, the first import starts warm. No models.
    """
    import importlib

    n = 0
    for name in PREWARM_MODULES:
        if cancel is not None and cancel.cancelled:
            break
        try:
            importlib.import_module(name)
            n += 1
        except ImportError as exc:  # a missing optional piece shows up later, where it is used
            log.debug("prewarm: %s not importable (%s)", name, exc)
    return n


class Job(QObject):
    """One unit of background work with progress and cancel. Keep a reference until it finishes."""

    progress = Signal(int, int, str)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    done = Signal()  # after any of finished / failed / cancelled

    def __init__(self, title: str, fn: JobFn, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.fn = fn
        self.cancel_token = CancelToken()
        self.running = False
        self.is_done = False
        self.result: Any = None
        self.error: str | None = None
        self._last_emit = 0.0
        self._lock = threading.Lock()

    # --- called from the worker thread ------------------------------------------------------------
    def _progress(self, done: int, total: int, what: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_emit < PROGRESS_INTERVAL_S and not (total and done >= total):
                return
            self._last_emit = now
        self.progress.emit(int(done), int(total), str(what))

    def _run(self) -> None:
        try:
            result = self.fn(self._progress, self.cancel_token)
        except Cancelled:
            self.is_done = True
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
            log.exception("job %r failed", self.title)
            self.error = user_message(exc)
            self.is_done = True
            self.failed.emit(self.error, "".join(traceback.format_exception(exc)))
        else:
            self.result = result
            self.is_done = True
            if self.cancel_token.cancelled and result is None:
                self.cancelled.emit()
            else:
                self.finished.emit(result)
        finally:
            self.running = False
            self.done.emit()

    # --- UI thread ----------------------------------------------------------------------------
    def cancel(self) -> None:
        self.cancel_token.cancel()


class _Runnable(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job
        self.setAutoDelete(True)

    def run(self) -> None:  # noqa: D401 - Qt override
        self.job._run()


class JobRunner(QObject):
    """Owns the thread pool and keeps jobs alive until they finish (PySide would collect them)."""

    job_started = Signal(object)

    def __init__(self, parent: QObject | None = None, max_threads: int = 3) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._jobs: set[Job] = set()
        self.closed = False

    def start(self, title: str, fn: JobFn) -> Job:
        """Queue `fn`; it starts on the next turn of the event loop, so the caller can connect the
        job's signals first (a fast job could otherwise finish before anyone listens)."""
        job = Job(title, fn)
        if self.closed:
            job.cancel()  # delivered as cancelled on the next turn, never run
        self._jobs.add(job)
        job.done.connect(lambda j=job: self._jobs.discard(j))
        job.running = True
        QTimer.singleShot(0, self, lambda j=job: self._submit(j))
        self.job_started.emit(job)
        return job

    def _submit(self, job: Job) -> None:
        if job.cancel_token.cancelled:
            job.is_done = True
            job.running = False
            job.cancelled.emit()
            job.done.emit()
            return
        self.pool.start(_Runnable(job))

    @property
    def active(self) -> list[Job]:
        """Jobs whose final signals have not been delivered to the UI thread yet."""
        return list(self._jobs)

    def cancel_all(self) -> None:
        for job in list(self._jobs):
            job.cancel()

    def close(self) -> None:
        """Cancel every job and refuse new ones: the window is closing, and a job started now (by a
        timer that fires after the close, say) would outlive the objects its signals belong to."""
        self.closed = True
        self.cancel_all()

    def wait(self, timeout_ms: int = 30_000) -> bool:
        """Block until every job ends (used on close and in tests; never during normal use)."""
        return self.pool.waitForDone(timeout_ms)
