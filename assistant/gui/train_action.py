"""The Suggest tab's "Learn from my chats": `train --from-history` from the window.

Until the heads are trained on the user's own sends, suggestions have no learned match and no reply
intents (the status bar says so). Training takes seconds to minutes on a CPU, so it runs as a worker
job with a progress bar and a Cancel button under the Suggest row; the core call
(`ml.train.train_history_and_save`) checks the cancel at every progress report, and the checkpoint is
written only when the training finished. When it is done the Suggester is rebuilt and warmed again,
so the next suggestion uses the new head.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QPushButton, QWidget

from assistant.gui.job_row import JobRow
from assistant.gui.workers import Job, JobRunner


def result_text(result, data) -> str:
    """A short account of a finished training: pairs, time, and what the exact-score fit did, in the
    user's words (the full line, with the weights that moved, is in the tooltip and the CLI)."""
    from assistant.ml import calibration

    text = f"Learned from {len(data)} stickers you sent in {result.seconds:.0f} s."
    exact = result.meta.get("exact_score") or {}
    if "fitted" in exact:
        text += f" How much your habits count was fitted on your latest {exact['held_out']} sends."
    elif exact:
        need = round(calibration.MIN_HELD_OUT / calibration.HELD_OUT_FRAC)
        text += f" Your habits count as by default until you have sent {need} stickers or more."
    return text


class TrainAction(JobRow):
    """The "Learn from my chats" button (the Suggest panel places it in its row) and a progress row
    (this widget, hidden when idle). `trained` is emitted after a training was saved."""

    trained = Signal(object)

    def __init__(self, app_core, runner: JobRunner, me: Callable[[], str | None], parent: QWidget | None = None) -> None:
        super().__init__("Learning progress", "Cancel learning from my chats", "Learning status",
                         "Dismiss the learning report", parent=parent)
        self.app_core = app_core
        self.runner = runner
        self.me = me

        self.button = QPushButton("&Learn from my chats")
        self.button.setAccessibleName("Learn from my chats: train the suggestion model on the stickers you sent")
        self.button.setToolTip("Train the suggestion model on every sticker you sent in the imported chats, "
                               "with the messages before it (seconds to a few minutes)")
        self.button.clicked.connect(self.start)

    def start(self) -> Job | None:
        """Train on the history of the "Me" chosen in the panel. None while a training runs."""
        if self.job is not None:
            return None
        app_core, me = self.app_core, self.me()

        def run(progress, cancel):
            from assistant.ml.device import training_device
            from assistant.ml.train import TrainOptions, train_history_and_save

            opts = TrainOptions(device=training_device(app_core.config.settings.device))
            return train_history_and_save(app_core, opts, me, progress, cancel)

        self.job = job = self.runner.start("Learning from your chats", run)
        self.button.setEnabled(False)
        self.begin("Reading the stickers you sent…")
        job.progress.connect(self._progress)
        job.finished.connect(self._finished)
        job.failed.connect(lambda message, details: self.report(f"Could not learn from your chats: {message}"))
        job.cancelled.connect(lambda: self.report("Cancelled: the suggestion model is as it was."))
        job.done.connect(self._job_done)
        return job

    def _progress(self, done: int, total: int, what: str) -> None:
        self.set_progress(done, total)
        if self.cancel_btn.isEnabled():
            self.status.setText(what or "Learning…")

    def _finished(self, outcome) -> None:
        from assistant.ml.calibration import describe

        result, data = outcome
        self.report(result_text(result, data))
        exact = result.meta.get("exact_score")
        self.status.setToolTip(describe(exact) if exact else "")
        self.trained.emit(result)

    def _job_done(self) -> None:
        self.job = None
        self.button.setEnabled(True)
