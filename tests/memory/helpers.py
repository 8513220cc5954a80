"""Put chats, sessions, messages and stickers into a test catalog with plain SQL.

The schema is the contract (assistant/library/catalog.py); this writes exactly the rows an importer
would, so the memory bank is tested on the same tables it reads in production.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from assistant.library.catalog import now


def add_chat(app, name: str, platform: str = "test") -> int:
    with app.catalog.transaction() as conn:
        cur = conn.execute("INSERT INTO chats(platform, source_id, name, kind, imported_at) VALUES(?,?,?,?,?)",
                           (platform, f"{platform}:{name}", name, "personal_chat", now()))
        return cur.lastrowid


def _sticker(conn, attrs: dict) -> int:
    """A library sticker with the given attributes plus a platform ref pointing at it; returns the ref id."""
    key = hashlib.sha256(repr(sorted(attrs.items())).encode()).hexdigest()
    row = conn.execute("SELECT id FROM sticker_refs WHERE platform='test' AND key=?", (key,)).fetchone()
    if row:
        return row[0]
    sid = conn.execute("INSERT INTO stickers(sha256, fmt, emoji, ocr_text, description, intent, added_at) "
                       "VALUES(?,?,?,?,?,?,?)",
                       (key, "webp", attrs.get("emoji"), attrs.get("ocr_text", ""), attrs.get("description", ""),
                        attrs.get("intent"), now())).lastrowid
    return conn.execute("INSERT INTO sticker_refs(platform, key, id_kind, emoji, sticker_id) VALUES(?,?,?,?,?)",
                        ("test", key, "platform", attrs.get("emoji"), sid)).lastrowid


def add_session(app, chat_id: int, turns: list[tuple], start: datetime | None = None,
                step_s: float = 60.0) -> int:
    """One session of `turns` ((sender, text) or (sender, None, sticker_attrs)); returns the session id."""
    start = start or datetime(2024, 6, 1, 20, 0, tzinfo=timezone.utc)
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    t0 = start.timestamp()
    h = hashlib.sha256()
    with app.catalog.transaction() as conn:
        n_st = sum(1 for t in turns if len(t) > 2)
        sid = conn.execute("INSERT INTO sessions(chat_id, start, end, n_messages, n_stickers, content_hash) "
                           "VALUES(?,?,?,?,?,?)",
                           (chat_id, t0, t0 + step_s * (len(turns) - 1), len(turns), n_st, "")).lastrowid
        for i, turn in enumerate(turns):
            sender, text = turn[0], turn[1] or ""
            ref = _sticker(conn, turn[2]) if len(turn) > 2 else None
            key = f"{sid}:{i}"
            h.update(f"{sender}|{text}|{ref}\n".encode())
            conn.execute("INSERT INTO messages(chat_id, session_id, dedupe_key, time, sender, text, sticker_ref_id) "
                         "VALUES(?,?,?,?,?,?,?)", (chat_id, sid, key, t0 + step_s * i, sender, text, ref))
        conn.execute("UPDATE sessions SET content_hash=? WHERE id=?", (h.hexdigest(), sid))
    return sid


def append_message(app, session_id: int, sender: str, text: str) -> None:
    """A message added to an existing session, as a re-import would (the session's hash changes)."""
    with app.catalog.transaction() as conn:
        chat_id, end, h = conn.execute("SELECT chat_id, end, content_hash FROM sessions WHERE id=?",
                                       (session_id,)).fetchone()
        conn.execute("INSERT INTO messages(chat_id, session_id, dedupe_key, time, sender, text) VALUES(?,?,?,?,?,?)",
                     (chat_id, session_id, f"{session_id}:late:{text}", end + 60, sender, text))
        new_hash = hashlib.sha256(f"{h}|{sender}|{text}".encode()).hexdigest()
        conn.execute("UPDATE sessions SET end=?, n_messages=n_messages+1, content_hash=? WHERE id=?",
                     (end + 60, new_hash, session_id))
