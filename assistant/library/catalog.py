"""The SQLite catalog: the source of truth for everything imported.

Chroma holds vectors and can always be rebuilt from here. WAL mode, foreign keys on, numbered
migrations recorded in `PRAGMA user_version`, and one `transaction()` per unit of work, so a crash
or a bad file leaves the catalog exactly as it was before that unit began.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.domain import Sticker

# Each entry migrates from version i to i+1. Never edit a released entry: append a new one.
MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema
    """
    CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        source_id TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        kind TEXT,
        me TEXT,
        imported_at REAL NOT NULL,
        UNIQUE (platform, source_id)
    );
    CREATE TABLE participants (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        is_me INTEGER NOT NULL DEFAULT 0,
        UNIQUE (chat_id, name)
    );
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        start REAL,
        end REAL,
        n_messages INTEGER NOT NULL DEFAULT 0,
        n_stickers INTEGER NOT NULL DEFAULT 0,
        content_hash TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX sessions_chat ON sessions(chat_id, start);
    CREATE TABLE stickers (
        id INTEGER PRIMARY KEY,
        sha256 TEXT UNIQUE,
        fmt TEXT NOT NULL DEFAULT 'unknown',
        width INTEGER NOT NULL DEFAULT 0,
        height INTEGER NOT NULL DEFAULT 0,
        animated INTEGER NOT NULL DEFAULT 0,
        frames INTEGER NOT NULL DEFAULT 1,
        size_bytes INTEGER NOT NULL DEFAULT 0,
        phash TEXT,
        emoji TEXT,
        pack TEXT,
        ocr_text TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        intent TEXT,
        intent_conf REAL,
        style TEXT,
        attrs TEXT NOT NULL DEFAULT '{}',
        user_edited TEXT NOT NULL DEFAULT '[]',
        favourite INTEGER NOT NULL DEFAULT 0,
        hidden INTEGER NOT NULL DEFAULT 0,
        described_at REAL,
        indexed_at REAL,
        added_at REAL NOT NULL
    );
    CREATE INDEX stickers_phash ON stickers(phash);
    CREATE TABLE sticker_sources (
        id INTEGER PRIMARY KEY,
        sticker_id INTEGER NOT NULL REFERENCES stickers(id) ON DELETE CASCADE,
        path TEXT NOT NULL UNIQUE,
        pack TEXT,
        size_bytes INTEGER,
        mtime REAL,
        missing INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sticker_tags (
        sticker_id INTEGER NOT NULL REFERENCES stickers(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (sticker_id, tag)
    );
    CREATE INDEX sticker_tags_tag ON sticker_tags(tag);
    CREATE TABLE sticker_refs (
        id INTEGER PRIMARY KEY,
        platform TEXT NOT NULL,
        key TEXT NOT NULL,
        id_kind TEXT NOT NULL,
        emoji TEXT,
        name TEXT,
        pack TEXT,
        sticker_id INTEGER REFERENCES stickers(id) ON DELETE SET NULL,
        UNIQUE (platform, key)
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
        dedupe_key TEXT NOT NULL,
        time REAL,
        sender TEXT NOT NULL DEFAULT '',
        is_me INTEGER NOT NULL DEFAULT 0,
        text TEXT NOT NULL DEFAULT '',
        media TEXT,
        is_system INTEGER NOT NULL DEFAULT 0,
        sticker_ref_id INTEGER REFERENCES sticker_refs(id) ON DELETE SET NULL,
        UNIQUE (chat_id, dedupe_key)
    );
    CREATE INDEX messages_chat_time ON messages(chat_id, time, id);
    CREATE INDEX messages_session ON messages(session_id, time, id);
    CREATE INDEX messages_ref ON messages(sticker_ref_id);
    CREATE TABLE memories (
        session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        summary TEXT NOT NULL,
        topics TEXT NOT NULL DEFAULT '[]',
        mood TEXT NOT NULL DEFAULT '',
        participants TEXT NOT NULL DEFAULT '[]',
        language TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 1 -> 2: chats whose export wrote times with no zone (chats.store.shown_time shows them as
    # written). WhatsApp and LINE exports always do; a Signal text export or an old Telegram one is
    # marked at its next import.
    """
    ALTER TABLE chats ADD COLUMN local_times INTEGER NOT NULL DEFAULT 0;
    UPDATE chats SET local_times = 1 WHERE platform IN ('whatsapp', 'line');
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class CatalogError(RuntimeError):
    """A catalog problem a user can act on (newer schema, locked, corrupt)."""


class Catalog:
    """One SQLite connection per thread over the catalog file.

    Python's sqlite3 objects must not cross threads; GUI workers and the UI thread each get their own
    connection through `conn`, and SQLite's own locking (WAL + busy timeout) keeps them consistent.
    """

    def __init__(self, path: Path | str, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._migrate()

    # --- connections --------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (nested calls join the outer one)."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise CatalogError(
                    f"The catalog {self.path} is busy: another Sticker Assistant process is writing. "
                    "Try again when it finishes.") from exc
            raise
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    # --- schema -------------------------------------------------------------------------------
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise CatalogError(
                f"{self.path} was written by a newer Sticker Assistant (schema {current}, this version "
                f"knows {SCHEMA_VERSION}). Update the app, or restore a backup.")
        for version in range(current, SCHEMA_VERSION):
            with self.transaction() as conn:
                for statement in _split_sql(MIGRATIONS[version]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version + 1}")

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # --- key/value state ----------------------------------------------------------------------
    def get_kv(self, key: str, default: object = None) -> object:
        row = self.conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def set_kv(self, key: str, value: object) -> None:
        self.conn.execute("INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET "
                          "value=excluded.value", (key, json.dumps(value, ensure_ascii=False)))

    # --- stickers (shared by library, retrieval and GUI) -------------------------------------
    def sticker(self, sticker_id: int, stickers_dir: Path | None = None) -> Sticker | None:
        row = self.conn.execute(_STICKER_SELECT + " WHERE s.id=?", (sticker_id,)).fetchone()
        return row_to_sticker(row, stickers_dir) if row else None

    def stickers(self, ids: list[int] | None = None, stickers_dir: Path | None = None,
                 include_hidden: bool = True) -> list[Sticker]:
        sql = _STICKER_SELECT
        args: list = []
        where = []
        if ids is not None:
            if not ids:
                return []
            where.append(f"s.id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        if not include_hidden:
            where.append("s.hidden=0")
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self.conn.execute(sql + " ORDER BY s.id", args).fetchall()
        return [row_to_sticker(r, stickers_dir) for r in rows]

    def count(self, table: str) -> int:
        if table not in {"chats", "participants", "sessions", "stickers", "sticker_sources", "sticker_tags",
                         "sticker_refs", "messages", "memories"}:
            raise ValueError(table)
        return self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


_STICKER_SELECT = """
SELECT s.*,
       (SELECT group_concat(tag, char(31)) FROM sticker_tags t WHERE t.sticker_id = s.id) AS tag_list,
       (SELECT COUNT(*) FROM messages m JOIN sticker_refs r ON m.sticker_ref_id = r.id
         WHERE r.sticker_id = s.id) AS use_count
FROM stickers s
"""


def sticker_file(stickers_dir: Path, sha256: str, fmt: str) -> Path:
    """Content-addressed location: two levels of fan-out keep directories small with 100k stickers."""
    return stickers_dir / sha256[:2] / f"{sha256}.{fmt}"


def row_to_sticker(row: sqlite3.Row, stickers_dir: Path | None = None) -> Sticker:
    keys = row.keys()
    path = None
    if stickers_dir is not None and row["sha256"]:
        path = sticker_file(stickers_dir, row["sha256"], row["fmt"])
    tags = row["tag_list"].split("\x1f") if "tag_list" in keys and row["tag_list"] else []
    return Sticker(id=row["id"], sha256=row["sha256"] or "", path=path, fmt=row["fmt"], width=row["width"],
                   height=row["height"], animated=bool(row["animated"]), emoji=row["emoji"], pack=row["pack"],
                   ocr_text=row["ocr_text"], description=row["description"], tags=sorted(tags),
                   intent=row["intent"], style=row["style"], favourite=bool(row["favourite"]),
                   hidden=bool(row["hidden"]), use_count=row["use_count"] if "use_count" in keys else 0)


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def now() -> float:
    return time.time()
