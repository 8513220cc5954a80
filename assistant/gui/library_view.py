"""The Library tab: a virtualized thumbnail grid over the catalog, filters, a details pane and
bulk actions (tag, favourite, hide, delete, export), a duplicates review, and one-line descriptions
written by the user's multimodal model (`caption_action`).

The grid is a `QListView` in icon mode over `StickerModel`, which holds only the search result rows;
thumbnails come from `ThumbnailCache` as cells are painted, so 20,000 stickers scroll smoothly.
Searches run in a worker; each result carries a generation number and stale ones are dropped.
All reads and edits go through `assistant.library.manage`, the same functions the CLI uses.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QItemSelectionModel, QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QInputDialog, QLabel, QLineEdit,
                               QListView, QListWidget, QListWidgetItem, QMessageBox, QPlainTextEdit,
                               QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget)

from assistant.domain import Sticker
from assistant.gui.animation import Animator
from assistant.gui.caption_action import CaptionAction
from assistant.gui.lazy import ReloadWhenShown
from assistant.gui.thumbs import ThumbnailCache, plain_tooltip
from assistant.gui.workers import JobRunner

log = logging.getLogger(__name__)

PAGE_LIMIT = 100_000
ANY = "(any)"
PREVIEW_SIDE = 192  # the details pane's picture


def thumb_paths(app_core, sticker: Sticker) -> list[Path]:
    from assistant.library.ingest import thumb_path

    paths = [thumb_path(app_core.config, sticker.sha256)]
    if sticker.path is not None:
        paths.append(Path(sticker.path))
    return paths


def sticker_tooltip(s: Sticker) -> str:
    lines = [f"{s.emoji or ''} {s.pack or 'no pack'}".strip()]
    if s.description:
        lines.append(s.description[:160])
    if s.tags:
        lines.append("tags: " + ", ".join(s.tags))
    if s.ocr_text:
        lines.append("words: " + s.ocr_text[:120])
    if s.intent:
        lines.append(f"intent: {s.intent}")
    lines.append(f"used {s.use_count} times" + (" · favourite" if s.favourite else "")
                 + (" · hidden" if s.hidden else ""))
    return plain_tooltip("\n".join(lines))


class StickerModel(QAbstractListModel):
    """Rows are `Sticker`s; the decoration is fetched lazily from the thumbnail cache."""

    StickerRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, app_core, thumbs: ThumbnailCache, parent=None) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.thumbs = thumbs
        self.rows: list[Sticker] = []
        self._row_of: dict[str, list[int]] = {}
        thumbs.ready.connect(self._thumb_ready)

    def set_rows(self, rows: list[Sticker]) -> None:
        self.beginResetModel()
        self.rows = rows
        self._row_of = {}
        for i, s in enumerate(rows):
            self._row_of.setdefault(s.sha256, []).append(i)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        s = self.rows[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbs.pixmap(s.sha256, thumb_paths(self.app_core, s))
        if role == Qt.ItemDataRole.DisplayRole:
            return (("★ " if s.favourite else "") + (s.emoji or "")).strip()
        if role == Qt.ItemDataRole.ToolTipRole:
            return sticker_tooltip(s)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"Sticker {s.id} {s.emoji or ''} {s.pack or ''} {' '.join(s.tags)}".strip()
        if role == self.StickerRole:
            return s
        return None

    def _thumb_ready(self, sha: str) -> None:
        for row in self._row_of.get(sha, ()):
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def replace(self, sticker: Sticker) -> None:
        for i, s in enumerate(self.rows):
            if s.id == sticker.id:
                self.rows[i] = sticker
                idx = self.index(i)
                self.dataChanged.emit(idx, idx)


class DetailsPane(QWidget):
    """Edit one sticker's tags and attributes; see where and how often it was used."""

    saved = Signal(object)

    def __init__(self, app_core, parent=None) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.sticker: Sticker | None = None
        layout = QVBoxLayout(self)
        self.preview = QLabel()
        self.preview.setMinimumSize(160, 160)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setAccessibleName("Sticker preview")
        layout.addWidget(self.preview)
        self.animator = Animator(self.preview, PREVIEW_SIDE)  # animated stickers play in the preview
        self.info = QLabel("Select a sticker to see its details.")
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        form = QFormLayout()
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("comma-separated, e.g. happy, cat")
        self.tags.setAccessibleName("Tags")
        self.emoji = QLineEdit()
        self.emoji.setAccessibleName("Emoji")
        self.intent = QComboBox()
        self.intent.setEditable(True)
        self.intent.setAccessibleName("Intent")
        self.intent.addItems([""] + _intent_labels())
        self.style = QLineEdit()
        self.style.setAccessibleName("Style")
        self.description = QPlainTextEdit()
        self.description.setAccessibleName("Description")
        self.description.setMaximumHeight(80)
        self.favourite = QCheckBox("Favourite")
        self.favourite.setAccessibleName("Favourite")
        self.hidden = QCheckBox("Hidden from suggestions")
        self.hidden.setAccessibleName("Hidden")
        form.addRow("&Tags", self.tags)
        form.addRow("&Emoji", self.emoji)
        form.addRow("&Intent", self.intent)
        form.addRow("St&yle", self.style)
        form.addRow("Description", self.description)
        form.addRow(self.favourite)
        form.addRow(self.hidden)
        layout.addLayout(form)
        self.save_btn = QPushButton("&Save changes")
        self.save_btn.setAccessibleName("Save sticker changes")
        self.save_btn.clicked.connect(self.save)
        self.tags.returnPressed.connect(self.save)
        layout.addWidget(self.save_btn)
        self.usage = QLabel()
        self.usage.setTextFormat(Qt.TextFormat.PlainText)
        self.usage.setWordWrap(True)
        self.usage.setAccessibleName("Usage")
        layout.addWidget(self.usage)
        layout.addStretch(1)
        self.set_sticker(None)

    def set_sticker(self, sticker: Sticker | None) -> None:
        self.sticker = sticker
        self.animator.clear()
        enabled = sticker is not None
        for w in (self.tags, self.emoji, self.intent, self.style, self.description, self.favourite,
                  self.hidden, self.save_btn):
            w.setEnabled(enabled)
        if sticker is None:
            self.preview.clear()
            self.info.setText("Select a sticker to see its details.")
            self.usage.clear()
            for w in (self.tags, self.emoji, self.style):
                w.clear()
            self.description.clear()
            return
        from assistant.gui.thumbs import load_image
        from PySide6.QtGui import QPixmap

        image = None
        for p in thumb_paths(self.app_core, sticker)[::-1]:
            if p.exists():
                image = load_image(p, PREVIEW_SIDE)
                if image is not None:
                    break
        self.preview.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        if sticker.animated:
            from assistant.library.ingest import preview_path

            sources = [(p, sticker.fmt) for p in thumb_paths(self.app_core, sticker)[1:]]
            sources.append((preview_path(self.app_core.config, sticker.sha256), "webp"))
            self.animator.animate_target(sticker.sha256, sources, self.preview.setPixmap)
        words = f"\nWords on it: {sticker.ocr_text}" if sticker.ocr_text else ""
        self.info.setText(f"#{sticker.id} · {sticker.fmt} {sticker.width}×{sticker.height}"
                          f"{' animated' if sticker.animated else ''} · pack: {sticker.pack or '—'}{words}")
        self.tags.setText(", ".join(sticker.tags))
        self.emoji.setText(sticker.emoji or "")
        self.intent.setCurrentText(sticker.intent or "")
        self.style.setText(sticker.style or "")
        self.description.setPlainText(sticker.description or "")
        self.favourite.setChecked(sticker.favourite)
        self.hidden.setChecked(sticker.hidden)
        self.usage.setText(self._usage_text(sticker))

    def _usage_text(self, sticker: Sticker) -> str:
        rows = self.app_core.catalog.conn.execute(
            "SELECT c.name, c.platform, COUNT(*) AS n, MAX(m.time) AS last FROM messages m "
            "JOIN sticker_refs r ON m.sticker_ref_id = r.id JOIN chats c ON c.id = m.chat_id "
            "WHERE r.sticker_id = ? GROUP BY c.id ORDER BY n DESC LIMIT 10", (sticker.id,)).fetchall()
        if not rows:
            return "Not used in any imported chat yet."
        total = sum(r["n"] for r in rows)
        lines = [f"Used {total} times:"]
        for r in rows:
            lines.append(f"  {r['name'] or '(unnamed)'} ({r['platform']}): {r['n']}")
        return "\n".join(lines)

    def save(self) -> None:
        if self.sticker is None:
            return
        from assistant.library import manage

        s = self.sticker
        tags = sorted({t.strip() for t in self.tags.text().split(",") if t.strip()})
        try:
            if tags != sorted(s.tags):
                manage.set_tags(self.app_core, s.id, tags)
            for name, value, old in (("emoji", self.emoji.text().strip() or None, s.emoji),
                                     ("intent", self.intent.currentText().strip() or None, s.intent),
                                     ("style", self.style.text().strip() or None, s.style),
                                     ("description", self.description.toPlainText().strip(), s.description or "")):
                if value != old:
                    manage.set_attribute(self.app_core, s.id, name, value)
            if self.favourite.isChecked() != s.favourite:
                manage.set_favourite(self.app_core, s.id, self.favourite.isChecked())
            if self.hidden.isChecked() != s.hidden:
                manage.set_hidden(self.app_core, s.id, self.hidden.isChecked())
        except Exception as exc:  # noqa: BLE001 - shown to the user, details one click away
            show_error(self, "Could not save the sticker", exc)
            return
        fresh = self.app_core.catalog.sticker(s.id, self.app_core.config.stickers_dir)
        if fresh is not None:
            self.set_sticker(fresh)
            self.saved.emit(fresh)


