"""The first-run welcome: where the user's chats and stickers are, and which optional models exist.

A packaged app is double-clicked by someone who has never read the README, so the first window says
what the app does, lets them pick their chat exports and sticker folders (imported through the main
window's own import view, with its progress rows), and lists the model roles with what each one turns
on and how to install it. It is shown once per data folder: `maybe_show_welcome` records the
`welcome_shown` flag in the catalog before the dialog opens, so a crash inside it never loops.
"""

from __future__ import annotations

import html
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from assistant.gui.hotkey import shortcut_setting

WELCOME_KEY = "welcome_shown"
CHAT_FILTER = "Chat exports (*.json *.zip *.txt *.html *.htm);;All files (*)"


def model_rows(models_dir: Path) -> list[tuple[str, str, bool, str]]:
    """(title, what it turns on, installed, how to install) for every model role, slow parts included:
    a first check hashes model files, so callers run this off the GUI thread."""
    from assistant.ml.registry import MANIFEST, Status, verify

    rows = []
    for role, spec in MANIFEST.items():
        st = verify(role, models_dir)
        fix = st.fix
        if getattr(sys, "frozen", False) and fix.startswith("pip "):
            fix = "included in the installer; reinstall Sticker Assistant"
        rows.append((f"{spec.title}{' (optional)' if spec.optional else ''}", spec.needed_for,
                     st.status is Status.INSTALLED, fix))
    return rows


