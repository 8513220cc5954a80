"""The Memory tab: past sessions and their summaries by chat and date, memory search, rebuild.

Listing reads the catalog (sessions + memories tables) directly: it is a bounded, indexed read.
Search asks the memory bank (`assistant.memory.memories.retrieve`, semantic) in a worker and falls
back to words in the summaries when the bank cannot answer (no embedder installed yet). Rebuilding
runs `memories.build` in a worker with progress and cancel.
"""

from __future__ import annotations

import json
import logging

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QPlainTextEdit,
                               QProgressBar, QPushButton, QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from assistant.chats.store import shown_time
from assistant.gui.lazy import ReloadWhenShown
from assistant.gui.thumbs import plain_tooltip
from assistant.gui.workers import Job, JobRunner

log = logging.getLogger(__name__)

MAX_ROWS = 2000


def _fmt_time(ts: float | None, local_times: bool = False) -> str:
    return shown_time(ts, local_times).strftime("%Y-%m-%d %H:%M") if ts else "—"


class MemoryView(ReloadWhenShown, QWidget):
    def __init__(self, app_core, runner: JobRunner, parent=None) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.runner = runner
        self._stale = True
        self._rebuild: Job | None = None
        self._search_gen = 0

        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search memories (what was said, topics, mood)…")
        self.search.setAccessibleName("Search memories")
        self.search.setClearButtonEnabled(True)
        self.search.returnPressed.connect(self.run_search)
        self.search.textChanged.connect(lambda t: self.reload() if not t.strip() else None)
        top.addWidget(self.search, 1)
        self.rebuild_btn = QPushButton("&Rebuild memories")
        self.rebuild_btn.setAccessibleName("Rebuild the memory bank")
        self.rebuild_btn.clicked.connect(self.rebuild)
        top.addWidget(self.rebuild_btn)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setAccessibleName("Cancel rebuilding")
        self.cancel_btn.hide()
        self.cancel_btn.clicked.connect(lambda: self._rebuild and self._rebuild.cancel())
        top.addWidget(self.cancel_btn)
        outer.addLayout(top)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Memory rebuild progress")
        self.progress.hide()
        outer.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        outer.addWidget(self.status)

        split = QSplitter()
        self.chats = QListWidget()
        self.chats.setAccessibleName("Chats")
        self.chats.currentRowChanged.connect(lambda _r: self.reload())
        split.addWidget(self.chats)
        self.sessions = QTreeWidget()
        self.sessions.setAccessibleName("Sessions")
        self.sessions.setHeaderLabels(["Start", "Chat", "Messages", "Stickers", "Summary"])
        self.sessions.setRootIsDecorated(False)
        self.sessions.setUniformRowHeights(True)
        self.sessions.setAlternatingRowColors(True)
        self.sessions.currentItemChanged.connect(self._show_session)
        split.addWidget(self.sessions)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setAccessibleName("Session details")
        split.addWidget(self.detail)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setStretchFactor(2, 2)
        outer.addWidget(split, 1)

    # --- loading -------------------------------------------------------------------------------
    def reload_all(self) -> None:
        self.reload_chats()
        self.reload()

    def reload_chats(self) -> None:
        current = self.chats.currentItem().data(Qt.ItemDataRole.UserRole) if self.chats.currentItem() else None
        rows = self.app_core.catalog.conn.execute(
            "SELECT c.id, c.name, c.platform, COUNT(s.id) AS n FROM chats c LEFT JOIN sessions s "
            "ON s.chat_id = c.id GROUP BY c.id ORDER BY c.name").fetchall()
        self.chats.blockSignals(True)
        self.chats.clear()
        total = sum(r["n"] for r in rows)
        all_item = QListWidgetItem(f"All chats ({total:,} sessions)")
        all_item.setData(Qt.ItemDataRole.UserRole, None)
        self.chats.addItem(all_item)
        select = 0
        for i, r in enumerate(rows, 1):
            item = QListWidgetItem(f"{r['name'] or '(unnamed)'} · {r['platform']} ({r['n']:,})")
            item.setData(Qt.ItemDataRole.UserRole, r["id"])
            self.chats.addItem(item)
            if r["id"] == current:
                select = i
        self.chats.setCurrentRow(select)
        self.chats.blockSignals(False)

    def chat_id(self) -> int | None:
        item = self.chats.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def reload(self) -> None:
        """Newest sessions first for the chosen chat; summaries where the bank has them."""
        self._stale = False
        chat = self.chat_id()
        sql = ("SELECT s.id, s.chat_id, s.start, s.n_messages, s.n_stickers, c.name AS chat_name, "
               "c.local_times, m.summary, m.topics, m.mood FROM sessions s JOIN chats c ON c.id = s.chat_id "
               "LEFT JOIN memories m ON m.session_id = s.id")
        args: tuple = ()
        if chat is not None:
            sql += " WHERE s.chat_id = ?"
            args = (chat,)
        rows = self.app_core.catalog.conn.execute(sql + f" ORDER BY s.start DESC LIMIT {MAX_ROWS}", args).fetchall()
        self._fill([dict(r) for r in rows])
        n_mem = sum(1 for r in rows if r["summary"])
        self.status.setText(f"{len(rows):,} sessions shown, {n_mem:,} summarised."
                            + ("" if n_mem or not rows else " Use Rebuild memories to summarise them."))

    def _fill(self, rows: list[dict]) -> None:
        self.sessions.clear()
        items = []
        for r in rows:
            summary = (r.get("summary") or "").replace("\n", " ")
            item = QTreeWidgetItem([_fmt_time(r.get("start"), bool(r.get("local_times"))), r.get("chat_name") or "",
                                    str(r.get("n_messages") or 0), str(r.get("n_stickers") or 0),
                                    summary[:200] or "(not summarised yet)"])
            item.setData(0, Qt.ItemDataRole.UserRole, r)
            items.append(item)
        self.sessions.addTopLevelItems(items)
        for col in range(4):
            self.sessions.resizeColumnToContents(col)

    def _show_session(self, item: QTreeWidgetItem | None, _prev=None) -> None:
        if item is None:
            self.detail.clear()
            return
        r = item.data(0, Qt.ItemDataRole.UserRole)
        lines = [f"{r.get('chat_name') or ''} — {_fmt_time(r.get('start'), bool(r.get('local_times')))}"]
        if r.get("summary"):
            lines.append("")
            lines.append(r["summary"])
            topics = r.get("topics")
            if topics:
                try:
                    topics = ", ".join(json.loads(topics))
                except (ValueError, TypeError):
                    pass
                lines.append(f"Topics: {topics}")
            if r.get("mood"):
                lines.append(f"Mood: {r['mood']}")
        lines.append("")
        lines.append("Messages:")
        msgs = self.app_core.catalog.conn.execute(
            "SELECT sender, text, media, sticker_ref_id FROM messages WHERE session_id=? ORDER BY time, id LIMIT 200",
            (r["id"],)).fetchall()
        for m in msgs:
            body = m["text"] or ("[sticker]" if m["sticker_ref_id"] else f"[{m['media']}]" if m["media"] else "")
            lines.append(f"{m['sender']}: {body}")
        self.detail.setPlainText("\n".join(lines))

    # --- search --------------------------------------------------------------------------------
    def run_search(self) -> Job | None:
        text = self.search.text().strip()
        if not text:
            self.reload()
            return None
        self._search_gen += 1
        gen = self._search_gen
        chat = self.chat_id()
        app_core = self.app_core
        self.status.setText("Searching memories…")

        def run(progress, cancel):
            ids: list[int] = []
            how = "meaning"
            try:
                from assistant.memory import memories

                ids = [m.session_id for m in memories.retrieve(app_core, text, k=50, chat_id=chat)]
            except Exception as exc:  # noqa: BLE001 - no embedder or bank: the words still work
                log.info("semantic memory search unavailable (%s); searching words", exc)
            if not ids:
                how = "words"
                like = f"%{text}%"
                sql = "SELECT session_id FROM memories WHERE (summary LIKE ? OR topics LIKE ? OR mood LIKE ?)"
                args: list = [like, like, like]
                if chat is not None:
                    sql += " AND chat_id = ?"
                    args.append(chat)
                ids = [r[0] for r in app_core.catalog.conn.execute(sql + " LIMIT 200", args)]
            if not ids:
                return how, []
            rows = app_core.catalog.conn.execute(
                "SELECT s.id, s.chat_id, s.start, s.n_messages, s.n_stickers, c.name AS chat_name, m.summary, "
                "m.topics, m.mood FROM sessions s JOIN chats c ON c.id = s.chat_id LEFT JOIN memories m "
                f"ON m.session_id = s.id WHERE s.id IN ({','.join('?' * len(ids))})", ids).fetchall()
            order = {sid: i for i, sid in enumerate(ids)}
            return how, sorted((dict(r) for r in rows), key=lambda r: order.get(r["id"], 0))

        job = self.runner.start("Searching memories", run)
        job.finished.connect(lambda result, g=gen: self._search_done(g, result))
        job.failed.connect(lambda msg, details: self.status.setText(f"Search failed: {msg}"))
        return job

    def _search_done(self, gen: int, result) -> None:
        if gen != self._search_gen:
            return
        how, rows = result
        self._fill(rows)
        self.status.setText(f"{len(rows)} memories match (by {how}).")

    # --- rebuild -------------------------------------------------------------------------------
    def rebuild(self) -> Job:
        app_core = self.app_core
        chat = self.chat_id()

        def run(progress, cancel):
            from assistant.memory import memories

            return memories.build(app_core, chat, progress=progress, cancel=cancel)

        job = self.runner.start("Rebuilding memories", run)
        self._rebuild = job
        self.rebuild_btn.setEnabled(False)
        self.cancel_btn.show()
        self.progress.show()
        self.progress.setRange(0, 0)
        self.status.setText("Summarising sessions (the first one loads the language model)…")
        job.progress.connect(self._progress)
        job.finished.connect(lambda r: self._rebuild_done(r.line() if hasattr(r, "line") else "Memories rebuilt."))
        job.cancelled.connect(lambda: self._rebuild_done("Rebuild cancelled; finished summaries are kept."))
        job.failed.connect(lambda msg, details: self._rebuild_done(f"Rebuild failed: {msg}", details))
        return job

    def _progress(self, done: int, total: int, what: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        self.status.setText(what)

    def _rebuild_done(self, message: str, details: str = "") -> None:
        self.rebuild_btn.setEnabled(True)
        self.cancel_btn.hide()
        self.progress.hide()
        self.reload_chats()
        self.reload()
        self.status.setText(message)
        self.status.setToolTip(plain_tooltip(details[-3000:]) if details else "")
        if details:
            QTimer.singleShot(0, lambda: self.detail.setPlainText(details))
