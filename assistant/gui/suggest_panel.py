"""The Suggest tab and its compact, always-on-top variant.

Paste a conversation (or let "watch clipboard" pick up copied conversation text) and the top stickers
appear as a grid with their reasons on hover. Click, Enter or drag copies the sticker to the clipboard
as a PNG image plus the original file's URL, so it pastes into any chat app. Keyboard only: Ctrl+Enter
suggests, Tab moves to the grid, arrows move, Enter copies, Esc goes back (or hides the compact panel).

The `Suggester` (which loads the models) is created lazily in a worker on the first request, so the
window opens without touching any model; later requests reuse it. Animated stickers play in the grid
(`animation.GridAnimator`, decoding off the UI thread); the global shortcut (`hotkey.py`) brings the
compact panel up with the clipboard's text through `MainWindow.summon_panel`.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QIcon, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QCheckBox, QComboBox, QHBoxLayout, QLabel,
                               QListView, QListWidget, QListWidgetItem, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from assistant.domain import Suggestion
from assistant.gui.animation import GridAnimator
from assistant.gui.thumbs import ThumbnailCache, load_image, plain_tooltip
from assistant.gui.train_action import TrainAction
from assistant.gui.workers import Job, JobRunner

log = logging.getLogger(__name__)

_SPEAKER_LINE = re.compile(r"^\s*(\[[^\]]{1,40}\]\s*)?[^:\n]{1,40}:\s+\S")


def looks_like_conversation(text: str) -> bool:
    """Copied text worth suggesting for: a few short lines, or "Name: text" turns. Not a URL, path
    or a wall of prose (which would trigger suggestions every time the user copies anything)."""
    text = text.strip()
    if not text or len(text) > 20_000:
        return False
    if re.fullmatch(r"(https?://|file:/|/|[A-Za-z]:\\)\S*", text):
        return False
    lines = [ln for ln in text.splitlines() if ln.strip()]
    speaker_lines = sum(1 for ln in lines if _SPEAKER_LINE.match(ln))
    if speaker_lines >= 1 and (speaker_lines >= 2 or len(lines) <= 3):
        return True
    return 2 <= len(lines) <= 60 and max(len(ln) for ln in lines) <= 400


def sticker_image(app_core, suggestion: Suggestion, size: int = 512) -> QImage | None:
    """The sticker as an image: the original file when Qt reads it, else the PNG thumbnail."""
    s = suggestion.sticker
    candidates = []
    if s.path is not None:
        candidates.append(Path(s.path))
    candidates.append(Path(app_core.config.thumbs_dir) / f"{s.sha256}.png")
    for p in candidates:
        if p.exists():
            image = load_image(p, size)
            if image is not None:
                return image
    return None


def sticker_mime(app_core, suggestion: Suggestion) -> QMimeData:
    """PNG image data for apps that paste images, the file URL for apps that take files."""
    mime = QMimeData()
    image = sticker_image(app_core, suggestion)
    if image is not None:
        mime.setImageData(image)
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buf, "PNG")
        buf.close()
        mime.setData("image/png", data)
    path = suggestion.sticker.path
    if path is not None and Path(path).exists():
        mime.setUrls([QUrl.fromLocalFile(str(path))])
    return mime


class PasteBox(QPlainTextEdit):
    """Plain text only; file drops pass through to the window (which imports them)."""

    submit = Signal()
    escape = Signal()

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.ignore()
            return
        super().dragEnterEvent(event)

    def insertFromMimeData(self, source) -> None:  # noqa: N802 - never paste rich text
        self.insertPlainText(source.text())

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.submit.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.escape.emit()
            return
        super().keyPressEvent(event)


class SuggestionGrid(QListWidget):
    """Icon grid whose drags carry the sticker image and file, like a copy does."""

    activated_suggestion = Signal(object)
    escape = Signal()

    def __init__(self, app_core, icon: int, parent=None) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(icon, icon))
        self.setGridSize(QSize(icon + 20, icon + 28))
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setAccessibleName("Suggested stickers")
        self.itemClicked.connect(lambda item: self.activated_suggestion.emit(item.data(Qt.ItemDataRole.UserRole)))

    def mimeData(self, items):  # noqa: N802 - Qt override
        if not items:
            return super().mimeData(items)
        return sticker_mime(self.app_core, items[0].data(Qt.ItemDataRole.UserRole))

    def mimeTypes(self):  # noqa: N802
        return ["image/png", "text/uri-list", "application/x-qt-image"]

    def keyPressEvent(self, event) -> None:  # noqa: N802
        item = self.currentItem()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and item is not None:
            self.activated_suggestion.emit(item.data(Qt.ItemDataRole.UserRole))
            return
        if event.key() == Qt.Key.Key_Escape:
            self.escape.emit()
            return
        super().keyPressEvent(event)


class SuggestPanel(QWidget):
    suggestions_ready = Signal(list)
    copied = Signal(object)

    def __init__(self, app_core, runner: JobRunner, compact: bool = False, parent=None) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.runner = runner
        self.compact = compact
        self.suggestions: list[Suggestion] = []
        self._suggester = None
        self._suggester_lock = threading.Lock()
        self._generation = 0
        self._current: Job | None = None
        self._warming: Job | None = None
        self._own_clipboard = False
        self._last_clipboard = ""
        icon = 72 if compact else 112
        self.thumbs = ThumbnailCache(icon, capacity=200, parent=self)

        layout = QVBoxLayout(self)
        if compact:
            layout.setContentsMargins(6, 6, 6, 6)
        selectors = QHBoxLayout()
        self.chat = QComboBox()
        self.chat.setAccessibleName("Chat")
        self.chat.setToolTip(plain_tooltip("Which chat you are in: its history and people shape the suggestions"))
        self.me = QComboBox()
        self.me.setAccessibleName("Me")
        self.me.setToolTip(plain_tooltip("Which participant is you"))
        self.chat.currentIndexChanged.connect(self._chat_changed)
        chat_label = QLabel("&Chat:")
        chat_label.setBuddy(self.chat)
        me_label = QLabel("&Me:")
        me_label.setBuddy(self.me)
        selectors.addWidget(chat_label)
        selectors.addWidget(self.chat, 2)
        selectors.addWidget(me_label)
        selectors.addWidget(self.me, 1)
        layout.addLayout(selectors)

        self.paste = PasteBox()
        self.paste.setAccessibleName("Conversation")
        self.paste.setPlaceholderText("Paste the last few messages here, one per line (e.g. “Anna: see you "
                                      "tomorrow!”). Ctrl+Enter suggests; suggestions also follow as you type.")
        self.paste.setTabChangesFocus(True)
        if compact:
            self.paste.setMaximumHeight(70)
        self.paste.submit.connect(self.suggest_now)
        self.paste.escape.connect(self._escape)
        self.paste.textChanged.connect(self._typed)
        layout.addWidget(self.paste, 0 if compact else 1)

        row = QHBoxLayout()
        self.suggest_btn = QPushButton("&Suggest")
        self.suggest_btn.setAccessibleName("Suggest stickers")
        self.suggest_btn.clicked.connect(self.suggest_now)
        self.watch = QCheckBox("&Watch clipboard")
        self.watch.setAccessibleName("Watch clipboard")
        self.watch.setToolTip(plain_tooltip("When you copy conversation text anywhere, suggest for it"))
        self.watch.setChecked(bool(app_core.config.settings.watch_clipboard))
        self.watch.toggled.connect(self._watch_toggled)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setAccessibleName("Suggestion status")
        self.status.setWordWrap(True)
        row.addWidget(self.suggest_btn)
        row.addWidget(self.watch)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        self.trainer: TrainAction | None = None
        if not compact:  # the compact panel is for picking, not for training
            self.trainer = TrainAction(app_core, runner, self.me.currentData, self)
            self.trainer.trained.connect(self._trained)
            row.addWidget(self.trainer.button)
            layout.addWidget(self.trainer)

        self.grid = SuggestionGrid(app_core, icon)
        self.animator = GridAnimator(self.grid, icon)
        self.grid.activated_suggestion.connect(self.copy_suggestion)
        self.grid.escape.connect(self._escape)
        layout.addWidget(self.grid, 2)
        self.thumbs.ready.connect(self._thumb_ready)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self._debounce.timeout.connect(self.suggest_now)
        clipboard = QApplication.clipboard()
        clipboard.dataChanged.connect(self._clipboard_changed)
        QShortcut(QKeySequence("Ctrl+L"), self, activated=self.paste.setFocus)
        self.refresh_chats()

    # --- chats and "me" ----------------------------------------------------------------------------
    def refresh_chats(self) -> None:
        current = self.chat.currentData()
        rows = self.app_core.catalog.conn.execute(
            "SELECT id, name, platform, me FROM chats ORDER BY imported_at DESC, id LIMIT 500").fetchall()
        self.chat.blockSignals(True)
        self.chat.clear()
        self.chat.addItem("Any chat", None)
        for r in rows:
            self.chat.addItem(f"{r['name'] or '(unnamed)'} · {r['platform']}", r["id"])
        i = self.chat.findData(current) if current is not None else 0
        self.chat.setCurrentIndex(max(i, 0))
        self.chat.blockSignals(False)
        self._chat_changed()

    def _chat_changed(self, *args) -> None:
        chat_id = self.chat.currentData()
        names: list[str] = []
        default_me = None
        if chat_id is not None:
            conn = self.app_core.catalog.conn
            names = [r[0] for r in conn.execute(
                "SELECT name FROM participants WHERE chat_id=? ORDER BY is_me DESC, name", (chat_id,))]
            row = conn.execute("SELECT me FROM chats WHERE id=?", (chat_id,)).fetchone()
            default_me = row[0] if row else None
        for n in self.app_core.config.settings.me_names:
            if n not in names:
                names.append(n)
        self.me.clear()
        self.me.addItem("(not set)", None)
        for n in names:
            self.me.addItem(n, n)
        if default_me:
            self.me.setCurrentIndex(max(self.me.findData(default_me), 0))
        elif self.app_core.config.settings.me_names:
            self.me.setCurrentIndex(max(self.me.findData(self.app_core.config.settings.me_names[0]), 0))

    # --- suggesting ------------------------------------------------------------------------------
    def _typed(self) -> None:
        if self.paste.toPlainText().strip():
            self._debounce.start()

    def _get_suggester(self):
        with self._suggester_lock:
            if self._suggester is None:
                from assistant.retrieval.suggest import for_app

                self._suggester = for_app(self.app_core)
            return self._suggester

    def warm_up(self) -> Job:
        """Prepare the first suggestion in a worker (`Suggester.warm`: library, models, the user's
        habits), so pasting a conversation answers at warm speed. Called at start and after imports;
        one warm-up at a time."""
        if self._warming is not None and not self._warming.is_done:
            return self._warming
        me = self.me.currentData()

        def run(progress, cancel):
            return self._get_suggester().warm(me, progress, cancel)

        self._warming = self.runner.start("Preparing suggestions", run)
        return self._warming

    def _trained(self, result) -> None:
        """A new head was saved: rebuild the Suggester's state and warm it, then suggest again."""
        self._get_suggester().invalidate()
        self.warm_up()
        if self.paste.toPlainText().strip():
            self.suggest_now()

    def suggest_now(self) -> Job | None:
        text = self.paste.toPlainText().strip()
        self._debounce.stop()
        if not text:
            self.status.setText("Paste or type a conversation first.")
            return None
        if self._current is not None and not self._current.is_done:
            self._current.cancel()
        self._generation += 1
        generation = self._generation
        chat, me = self.chat.currentData(), self.me.currentData()
        k = int(self.app_core.config.settings.suggest_k or 8)
        first = self._suggester is None
        self.status.setText("Loading models for the first suggestion…" if first else "Suggesting…")

        def run(progress, cancel):
            suggester = self._get_suggester()
            cancel.check()
            return suggester.suggest(text, k=k, chat=chat, me=me)

        job = self.runner.start("Suggesting stickers", run)
        self._current = job
        job.finished.connect(lambda result, g=generation: self._show(g, result))
        job.failed.connect(lambda msg, details, g=generation: self._failed(g, msg, details))
        return job

    def _failed(self, generation: int, message: str, details: str) -> None:
        if generation != self._generation:
            return
        self.status.setText(f"Could not suggest: {message}")
        self.status.setToolTip(plain_tooltip(details[-3000:]))

    def _show(self, generation: int, suggestions) -> None:
        if generation != self._generation:
            return
        self.show_suggestions(list(suggestions or []))

    def show_suggestions(self, suggestions: list[Suggestion]) -> None:
        """Fill the grid (animated stickers start playing once decoded) and emit `suggestions_ready`."""
        self.animator.clear()
        self.suggestions = suggestions
        self.grid.clear()
        for rank, sug in enumerate(self.suggestions, 1):
            s = sug.sticker
            item = QListWidgetItem(QIcon(self.thumbs.pixmap(s.sha256, self._paths(sug))), s.emoji or "")
            item.setData(Qt.ItemDataRole.UserRole, sug)
            reasons = "\n".join(f"• {r}" for r in sug.reasons) or "• best overall match"
            item.setToolTip(plain_tooltip(f"#{rank} score {sug.score:.2f}\n{reasons}\n(click, Enter or drag to copy)"))
            item.setData(Qt.ItemDataRole.AccessibleTextRole,
                         f"Suggestion {rank}: {s.emoji or ''} {', '.join(sug.reasons[:2])}")
            self.grid.addItem(item)
            self._animate(item, sug)
        if self.suggestions:
            self.grid.setCurrentRow(0)
            self.status.setText(f"{len(self.suggestions)} suggestions. Click, Enter or drag one to copy it.")
            self.status.setToolTip("")
        else:
            self.status.setText("No suggestions: import stickers first (Import tab).")
        self.suggestions_ready.emit(self.suggestions)

    def _paths(self, sug: Suggestion) -> list[Path]:
        s = sug.sticker
        paths = [Path(self.app_core.config.thumbs_dir) / f"{s.sha256}.png"]
        if s.path is not None:
            paths.append(Path(s.path))
        return paths

    def _animate(self, item: QListWidgetItem, sug: Suggestion) -> None:
        """Animated stickers play from the original file (every library format, .tgs and .webm included),
        else from the short preview ingest wrote; decoding happens in the animator's thread."""
        s = sug.sticker
        if not s.animated:
            return
        sources: list[tuple[Path, str]] = []
        if s.path is not None:
            sources.append((Path(s.path), s.fmt))
        sources.append((Path(self.app_core.config.thumbs_dir) / f"{s.sha256}.preview.webp", "webp"))
        self.animator.animate(item, s.sha256, sources)

    def _thumb_ready(self, sha: str) -> None:
        if self.animator.is_playing(sha):
            return
        for i in range(self.grid.count()):
            item = self.grid.item(i)
            sug = item.data(Qt.ItemDataRole.UserRole)
            if sug.sticker.sha256 == sha:
                item.setIcon(QIcon(self.thumbs.pixmap(sha, self._paths(sug))))

    # --- copying -------------------------------------------------------------------------------
    def copy_suggestion(self, sug: Suggestion | None) -> None:
        if sug is None:
            return
        mime = sticker_mime(self.app_core, sug)
        if not mime.hasImage() and not mime.hasUrls():
            self.status.setText("This sticker's file is missing from the library folder.")
            return
        self._own_clipboard = True
        QApplication.clipboard().setMimeData(mime)
        self._own_clipboard = False
        self.status.setText("Copied. Paste it into your chat (Ctrl+V).")
        self.copied.emit(sug)
        if self.compact and self.window() is not None and self.window().isWindow():
            QTimer.singleShot(150, self.window().hide)

    # --- clipboard watching ---------------------------------------------------------------------
    def _watch_toggled(self, on: bool) -> None:
        self.app_core.config.settings.watch_clipboard = on
        try:
            self.app_core.config.save_settings()
        except OSError as exc:
            log.warning("could not save settings: %s", exc)
        if on:
            self._last_clipboard = QApplication.clipboard().text()

    def _clipboard_changed(self) -> None:
        if not self.watch.isChecked() or self._own_clipboard:
            return
        text = QApplication.clipboard().text()
        if not text or text == self._last_clipboard or not looks_like_conversation(text):
            return
        self._last_clipboard = text
        self.paste.blockSignals(True)
        self.paste.setPlainText(text)
        self.paste.blockSignals(False)
        self.suggest_now()

    def _escape(self) -> None:
        if self.compact:
            self.window().hide()
        elif self.grid.hasFocus():
            self.paste.setFocus()
        else:
            self.paste.clear()

    def close_resources(self) -> None:
        self.animator.close()
        self.thumbs.close()


class CompactSuggestWindow(QWidget):
    """A small always-on-top panel: paste or watch the clipboard, pick, paste into the chat."""

    def __init__(self, app_core, runner: JobRunner, parent=None) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.WindowStaysOnTopHint)
        self.setWindowTitle("Sticker suggestions")
        self.setAccessibleName("Compact suggestion panel")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.panel = SuggestPanel(app_core, runner, compact=True)
        layout.addWidget(self.panel)
        from assistant.gui.main_window import gui_settings

        self.settings = gui_settings(app_core)
        geometry = self.settings.value("compact/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(420, 360)

    def hideEvent(self, event) -> None:  # noqa: N802
        self.settings.setValue("compact/geometry", self.saveGeometry())
        super().hideEvent(event)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.settings.setValue("compact/geometry", self.saveGeometry())
        self.panel.close_resources()
        super().closeEvent(event)