def show_error(parent: QWidget, title: str, exc: BaseException | str, details: str = "") -> None:
    """A message a user can read, with the technical details behind "Show Details…"."""
    import traceback

    from assistant.gui.workers import user_message

    if isinstance(exc, BaseException):
        text = user_message(exc)
        details = details or "".join(traceback.format_exception(exc))
    else:
        text = exc
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, parent=parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if details:
        box.setDetailedText(details)
    box.open()


def _intent_labels() -> list[str]:
    from importlib import resources

    try:
        text = resources.files("assistant").joinpath("resources/labels/goemotions.txt").read_text("utf-8")
    except (OSError, FileNotFoundError):
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


class DuplicatesDialog(QDialog):
    """Groups of near-duplicate stickers; merging keeps the first of a group and moves usage to it."""

    def __init__(self, app_core, thumbs: ThumbnailCache, groups: list[list[Sticker]], parent=None) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.setWindowTitle("Near-duplicate stickers")
        self.resize(720, 520)
        layout = QVBoxLayout(self)
        note = QLabel(f"{len(groups)} groups of look-alike stickers. Merging keeps the first sticker of "
                      "a group, moves usage and tags onto it and removes the others.")
        note.setTextFormat(Qt.TextFormat.PlainText)
        note.setWordWrap(True)
        layout.addWidget(note)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        holder = QWidget()
        rows = QVBoxLayout(holder)
        self.merged: list[list[int]] = []
        for group in groups:
            row = QHBoxLayout()
            strip = QListWidget()
            strip.setViewMode(QListView.ViewMode.IconMode)
            strip.setFlow(QListView.Flow.LeftToRight)
            strip.setWrapping(False)
            strip.setIconSize(QSize(thumbs.size, thumbs.size))
            strip.setFixedHeight(thumbs.size + 30)
            strip.setAccessibleName("Duplicate group")
            from PySide6.QtGui import QIcon

            for s in group:
                item = QListWidgetItem(QIcon(thumbs.pixmap(s.sha256, thumb_paths(app_core, s))), f"#{s.id}")
                item.setToolTip(sticker_tooltip(s))
                strip.addItem(item)
            row.addWidget(strip, 1)
            btn = QPushButton("Merge")
            btn.setAccessibleName(f"Merge stickers {', '.join(str(s.id) for s in group)}")
            btn.clicked.connect(lambda _=False, g=group, b=btn: self._merge(g, b))
            row.addWidget(btn)
            rows.addLayout(row)
        rows.addStretch(1)
        scroll.setWidget(holder)
        layout.addWidget(scroll, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)

    def _merge(self, group: list[Sticker], button: QPushButton) -> None:
        from assistant.library import manage

        try:
            manage.merge(self.app_core, group[0].id, [s.id for s in group[1:]])
        except Exception as exc:  # noqa: BLE001
            show_error(self, "Could not merge", exc)
            return
        self.merged.append([s.id for s in group])
        button.setEnabled(False)
        button.setText("Merged")


