"""Settings: data folder, models (status, install, import), device, Chroma, remote LLM, privacy.

Model checks and installs run in workers (a first check may hash a 0.5 GB file; an install joins
part wheels). The remote LLM key goes to the system keyring through `assistant.secrets`, never into the
settings file; with no keyring the dialog says so and keeps nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QGroupBox, QHBoxLayout, QKeySequenceEdit, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QRadioButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from assistant.gui.hotkey import ShortcutError, parse_shortcut, shortcut_setting, store_shortcut
from assistant.gui.thumbs import plain_tooltip
from assistant.gui.workers import Job, JobRunner

log = logging.getLogger(__name__)

REMOTE_KEY_NAME = "remote_llm_key"
DEVICES = ("auto", "cpu", "cuda", "mps")

PRIVACY = ("Everything runs on this computer: your chats, stickers, summaries and models stay in the data "
           "folder. Nothing is sent anywhere unless you set a remote LLM endpoint above; then session text "
           "is sent to that endpoint for summaries. Keys are kept in the system keyring, never in files.")


def _label(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    return label


class SettingsDialog(QDialog):
    models_changed = Signal()
    shortcut_changed = Signal()  # saved with a different global shortcut (or on/off): restart the listener

    def __init__(self, app_core, runner: JobRunner, parent: QWidget | None = None, hotkey=None) -> None:
        super().__init__(parent)
        self.hotkey = hotkey
        self.app_core = app_core
        self.runner = runner
        self.settings = app_core.config.settings
        self._install: Job | None = None
        self._refresh: Job | None = None  # the latest model check; earlier ones' results are stale
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.resize(820, 880)
        layout = QVBoxLayout(self)

        # data folder
        data = QGroupBox("Data folder")
        dl = QHBoxLayout(data)
        self.data_dir = QLineEdit(str(app_core.config.data_dir))
        self.data_dir.setReadOnly(True)
        self.data_dir.setAccessibleName("Data folder")
        dl.addWidget(self.data_dir, 1)
        open_btn = QPushButton("Open")
        open_btn.setAccessibleName("Open the data folder")
        open_btn.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(app_core.config.data_dir))))
        dl.addWidget(open_btn)
        layout.addWidget(data)
        hint = _label("To use another folder, start with --data-dir FOLDER (or set STICKER_ASSISTANT_DATA_DIR).")
        hint.setEnabled(False)
        layout.addWidget(hint)

        # models
        models = QGroupBox("Models")
        ml = QVBoxLayout(models)
        self.models = QTreeWidget()
        self.models.setAccessibleName("Model status")
        self.models.setHeaderLabels(["Role", "Status", "Model", "To turn on"])
        self.models.setRootIsDecorated(False)
        self.models.setMinimumHeight(140)
        self.models.setColumnHidden(3, True)  # the fix for the selected role shows below the list
        self.models.currentItemChanged.connect(self._model_selected)
        ml.addWidget(self.models)
        row = QHBoxLayout()
        self.install_btn = QPushButton("&Install")
        self.install_btn.setAccessibleName("Install the selected model")
        self.install_btn.clicked.connect(self.install_selected)
        self.import_btn = QPushButton("Import &file…")
        self.import_btn.setAccessibleName("Import a model file for the selected role")
        self.import_btn.clicked.connect(self.import_selected)
        self.recheck_btn = QPushButton("Check again")
        self.recheck_btn.setAccessibleName("Check the models again")
        self.recheck_btn.clicked.connect(self.refresh_models)
        self.cancel_install = QPushButton("Cancel")
        self.cancel_install.setAccessibleName("Cancel the install")
        self.cancel_install.hide()
        self.cancel_install.clicked.connect(lambda: self._install and self._install.cancel())
        for b in (self.install_btn, self.import_btn, self.recheck_btn, self.cancel_install):
            row.addWidget(b)
        row.addStretch(1)
        ml.addLayout(row)
        self.model_progress = QProgressBar()
        self.model_progress.setAccessibleName("Model install progress")
        self.model_progress.hide()
        ml.addWidget(self.model_progress)
        self.model_status = _label("Checking models…")
        ml.addWidget(self.model_status)
        layout.addWidget(models)

        # device and storage
        form_box = QGroupBox("Compute and storage")
        form = QFormLayout(form_box)
        self.device = QComboBox()
        self.device.setAccessibleName("Device")
        self.device.addItems(["auto (CUDA, then MPS, then CPU)", "CPU", "CUDA (NVIDIA GPU)", "MPS (Apple GPU)"])
        self.device.setCurrentIndex(DEVICES.index(self.settings.device) if self.settings.device in DEVICES else 0)
        form.addRow("&Device", self.device)
        chroma_row = QHBoxLayout()
        self.chroma_embedded = QRadioButton("Embedded (in the data folder)")
        self.chroma_server = QRadioButton("Server")
        group = QButtonGroup(self)
        group.addButton(self.chroma_embedded)
        group.addButton(self.chroma_server)
        self.chroma_url = QLineEdit(self.settings.chroma_url or "")
        self.chroma_url.setPlaceholderText("http://127.0.0.1:8000")
        self.chroma_url.setAccessibleName("Chroma server URL")
        (self.chroma_server if self.settings.chroma_url else self.chroma_embedded).setChecked(True)
        self.chroma_url.setEnabled(bool(self.settings.chroma_url))
        self.chroma_server.toggled.connect(self.chroma_url.setEnabled)
        chroma_row.addWidget(self.chroma_embedded)
        chroma_row.addWidget(self.chroma_server)
        chroma_row.addWidget(self.chroma_url, 1)
        form.addRow("Vector store", chroma_row)
        layout.addWidget(form_box)

        # global shortcut
        shortcut_box = QGroupBox("Global shortcut")
        sl = QVBoxLayout(shortcut_box)
        srow = QHBoxLayout()
        text, on = shortcut_setting(self.settings)
        self.shortcut_on = QCheckBox("Open the suggestion panel from any app with")
        self.shortcut_on.setAccessibleName("Global shortcut on")
        self.shortcut_on.setChecked(on)
        self.shortcut = QKeySequenceEdit(QKeySequence(text))
        self.shortcut.setMaximumSequenceLength(1)
        self.shortcut.setClearButtonEnabled(True)
        self.shortcut.setAccessibleName("Global shortcut keys")
        self.shortcut.setToolTip(plain_tooltip("Click, then press the keys (e.g. Ctrl+Alt+S). The panel opens "
                                               "with the text you copied and suggests for it."))
        self.shortcut.setEnabled(on)
        self.shortcut_on.toggled.connect(self.shortcut.setEnabled)
        self.shortcut.setMinimumWidth(160)
        srow.addWidget(self.shortcut_on)
        srow.addWidget(self.shortcut)
        srow.addStretch(1)
        sl.addLayout(srow)
        self.shortcut_status = _label(hotkey.status if hotkey is not None else "")
        self.shortcut_status.setAccessibleName("Global shortcut status")
        sl.addWidget(self.shortcut_status)
        if hotkey is not None:
            hotkey.status_changed.connect(self._shortcut_status_changed)
        layout.addWidget(shortcut_box)

        # remote LLM
        remote = QGroupBox("Remote LLM (optional, off by default)")
        rf = QFormLayout(remote)
        self.remote_url = QLineEdit(self.settings.remote_llm_url or "")
        self.remote_url.setPlaceholderText("OpenAI-compatible endpoint, e.g. https://api.example.com/v1")
        self.remote_url.setAccessibleName("Remote LLM endpoint")
        self.remote_model = QLineEdit(self.settings.remote_llm_model or "")
        self.remote_model.setAccessibleName("Remote LLM model")
        self.remote_key = QLineEdit()
        self.remote_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.remote_key.setAccessibleName("Remote LLM key")
        from assistant import secrets

        has_key = secrets.get_secret(REMOTE_KEY_NAME) is not None
        self.remote_key.setPlaceholderText("stored in the keyring" if has_key else "API key (kept in the system keyring)")
        rf.addRow("Endpoint", self.remote_url)
        rf.addRow("Model", self.remote_model)
        rf.addRow("Key", self.remote_key)
        self.key_status = _label("")
        self.key_status.setAccessibleName("Key status")
        rf.addRow(self.key_status)
        layout.addWidget(remote)

        privacy = QGroupBox("Privacy")
        pl = QVBoxLayout(privacy)
        pl.addWidget(_label(PRIVACY))
        layout.addWidget(privacy)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.refresh_models()

    # --- models --------------------------------------------------------------------------------
    def refresh_models(self) -> Job:
        models_dir = self.app_core.config.models_dir

        def run(progress, cancel):
            from assistant.ml import registry

            return registry.verify_all(models_dir)

        self.model_status.setText("Checking models…")
        job = self.runner.start("Checking models", run)
        self._refresh = job
        # A check started earlier (hashing a 400 MB model takes seconds) may finish after a later one:
        # its table and status are stale and must not replace the later result ("import failed: …").
        job.finished.connect(lambda statuses, j=job: self._refresh is j and self._show_models(statuses))
        job.failed.connect(lambda msg, details, j=job: self._refresh is j
                           and self.model_status.setText(f"Could not check models: {msg}"))
        return job

    def _show_models(self, statuses) -> None:
        current = self.selected_role()
        self.models.clear()
        for st in statuses:
            item = QTreeWidgetItem([st.role + (" (optional)" if st.optional else ""), st.status.value, st.title,
                                    "" if st.status.value == "installed" else st.fix])
            item.setData(0, Qt.ItemDataRole.UserRole, st)
            item.setToolTip(2, plain_tooltip(st.detail or st.title))
            item.setToolTip(3, plain_tooltip(st.fix or ""))
            self.models.addTopLevelItem(item)
            if st.role == current:
                self.models.setCurrentItem(item)
        for col in range(3):
            self.models.resizeColumnToContents(col)
        missing = [st.role for st in statuses if st.status.value != "installed" and not st.optional]
        self.model_status.setText("All default models are installed." if not missing else
                                  f"Missing: {', '.join(missing)}. Select a role and press Install.")
        self._model_selected()

    def selected_role(self) -> str | None:
        item = self.models.currentItem()
        return item.data(0, Qt.ItemDataRole.UserRole).role if item else None

    def _model_selected(self, *args) -> None:
        from assistant.ml import registry

        role = self.selected_role()
        busy = self._install is not None and not self._install.is_done
        spec = registry.MANIFEST.get(role) if role else None
        self.install_btn.setEnabled(spec is not None and not busy)
        item = self.models.currentItem()
        if item is not None and not busy:
            st = item.data(0, Qt.ItemDataRole.UserRole)
            if st.status.value != "installed":
                self.model_status.setText(f"{st.role}: {st.status.value}. {st.detail}\nTo turn on: {st.fix}".strip())
        self.import_btn.setEnabled(spec is not None and spec.filename is not None and not busy)

    def install_selected(self) -> Job | None:
        role = self.selected_role()
        if role is None:
            return None
        models_dir = self.app_core.config.models_dir

        def run(progress, cancel):
            from assistant.ml import registry

            def checked(done, total, what):
                cancel.check()  # the registry has no cancel token: stop at its next progress report
                progress(done, total, what)
            return registry.install(role, models_dir, progress=checked)

        return self._model_job(f"Installing {role}", run)

    def import_selected(self) -> Job | None:
        role = self.selected_role()
        if role is None:
            return None
        path, _ = QFileDialog.getOpenFileName(self, f"Model file for {role}", str(Path.home()))
        if not path:
            return None
        return self.import_file(role, Path(path))

    def import_file(self, role: str, path: Path) -> Job:
        models_dir = self.app_core.config.models_dir

        def run(progress, cancel):
            from assistant.ml import registry

            return registry.import_file(role, path, models_dir, progress)

        return self._model_job(f"Importing {path.name} as {role}", run)

    def _model_job(self, title: str, fn) -> Job:
        job = self.runner.start(title, fn)
        self._install = job
        self.model_progress.show()
        self.model_progress.setRange(0, 0)
        self.cancel_install.show()
        self.model_status.setText(title + "…")
        self._model_selected()
        job.progress.connect(self._install_progress)
        job.finished.connect(lambda _r: self._model_job_done(f"{title}: done."))
        job.cancelled.connect(lambda: self._model_job_done(f"{title}: cancelled."))
        job.failed.connect(lambda msg, details: self._model_job_done(f"{title} failed: {msg}", details))
        return job

    def _install_progress(self, done: int, total: int, what: str) -> None:
        if total > 0:
            self.model_progress.setRange(0, 1000)
            self.model_progress.setValue(int(1000 * min(done, total) / total))
        self.model_status.setText(what)

    def _model_job_done(self, message: str, details: str = "") -> None:
        self.model_progress.hide()
        self.cancel_install.hide()
        self.refresh_models().finished.connect(lambda _r: self._set_status(message, details))
        self.models_changed.emit()

    def _set_status(self, message: str, details: str) -> None:
        self.model_status.setText(message)
        self.model_status.setToolTip(plain_tooltip(details[-3000:]) if details else "")

    def _shortcut_status_changed(self, text: str, active: bool) -> None:
        self.shortcut_status.setText(text)

    def shortcut_text(self) -> str:
        return self.shortcut.keySequence().toString(QKeySequence.SequenceFormat.PortableText)

    # --- saving --------------------------------------------------------------------------------
    def save(self) -> bool:
        """Apply and write the settings; returns False (dialog stays open) when the key cannot be kept."""
        from assistant import secrets

        s = self.settings
        before = shortcut_setting(s)
        on = self.shortcut_on.isChecked()
        shortcut = self.shortcut_text() or (before[0] if not on else "")  # off may keep the old keys
        try:
            parse_shortcut(shortcut)  # refuse before anything changes
        except ShortcutError as exc:
            self.shortcut_status.setText(f"Shortcut not saved: {exc}.")
            self.shortcut.setFocus()
            return False
        key = self.remote_key.text()
        if key:
            try:
                secrets.set_secret(REMOTE_KEY_NAME, key)
            except secrets.NoKeyringError as exc:
                self.key_status.setText(str(exc))
                self.remote_key.clear()
                return False
            self.remote_key.clear()
            self.remote_key.setPlaceholderText("stored in the keyring")
        s.device = DEVICES[self.device.currentIndex()]
        s.chroma_url = self.chroma_url.text().strip() or None if self.chroma_server.isChecked() else None
        s.remote_llm_url = self.remote_url.text().strip() or None
        s.remote_llm_model = self.remote_model.text().strip() or None
        store_shortcut(s, shortcut, on)
        try:
            self.app_core.config.save_settings()
        except OSError as exc:
            self.key_status.setText(f"Could not write the settings file: {exc}")
            return False
        if shortcut_setting(s) != before:
            self.shortcut_changed.emit()
        self.accept()
        return True