class WelcomeDialog(QDialog):
    """Pick chat exports and sticker folders to import; see which models are installed."""

    def __init__(self, app_core, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.setWindowTitle("Welcome to Sticker Assistant")
        self.setMinimumWidth(620)
        layout = QVBoxLayout(self)

        shortcut, shortcut_on = shortcut_setting(app_core.config.settings)
        if shortcut_on:
            tip = (f"Then, in any chat app, copy the last few messages and press <b>{html.escape(shortcut)}</b>: "
                   "the suggestion panel opens on top with stickers for them (change or turn off the shortcut "
                   "in <i>Settings</i>).")
        else:
            tip = ("Then copy the last few messages of a chat and paste them in the <i>Suggest</i> tab, or in "
                   "the always-on-top panel (<b>Ctrl+Shift+S</b>).")
        intro = QLabel(
            "<h2>Welcome to Sticker Assistant</h2>"
            "<p>It suggests the sticker that fits a conversation, from <b>your own</b> stickers and the way "
            "you have used them. Everything stays on this computer.</p>"
            "<p>Start by pointing it at your chat exports (Telegram, WhatsApp, Signal, Discord, LINE, "
            "WeChat, Messenger) and the folders where your stickers are. You can add more later from the "
            "<i>File</i> menu or by dropping files on the window.</p>"
            f"<p>{tip}</p>")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(intro)

        self.chats = self._picker(layout, "Chat exports", [("Add export files…", self._add_chat_files),
                                                           ("Add export folder…", self._add_chat_folder)])
        self.stickers = self._picker(layout, "Sticker folders", [("Add sticker folder…", self._add_sticker_folder)])

        box = QGroupBox("Models")
        self.models_layout = QVBoxLayout(box)
        self.models_status = QLabel("Checking which models are installed…")
        self.models_status.setWordWrap(True)
        self.models_layout.addWidget(self.models_status)
        layout.addWidget(box)

        where = QLabel(f"Your data lives in {app_core.config.data_dir}")
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        where.setWordWrap(True)
        layout.addWidget(where)

        buttons = QDialogButtonBox()
        self.start_button = buttons.addButton("Import and start", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton("Skip for now", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._update_start()

        # The registry check may hash model files the first time: never on the GUI thread.
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="welcome-models")
        self._models: Future = self._pool.submit(model_rows, Path(app_core.config.models_dir))
        self._poll = QTimer(self)
        self._poll.setInterval(100)
        self._poll.timeout.connect(self._models_ready)
        self._poll.start()

    # --- pickers ----------------------------------------------------------------------------------
    def _picker(self, layout: QVBoxLayout, title: str, actions: list) -> QListWidget:
        box = QGroupBox(title)
        inner = QVBoxLayout(box)
        items = QListWidget()
        items.setMaximumHeight(90)
        items.setAccessibleName(title)
        inner.addWidget(items)
        row = QHBoxLayout()
        for text, slot in actions:
            b = QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
        remove = QPushButton("Remove")
        remove.clicked.connect(lambda: self._remove_selected(items))
        row.addWidget(remove)
        row.addStretch(1)
        inner.addLayout(row)
        layout.addWidget(box)
        return items

    def add_paths(self, target: QListWidget, paths: list[Path | str]) -> None:
        have = set(self._paths(target))
        for p in paths:
            p = Path(p)
            if p not in have:
                item = QListWidgetItem(str(p))
                item.setData(Qt.ItemDataRole.UserRole, str(p))
                target.addItem(item)
                have.add(p)
        self._update_start()

    def _remove_selected(self, target: QListWidget) -> None:
        for item in target.selectedItems():
            target.takeItem(target.row(item))
        self._update_start()

    def _add_chat_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Chat export files", str(Path.home()), CHAT_FILTER)
        self.add_paths(self.chats, files)

    def _add_chat_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Chat export folder", str(Path.home()))
        if folder:
            self.add_paths(self.chats, [folder])

    def _add_sticker_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Sticker folder", str(Path.home()))
        if folder:
            self.add_paths(self.stickers, [folder])

    @staticmethod
    def _paths(target: QListWidget) -> list[Path]:
        return [Path(target.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(target.count())]

    def chat_paths(self) -> list[Path]:
        return self._paths(self.chats)

    def sticker_paths(self) -> list[Path]:
        return self._paths(self.stickers)

    def _update_start(self) -> None:
        self.start_button.setText("Import and start" if self.chat_paths() or self.sticker_paths() else "Start")

    # --- models -----------------------------------------------------------------------------------
    def _models_ready(self) -> None:
        if not self._models.done():
            return
        self._poll.stop()
        try:
            rows = self._models.result()
        except Exception as exc:  # the registry reports problems as statuses; this is a last resort
            self.models_status.setText(f"Could not check the models: {exc}")
            return
        self.show_models(rows)

    def show_models(self, rows: list[tuple[str, str, bool, str]]) -> None:
        missing = [r for r in rows if not r[2]]
        self.models_status.setText(
            "All models are installed." if not missing else
            "Everything works without the models below; each one turns on more. "
            "Install them from a terminal:")
        for title, needed_for, installed, fix in rows:
            mark = "✔" if installed else "○"
            text = f"{mark} <b>{title}</b> — {needed_for or 'core feature'}"
            if not installed and fix:
                text += f"<br>&nbsp;&nbsp;&nbsp;<code>{fix}</code>"
            label = QLabel(text)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.models_layout.addWidget(label)

    def done(self, result: int) -> None:  # noqa: D401 - Qt override: stop the model check with the dialog
        self._poll.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        super().done(result)


def maybe_show_welcome(window, app) -> None:
    """Show the welcome once per data folder (non-blocking); accepted picks go to the window's importer.

    `window` is the main window (its `import_dropped`/`import_view.import_paths` start the imports);
    `app` is the core App, whose catalog remembers that the welcome was shown.
    """
    if app.catalog.get_kv(WELCOME_KEY, False):
        return
    app.catalog.set_kv(WELCOME_KEY, True)
    dialog = WelcomeDialog(app, window)

    def start_imports() -> None:
        importer = getattr(window, "import_view", None)
        if importer is None:
            return
        if hasattr(window, "tabs"):
            window.tabs.setCurrentWidget(importer)
        chats, stickers = dialog.chat_paths(), dialog.sticker_paths()
        if chats:
            importer.import_paths(chats)
        if stickers:
            importer.import_paths(stickers, force_kind="stickers")

    dialog.accepted.connect(start_imports)
    window.welcome_dialog = dialog  # tests and the window can find (and close) it
    dialog.open()