class LibraryView(ReloadWhenShown, QWidget):
    def __init__(self, app_core, runner: JobRunner, parent=None) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.runner = runner
        self.thumbs = ThumbnailCache(96, parent=self)
        self.model = StickerModel(app_core, self.thumbs, self)
        self._generation = 0
        self._stale = True
        self.last_query_error: str | None = None

        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search words, tags, emoji… (Ctrl+F)")
        self.search.setAccessibleName("Search stickers")
        self.search.setClearButtonEnabled(True)
        top.addWidget(self.search, 3)
        self.pack = self._combo("Pack")
        self.tag = self._combo("Tag")
        self.intent = self._combo("Intent")
        self.style = self._combo("Style")
        self.emoji = QLineEdit()
        self.emoji.setPlaceholderText("emoji")
        self.emoji.setAccessibleName("Emoji filter")
        self.emoji.setMaximumWidth(70)
        self.used = QComboBox()
        self.used.setAccessibleName("Used filter")
        self.used.addItems(["used or not", "used", "never used"])
        self.favourite = QCheckBox("★ only")
        self.favourite.setAccessibleName("Favourites only")
        self.show_hidden = QCheckBox("hidden too")
        self.show_hidden.setAccessibleName("Include hidden stickers")
        for w in (self.used, self.favourite, self.show_hidden):
            top.addWidget(w)
        outer.addLayout(top)
        filters = QHBoxLayout()
        for w in (self.pack, self.tag, self.intent, self.style):
            filters.addWidget(w, 1)
        filters.addWidget(self.emoji)
        outer.addLayout(filters)

        actions = QHBoxLayout()
        self.count = QLabel("")
        self.count.setTextFormat(Qt.TextFormat.PlainText)
        self.count.setAccessibleName("Result count")
        actions.addWidget(self.count, 1)
        self.tag_btn = self._button(actions, "Add tag…", "Add a tag to the selected stickers", self.tag_selected)
        self.fav_btn = self._button(actions, "Favourite", "Toggle favourite on the selected stickers",
                                    self.favourite_selected)
        self.hide_btn = self._button(actions, "Hide", "Hide or unhide the selected stickers", self.hide_selected)
        self.delete_btn = self._button(actions, "Delete…", "Delete the selected stickers", self.delete_selected)
        self.export_btn = self._button(actions, "Export…", "Export the selected stickers to a folder",
                                       self.export_selected)
        self.dup_btn = self._button(actions, "Duplicates…", "Review near-duplicate stickers", self.show_duplicates)
        self.captions = CaptionAction(app_core, runner, self.selected, self.open_models_settings)
        self.captions.done.connect(self._captions_done)
        actions.addWidget(self.captions.menu_btn)
        self.addActions([self.captions.write_act, self.captions.redo_act])  # Ctrl+Shift+D anywhere in the tab
        outer.addLayout(actions)
        outer.addWidget(self.captions)  # progress, cancel and the report; hidden when idle

        split = QSplitter()
        self.grid = QListView()
        self.grid.setAccessibleName("Sticker grid")
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(500)
        self.grid.setIconSize(QSize(96, 96))
        self.grid.setGridSize(QSize(112, 124))
        self.grid.setSpacing(4)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setModel(self.model)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        split.addWidget(self.grid)
        self.details = DetailsPane(app_core)
        self.details.saved.connect(self.model.replace)
        details_scroll = QScrollArea()
        details_scroll.setWidgetResizable(True)
        details_scroll.setWidget(self.details)
        details_scroll.setMinimumWidth(280)
        split.addWidget(details_scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        outer.addWidget(split, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(200)
        self._debounce.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._debounce.start)
        self.emoji.textChanged.connect(self._debounce.start)
        for combo in (self.pack, self.tag, self.intent, self.style, self.used):
            combo.currentIndexChanged.connect(self._debounce.start)
        self.favourite.toggled.connect(self._debounce.start)
        self.show_hidden.toggled.connect(self._debounce.start)
        QShortcut(QKeySequence.StandardKey.Find, self, activated=self.search.setFocus)
        QShortcut(QKeySequence.StandardKey.Delete, self.grid, activated=self.delete_selected)
        self._update_actions()

    # --- widgets -------------------------------------------------------------------------------
    def _combo(self, name: str) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(f"{name} filter")
        combo.setToolTip(plain_tooltip(f"{name} filter"))
        combo.addItem(f"{name}: {ANY}", None)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(8)
        return combo

    def _button(self, layout, text: str, accessible: str, slot) -> QPushButton:
        btn = QPushButton(text)
        btn.setAccessibleName(accessible)
        btn.clicked.connect(slot)
        layout.addWidget(btn)
        return btn

    # --- loading -------------------------------------------------------------------------------
    def reload_all(self) -> None:
        self.reload_filters()
        self.refresh()

    def reload_filters(self) -> None:
        conn = self.app_core.catalog.conn
        for combo, sql in (
                (self.pack, "SELECT DISTINCT pack FROM stickers WHERE pack IS NOT NULL AND pack != '' ORDER BY pack"),
                (self.tag, "SELECT DISTINCT tag FROM sticker_tags ORDER BY tag"),
                (self.intent, "SELECT DISTINCT intent FROM stickers WHERE intent IS NOT NULL ORDER BY intent"),
                (self.style, "SELECT DISTINCT style FROM stickers WHERE style IS NOT NULL ORDER BY style")):
            current = combo.currentData()
            values = [r[0] for r in conn.execute(sql + " LIMIT 2000").fetchall()]
            combo.blockSignals(True)
            while combo.count() > 1:
                combo.removeItem(1)
            for v in values:
                combo.addItem(str(v), v)
            if current is not None:
                i = combo.findData(current)
                combo.setCurrentIndex(max(i, 0))
            combo.blockSignals(False)

    def query(self) -> dict:
        used = {0: None, 1: True, 2: False}[self.used.currentIndex()]
        return {"query": self.search.text().strip() or None, "pack": self.pack.currentData(),
                "tag": self.tag.currentData(), "emoji": self.emoji.text().strip() or None,
                "intent": self.intent.currentData(), "style": self.style.currentData(),
                "favourite": True if self.favourite.isChecked() else None, "used": used,
                "hidden": None if self.show_hidden.isChecked() else False}

    def refresh(self):
        """Run the search in a worker; returns the job (tests wait on it)."""
        self._stale = False
        self._generation += 1
        generation = self._generation
        q = self.query()
        app_core = self.app_core

        def run(progress, cancel):
            from assistant.library import manage

            text = q.pop("query")
            return manage.search(app_core, text, limit=PAGE_LIMIT, offset=0, **q)

        job = self.runner.start("Searching the library", run)
        job.finished.connect(lambda rows, g=generation: self._apply(g, rows))
        job.failed.connect(lambda msg, details, g=generation: self._failed(g, msg))
        return job

    def _apply(self, generation: int, rows: list[Sticker]) -> None:
        if generation != self._generation:
            return
        selected = {s.id for s in self.selected()}
        self.model.set_rows(list(rows))
        self.count.setText(f"{len(rows):,} stickers")
        self.last_query_error = None
        if selected:
            sel = self.grid.selectionModel()
            for i, s in enumerate(self.model.rows):
                if s.id in selected:
                    sel.select(self.model.index(i), QItemSelectionModel.SelectionFlag.Select)
        self._selection_changed()

    def _failed(self, generation: int, message: str) -> None:
        if generation != self._generation:
            return
        self.last_query_error = message
        self.count.setText(f"Search failed: {message}")

    # --- selection and bulk actions ------------------------------------------------------------
    def selected(self) -> list[Sticker]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [self.model.rows[r] for r in rows if r < len(self.model.rows)]

    def _selection_changed(self, *args) -> None:
        sel = self.selected()
        self.details.set_sticker(sel[0] if len(sel) == 1 else None)
        if len(sel) > 1:
            self.details.info.setText(f"{len(sel)} stickers selected: use the buttons above to tag, "
                                      "favourite, hide, delete or export them together.")
        self._update_actions()

    def _update_actions(self) -> None:
        n = len(self.selected())
        for b in (self.tag_btn, self.fav_btn, self.hide_btn, self.delete_btn, self.export_btn):
            b.setEnabled(n > 0)
        self.captions.update_buttons()

    def _bulk(self, title: str, fn) -> None:
        ids = [s.id for s in self.selected()]
        if not ids:
            return
        try:
            fn(ids)
        except Exception as exc:  # noqa: BLE001
            show_error(self, title, exc)
            return
        self.reload_filters()
        self.refresh()

    def tag_selected(self) -> None:
        tag, ok = QInputDialog.getText(self, "Add tag", "Tag to add to the selected stickers:")
        if not ok or not tag.strip():
            return
        from assistant.library import manage

        def add(ids):
            for s in self.selected():
                manage.set_tags(self.app_core, s.id, sorted(set(s.tags) | {tag.strip()}))
        self._bulk("Could not tag", add)

    def favourite_selected(self) -> None:
        from assistant.library import manage

        value = not all(s.favourite for s in self.selected())
        self._bulk("Could not change favourites",
                   lambda ids: [manage.set_favourite(self.app_core, i, value) for i in ids])

    def hide_selected(self) -> None:
        from assistant.library import manage

        value = not all(s.hidden for s in self.selected())
        self._bulk("Could not hide", lambda ids: [manage.set_hidden(self.app_core, i, value) for i in ids])

    def delete_selected(self) -> None:
        from assistant.library import manage

        n = len(self.selected())
        if not n:
            return
        answer = QMessageBox.question(self, "Delete stickers",
                                      f"Delete {n} sticker(s) from the library? Their files in the library "
                                      "folder are removed; chats keep the messages.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._bulk("Could not delete", lambda ids: manage.delete(self.app_core, ids))

    def export_selected(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export stickers to folder", str(Path.home()))
        if not folder:
            return
        ids = [s.id for s in self.selected()]
        app_core = self.app_core

        def run(progress, cancel):
            from assistant.library import manage

            return manage.export_pack(app_core, Path(folder), ids=ids)
        job = self.runner.start("Exporting stickers", run)
        job.failed.connect(lambda msg, details: show_error(self, "Export failed", msg, details))
        job.finished.connect(lambda _r: self.count.setText(f"Exported {len(ids)} stickers to {folder}"))

    def show_duplicates(self) -> None:
        app_core = self.app_core

        def run(progress, cancel):
            from assistant.library import manage

            groups = manage.near_duplicates(app_core)
            out = []
            for g in groups:
                ids = [getattr(x, "id", x) for x in g]
                out.append(app_core.catalog.stickers(ids, app_core.config.stickers_dir))
            return out

        self.dup_btn.setEnabled(False)
        job = self.runner.start("Finding near-duplicates", run)
        job.finished.connect(self._show_duplicates)
        job.failed.connect(lambda msg, details: (self.dup_btn.setEnabled(True),
                                                 show_error(self, "Could not find duplicates", msg, details)))

    def _show_duplicates(self, groups) -> None:
        self.dup_btn.setEnabled(True)
        if not groups:
            QMessageBox.information(self, "Near-duplicates", "No near-duplicate stickers found.")
            return
        dialog = DuplicatesDialog(self.app_core, self.thumbs, groups, self)
        dialog.exec()
        if dialog.merged:
            self.refresh()

    def _captions_done(self, report) -> None:
        """New descriptions show in the grid's tooltips and search, and in the details pane."""
        self.refresh()

    def open_models_settings(self) -> None:
        """Settings, where the describer's two files are imported (the main window's, when there is one)."""
        window = self.window()
        if window is not self and hasattr(window, "open_settings"):
            window.open_settings()
            return
        from assistant.gui.settings_dialog import SettingsDialog

        SettingsDialog(self.app_core, self.runner, self).exec()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.close_resources()
        super().closeEvent(event)

    def close_resources(self) -> None:
        """Stop the thumbnail and animation threads (idempotent)."""
        self.thumbs.close()
        self.details.animator.close()
