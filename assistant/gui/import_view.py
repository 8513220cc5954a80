"""The Import tab: drop or pick chat exports and sticker folders, watch each job, read its report.

Each dropped path becomes one job row (format, progress bar, cancel, report). When imports add
messages or stickers, the sticker descriptions and the memory bank are built in the background
afterwards, each with its own progress row, while the rest of the window stays usable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFileDialog, QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar,
                               QPushButton, QScrollArea, QSizePolicy, QVBoxLayout, QWidget)

from assistant.domain import ImportReport
from assistant.gui.workers import Job, JobRunner

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".webp", ".gif", ".jpg", ".jpeg", ".tgs", ".webm", ".apng", ".bmp"}


# --- what a dropped path is --------------------------------------------------------------------------
def count_images(path: Path, sample: int = 400) -> int:
    n = 0
    for i, child in enumerate(path.rglob("*")):
        if i >= sample:
            break
        if child.suffix.lower() in IMAGE_SUFFIXES and child.is_file():
            n += 1
    return n


def describe_path(path: Path) -> tuple[str, str]:
    """(kind, label): kind is "stickers" or "chat"; label is the detected format for the job row.

    A chat export is whatever `chats.detect` recognises; a folder it does not recognise but that
    holds images is a sticker folder (a stray labels.json or README beside them does not matter);
    a single image or a .wastickers pack is a sticker too."""
    from assistant.chats.detect import detect

    path = Path(path)
    if path.is_file() and (path.suffix.lower() in IMAGE_SUFFIXES or path.suffix.lower() == ".wastickers"):
        return "stickers", "sticker file"
    try:
        found = detect(path)
    except Exception as exc:  # noqa: BLE001 - the import itself reports what went wrong
        log.debug("detect failed for %s: %s", path, exc)
        found = []
    formats = sorted({d.fmt for d in found if d.fmt})
    if formats:
        return "chat", ", ".join(formats) + (f" ({len(found)} exports)" if len(found) > 1 else "")
    if path.is_dir() and count_images(path):
        return "stickers", "sticker folder"
    why = found[0].why if found else "nothing importable found"
    return "chat", f"not recognised: {why}"


def format_report(report: ImportReport) -> str:
    """A plain-text summary: what came in, what was skipped and why."""
    lines = []
    state = "cancelled — finished parts are kept" if report.cancelled else (
        "done" if report.ok else "finished with errors")
    lines.append(f"{report.source} ({report.format}): {state}")
    counts = [(report.chats, "chats"), (report.messages, "messages read"),
              (report.messages_added, "new messages"), (report.sessions, "sessions"),
              (report.sticker_messages, "sticker messages"),
              (report.stickers_with_files, "with sticker files"), (report.stickers_added, "new stickers"),
              (report.samples, "training samples")]
    lines.append(", ".join(f"{n:,} {label}" for n, label in counts if n) or "nothing new was found")
    for note in report.notes:
        lines.append(f"Note: {note}")
    if report.problems:
        lines.append(f"Skipped or unreadable ({len(report.problems)}):")
        for problem in report.problems[:500]:
            lines.append(("  ERROR " if problem.fatal else "  ") + str(problem))
        if len(report.problems) > 500:
            lines.append(f"  … and {len(report.problems) - 500} more (see the log file)")
    return "\n".join(lines)


# --- one row per job -------------------------------------------------------------------------------
class JobRow(QFrame):
    """Title, detected format, progress bar, cancel, and the report or error once it ends."""

    def __init__(self, job: Job, title: str, subtitle: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Job: {title}")
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.title = QLabel(title)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setStyleSheet("font-weight: bold")
        self.subtitle = QLabel(subtitle)
        self.subtitle.setTextFormat(Qt.TextFormat.PlainText)
        top.addWidget(self.title, 1)
        top.addWidget(self.subtitle)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setAccessibleName(f"Cancel {title}")
        self.cancel_btn.clicked.connect(self._cancel)
        top.addWidget(self.cancel_btn)
        outer.addLayout(top)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.bar.setAccessibleName(f"Progress of {title}")
        outer.addWidget(self.bar)
        self.status = QLabel("starting…")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        outer.addWidget(self.status)
        self.details_btn = QPushButton("Show details")
        self.details_btn.setAccessibleName(f"Details of {title}")
        self.details_btn.setCheckable(True)
        self.details_btn.hide()
        self.details_btn.toggled.connect(self._toggle_details)
        outer.addWidget(self.details_btn, 0, Qt.AlignmentFlag.AlignLeft)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setAccessibleName(f"Report of {title}")
        self.details.setMaximumHeight(220)
        self.details.hide()
        outer.addWidget(self.details)
        job.progress.connect(self.on_progress)
        job.failed.connect(self.on_failed)
        job.cancelled.connect(self.on_cancelled)

    def _cancel(self) -> None:
        self.job.cancel()
        self.cancel_btn.setEnabled(False)
        self.status.setText("cancelling after the current item…")

    def _toggle_details(self, on: bool) -> None:
        self.details.setVisible(on)
        self.details_btn.setText("Hide details" if on else "Show details")

    def on_progress(self, done: int, total: int, what: str) -> None:
        if total > 0:
            if self.bar.maximum() != 1000:
                self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(done, total) / total))
            self.bar.setFormat(f"{done:,} / {total:,}")
        self.status.setText(what)

    def _end(self) -> None:
        self.cancel_btn.hide()
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)
        self.bar.setValue(self.bar.maximum())

    def show_text(self, summary: str, details: str, expand: bool = False) -> None:
        self._end()
        self.status.setText(summary)
        if details:
            self.details.setPlainText(details)
            self.details_btn.show()
            self.details_btn.setChecked(expand)

    def on_failed(self, message: str, details: str) -> None:
        self.show_text(f"Failed: {message}", details)

    def on_cancelled(self) -> None:
        self.show_text("Cancelled. Work finished before the cancel is kept.", "")


# --- the tab ---------------------------------------------------------------------------------------
def _import_chat(app_core, path: Path, me: str | None):
    def run(progress, cancel):
        from assistant.chats.store import import_path

        return import_path(app_core, path, progress=progress, cancel=cancel, me=me)
    return run


def _add_stickers(app_core, path: Path):
    def run(progress, cancel):
        from assistant.library.ingest import add_folder

        return add_folder(app_core, path, progress=progress, cancel=cancel)
    return run


def _describe(app_core):
    def run(progress, cancel):
        from assistant.library.attributes import describe

        n = describe(app_core, None, progress=progress, cancel=cancel)
        return f"{n:,} stickers described"
    return run


def _build_memories(app_core):
    def run(progress, cancel):
        from assistant.memory.memories import build

        return build(app_core, None, progress=progress, cancel=cancel)
    return run


class ImportView(QWidget):
    """Emits `imported(report)` after each import that changed the catalog."""

    imported = Signal(object)
    background_done = Signal(str)

    def __init__(self, app_core, runner: JobRunner, parent: QWidget | None = None,
                 background_after_import: bool = True) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.runner = runner
        self.background_after_import = background_after_import
        self.rows: list[JobRow] = []
        self.reports: list[ImportReport] = []
        self._background: dict[str, Job] = {}
        self._pending_background = False

        layout = QVBoxLayout(self)
        drop = QFrame()
        drop.setObjectName("dropZone")
        drop.setFrameShape(QFrame.Shape.StyledPanel)
        drop.setStyleSheet("#dropZone { border: 2px dashed palette(mid); border-radius: 8px; }")
        dl = QVBoxLayout(drop)
        hint = QLabel("Drop chat exports (files, folders or .zip) and sticker folders anywhere on this "
                      "window.\nTelegram, WhatsApp, Discord, Signal, LINE, Messenger and WeChat exports "
                      "are recognised; export with media so the stickers come along.")
        hint.setTextFormat(Qt.TextFormat.PlainText)
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        dl.addWidget(hint)
        buttons = QHBoxLayout()
        self.file_btn = QPushButton("Import chat export…")
        self.file_btn.setAccessibleName("Import a chat export file")
        self.file_btn.clicked.connect(self._pick_files)
        self.folder_btn = QPushButton("Import export folder…")
        self.folder_btn.setAccessibleName("Import a chat export folder")
        self.folder_btn.clicked.connect(self._pick_folder)
        self.stickers_btn = QPushButton("Add sticker folder…")
        self.stickers_btn.setAccessibleName("Add a folder of stickers to the library")
        self.stickers_btn.clicked.connect(self._pick_stickers)
        for b in (self.file_btn, self.folder_btn, self.stickers_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        dl.addLayout(buttons)
        layout.addWidget(drop)

        self.empty = QLabel("No imports yet in this session.")
        self.empty.setTextFormat(Qt.TextFormat.PlainText)
        self.empty.setEnabled(False)
        layout.addWidget(self.empty)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        self.rows_layout = QVBoxLayout(holder)
        self.rows_layout.addStretch(1)
        scroll.setWidget(holder)
        scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout.addWidget(scroll, 1)

    # --- entry points ---------------------------------------------------------------------------
    def import_paths(self, paths: list[Path], force_kind: str | None = None) -> list[Job]:
        jobs = []
        for path in paths:
            path = Path(path)
            kind, label = (force_kind, "sticker folder") if force_kind else describe_path(path)
            if kind == "stickers":
                fn: Callable = _add_stickers(self.app_core, path)
                title = f"Stickers: {path.name}"
            else:
                me = self.app_core.config.settings.me_names[0] if self.app_core.config.settings.me_names else None
                fn = _import_chat(self.app_core, path, me)
                title = f"Chat export: {path.name}"
            jobs.append(self._start(title, label, fn, str(path)))
        return jobs

    def _start(self, title: str, subtitle: str, fn: Callable, tooltip: str = "", background: bool = False) -> Job:
        job = self.runner.start(title, fn)
        row = JobRow(job, title, subtitle)
        row.setToolTip(tooltip)
        self.rows.append(row)
        self.rows_layout.insertWidget(0, row)
        self.empty.hide()
        if not background:
            job.finished.connect(lambda result, r=row: self._import_finished(r, result))
        return job

    def _import_finished(self, row: JobRow, report) -> None:
        if isinstance(report, ImportReport):
            self.reports.append(report)
            lines = format_report(report).splitlines()
            rest = "\n".join(lines[2:])  # notes, then what was skipped and why
            row.show_text("\n".join(lines[:2]), rest, expand=bool(report.problems))
            if report.messages_added or report.stickers_added or report.sessions:
                self.imported.emit(report)
                if self.background_after_import:
                    self.start_background_work()
        else:
            row.show_text("Done.", "")
            self.imported.emit(report)

    def start_background_work(self) -> None:
        """Describe new stickers, then summarise new sessions: one after the other, one pass at a time.

        In sequence, not side by side: the summaries name stickers by the words OCR reads on them, and
        OCR and llama.cpp each keep every core busy, so running both at once slows each several-fold.
        A request while a pass runs queues exactly one more pass (the running one misses new items).
        """
        if any(not job.is_done for job in self._background.values()):
            self._pending_background = True
            return
        self._run_background_step(0)

    def _run_background_step(self, index: int) -> None:
        steps = (("describe", "Describing stickers (words, labels, search vectors)", _describe),
                 ("memories", "Building the memory bank (session summaries)", _build_memories))
        if index >= len(steps):
            if self._pending_background:
                self._pending_background = False
                self._run_background_step(0)
            return
        key, title, make = steps[index]
        job = self._start(title, "background", make(self.app_core), background=True)
        self._background[key] = job
        job.finished.connect(lambda result, k=key, j=job: self._background_finished(k, j, result))
        job.done.connect(lambda i=index: self._run_background_step(i + 1))  # after finish, failure or cancel

    def _background_finished(self, key: str, job: Job, result) -> None:
        for row in self.rows:
            if row.job is job:
                row.show_text(f"Done: {_summarise_result(result)}", "")
        self.background_done.emit(key)

    # --- dialogs ---------------------------------------------------------------------------------
    def _pick_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Import chat export", str(Path.home()),
                                                "Chat exports (*.json *.txt *.zip *.html *.csv *.db);;All files (*)")
        if files:
            self.import_paths([Path(f) for f in files])

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import chat export folder", str(Path.home()))
        if folder:
            self.import_paths([Path(folder)])

    def _pick_stickers(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add sticker folder", str(Path.home()))
        if folder:
            self.import_paths([Path(folder)], force_kind="stickers")


def _summarise_result(result) -> str:
    if result is None:
        return "nothing to do"
    if hasattr(result, "line"):
        return result.line()
    if isinstance(result, int):
        return f"{result:,} items"
    if isinstance(result, (list, tuple)):
        return f"{len(result):,} items"
    if isinstance(result, dict):
        return ", ".join(f"{k}: {v}" for k, v in list(result.items())[:6])
    return str(result)[:200]
