"""The Library's "Write descriptions" action: one-line sticker descriptions by the user's multimodal GGUF.

Captioning costs seconds per sticker on a CPU, so it runs as a worker job with a progress bar and a
Cancel button next to the grid; `assistant.library.captions.caption` commits each sticker as it goes,
so a cancel keeps every description already written. Whether a describer is installed is only known
by looking at the model files, which happens in the worker too: when none is, the job hands back the
`CaptionsUnavailable` error and the user gets its install instructions plus a button to Settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox, QPushButton, QWidget

from assistant.domain import Sticker
from assistant.gui.job_row import JobRow
from assistant.gui.workers import Job, JobRunner

log = logging.getLogger(__name__)

MAX_FAILURES_SHOWN = 5
SETTINGS_HINT = ("In the app: File › Settings… › Models, select \"describer\" and use Import file… for the "
                 "model GGUF, then select \"describer-projector\" and import its mmproj GGUF.")


def report_text(report) -> str:
    """A short account of a `CaptionReport`: written, user edits kept, failures with their reasons."""
    head = "Descriptions cancelled" if report.cancelled else "Descriptions done"
    parts = [f"{report.written} written"]
    if report.kept_user_edits:
        parts.append(f"{report.kept_user_edits} kept (edited by you)")
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    text = f"{head}: {', '.join(parts)}."
    if report.cancelled:
        text += " Descriptions written before the cancel are kept."
    for sid, why in report.failed[:MAX_FAILURES_SHOWN]:
        text += f"\n  #{sid}: {why}"
    if len(report.failed) > MAX_FAILURES_SHOWN:
        text += f"\n  … and {len(report.failed) - MAX_FAILURES_SHOWN} more"
    return text


class CaptionAction(JobRow):
    """The Descriptions menu button (placed by the Library view, its two actions added to the view for
    the shortcut) and a progress row (this widget, hidden when idle).

    `done` carries the report once descriptions were written (or kept), so the view refreshes the grid
    and the details pane. `open_settings` is called when the user asks to install a describer.
    """

    done = Signal(object)

    def __init__(self, app_core, runner: JobRunner, selected: Callable[[], list[Sticker]],
                 open_settings: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__("Description progress", "Cancel writing descriptions", "Description status",
                         "Dismiss the description report", "Cancelling after the current sticker…", parent)
        self.app_core = app_core
        self.runner = runner
        self.selected = selected
        self.open_settings = open_settings
        self.message: QMessageBox | None = None  # the last message shown (tests read it)

        # one menu button, so the Library's action row keeps its width (the window must fit 700 px)
        self.write_act = QAction("&Write descriptions", self)
        self.write_act.setShortcut(QKeySequence("Ctrl+Shift+D"))
        self.write_act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.write_act.triggered.connect(lambda: self.start(redo=False))
        self.redo_act = QAction("&Rewrite the selected stickers' descriptions", self)
        self.redo_act.setToolTip("Replace their descriptions with new ones (descriptions you edited are kept)")
        self.redo_act.triggered.connect(lambda: self.start(redo=True))
        self.menu_btn = QPushButton("Descri&ptions")
        self.menu_btn.setAccessibleName("Sticker descriptions: write or rewrite them with your describer model")
        menu = QMenu(self.menu_btn)
        menu.setAccessibleName("Sticker descriptions")
        menu.addAction(self.write_act)
        menu.addAction(self.redo_act)
        self.menu_btn.setMenu(menu)
        self.progress.setFormat("%v / %m")
        # hidden until a job starts; the owner calls update_buttons() once its selection exists

    # --- buttons -----------------------------------------------------------------------------------
    def update_buttons(self) -> None:
        """Write is always on (it explains itself when no describer is installed); redo needs a selection."""
        busy = self.job is not None
        n = len(self.selected())
        self.write_act.setEnabled(not busy)
        self.redo_act.setEnabled(not busy and n > 0)
        self.write_act.setText(f"&Write descriptions for the {n} selected stickers that have none" if n else
                               "&Write descriptions for every sticker that has none")
        self.menu_btn.setToolTip("Writing descriptions…" if busy else
                                 "Write one-line descriptions with your multimodal model (Ctrl+Shift+D)")

    def start(self, redo: bool = False) -> Job | None:
        """Caption the selection (without redo: only its stickers lacking a description), or, with
        nothing selected, every sticker lacking one. Returns the job, or None when nothing is to do."""
        if self.job is not None:
            return None
        chosen = self.selected()
        ids: list[int] | None
        if redo:
            ids = [s.id for s in chosen]
            if not ids:
                return None
        elif chosen:
            ids = [s.id for s in chosen if not (s.description or "").strip()]
            if not ids:
                self._show_report("The selected stickers already have descriptions; use Descriptions › Rewrite "
                                  "to replace them.")
                return None
        else:
            ids = None
        app_core = self.app_core

        def run(progress, cancel):
            from assistant.library import captions

            try:
                captions.describer_for(app_core)  # files only: no model is loaded yet
            except captions.CaptionsUnavailable as exc:
                return exc  # not a failure of the job: the user is told how to install one
            return captions.caption(app_core, ids, redo=redo, progress=progress, cancel=cancel)

        self.job = job = self.runner.start("Writing descriptions", run)
        self.begin("Loading the describer…")
        self.update_buttons()
        job.progress.connect(self._progress)
        job.finished.connect(self._finished)
        job.failed.connect(self._failed)
        job.cancelled.connect(lambda: self._show_report("Cancelled before any description was written."))
        job.done.connect(self._job_done)
        return job

    # --- job signals -------------------------------------------------------------------------------
    def _progress(self, done: int, total: int, what: str) -> None:
        self.set_progress(done, total)
        if self.cancel_btn.isEnabled():
            self.status.setText(f"Writing descriptions: {done} of {total}" if total else
                                "No sticker is waiting for a description.")

    def _finished(self, result) -> None:
        from assistant.library.captions import CaptionsUnavailable

        if isinstance(result, CaptionsUnavailable):
            self.hide()
            self._show_unavailable(str(result))
            return
        self._show_report(report_text(result) if (result.written or result.kept_user_edits or result.failed
                                                  or result.cancelled)
                          else "No sticker is waiting for a description.")
        self.done.emit(result)

    def _failed(self, message: str, details: str) -> None:
        from assistant.gui.library_view import show_error

        self._show_report(f"Descriptions stopped: {message}")
        show_error(self.window(), "Could not write descriptions", message, details)
        self.done.emit(None)  # descriptions written before the error are kept: show them

    def _job_done(self) -> None:
        self.job = None
        self.update_buttons()

    def _show_report(self, text: str) -> None:
        self.report(text)

    def _show_unavailable(self, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "No describer installed",
                          f"Descriptions need a multimodal model. {text[:1].upper()}{text[1:]}.",
                          parent=self.window())
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setInformativeText(SETTINGS_HINT)
        settings = box.addButton("Open Settings › Models…", QMessageBox.ButtonRole.ActionRole)
        settings.setAccessibleName("Open Settings to install a describer model")
        box.addButton(QMessageBox.StandardButton.Close)
        box.setDefaultButton(settings)
        box.setAccessibleName("No describer installed")
        # after the box has closed: Settings is modal and must not open on top of it
        settings.clicked.connect(lambda: QTimer.singleShot(0, self, self.open_settings))
        self.message = box
        box.open()
