"""Sessions and training samples, as the IGSR paper defines them.

A chat splits into sessions where the silence between two consecutive messages exceeds
`settings.session_gap_minutes`. For each sticker at position k of a session, the training sample
is utterances 1..k-1 as context with the sticker (utterance k) as target, plus the ids of the
chat's earlier sessions (the "history" the memory bank summarises).

Sessions are recomputed from the catalog after every import of a chat; a session whose messages
did not change keeps its id (matched by a hash of its message keys), so summaries already made
for it in the memory bank stay attached.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from assistant.domain import Message, Utterance


def split(messages: Sequence[Message], gap_minutes: float) -> list[list[Message]]:
    """Split time-ordered messages where the gap exceeds the threshold (untimed ones join the current)."""
    gap = gap_minutes * 60.0
    out: list[list[Message]] = []
    last: datetime | None = None
    for m in messages:
        if not out or (m.time is not None and last is not None and (m.time - last).total_seconds() > gap):
            out.append([])
        out[-1].append(m)
        if m.time is not None:
            last = m.time
    return out


def recompute(conn: sqlite3.Connection, chat_id: int, gap_minutes: float) -> int:
    """Re-segment one chat inside the caller's transaction; returns the number of sessions.

    Memory is O(sessions), not O(messages): rows stream from SQLite once, and messages are assigned
    by time range (two messages with the same time always share a session; untimed ones sort
    first and join the first session)."""
    gap = gap_minutes * 60.0
    rows = conn.execute("SELECT time, dedupe_key, sticker_ref_id FROM messages WHERE chat_id=? "
                        "ORDER BY time, id", (chat_id,))
    segments: list[list] = []  # [start, end, n, n_stickers, hash]
    cur: list | None = None
    last: float | None = None
    for t, key, ref in rows:
        if cur is None or (t is not None and last is not None and t - last > gap):
            cur = [t, t, 0, 0, hashlib.sha1()]
            segments.append(cur)
        cur[2] += 1
        cur[3] += ref is not None
        cur[4].update(key.encode("utf-8") + b"\x00")
        if t is not None:
            if cur[0] is None:
                cur[0] = t
            cur[1] = t
            last = t
    existing: dict[str, list[int]] = {}
    for sid, h in conn.execute("SELECT id, content_hash FROM sessions WHERE chat_id=?", (chat_id,)):
        existing.setdefault(h, []).append(sid)
    for i, (start, end, n, n_st, hasher) in enumerate(segments):
        h = hasher.hexdigest()
        ids = existing.get(h)
        if ids:
            sid = ids.pop()
            conn.execute("UPDATE sessions SET start=?, end=?, n_messages=?, n_stickers=? WHERE id=?",
                         (start, end, n, n_st, sid))
        else:
            sid = conn.execute("INSERT INTO sessions(chat_id, start, end, n_messages, n_stickers, content_hash) "
                               "VALUES(?,?,?,?,?,?)", (chat_id, start, end, n, n_st, h)).lastrowid
        where = "time >= ? AND time <= ?"
        if i == 0:
            where = f"(time IS NULL OR ({where}))"
        conn.execute(f"UPDATE messages SET session_id=? WHERE chat_id=? AND {where} "
                     "AND session_id IS NOT ?", (sid, chat_id, start, end, sid))
    stale = [sid for ids in existing.values() for sid in ids]
    if stale:
        conn.executemany("DELETE FROM sessions WHERE id=?", [(s,) for s in stale])
    return len(segments)


@dataclass
class TrainingSample:
    """IGSR sample: the session's utterances before the sticker, the sticker, and earlier sessions."""

    chat_id: int
    session_id: int
    context: list[Utterance]
    target_ref_id: int
    target_sticker_id: int | None
    target_emoji: str | None
    sender: str
    is_me: bool
    time: datetime | None
    history: list[int] = field(default_factory=list)


def sticker_sends(conn: sqlite3.Connection, me: str | None = None) -> list[sqlite3.Row]:
    """Every message in which the user sent a sticker of the library, oldest first: "the user" is
    `is_me` (the export's own account, always the user) and also, when given, the sender named `me`
    (chats whose export names no owner). Not `me` alone: a user called Alex in one export and Sam in
    another who picks "Sam" must not lose Alex's sends. Rows have id, chat_id, session_id, time,
    sender and sticker_id (what `context_before` needs)."""
    me_clause = "m.is_me=1" if me is None else "(m.is_me=1 OR m.sender=?)"
    return conn.execute(
        "SELECT m.id, m.chat_id, m.session_id, m.time, m.sender, r.sticker_id FROM messages m "
        "JOIN sticker_refs r ON m.sticker_ref_id = r.id "
        f"WHERE r.sticker_id IS NOT NULL AND {me_clause} ORDER BY m.time, m.id", [] if me is None else [me]).fetchall()


def context_before(conn: sqlite3.Connection, send: sqlite3.Row, turns: int) -> list[sqlite3.Row]:
    """The up to `turns` non-system messages before `send` in its own session, oldest first.

    The IGSR context of a sticker at position k of a session is utterances 1..k−1 *of that session*:
    yesterday's "good night!" is not what today's angry sticker answers. A message without a session
    (an untimed chat) takes them from its chat. `send` needs id, chat_id, time and session_id; the
    rows have id, sender, text, time and sticker_id."""
    sql = ("SELECT m.id, m.sender, m.text, m.time, r.sticker_id FROM messages m "
           "LEFT JOIN sticker_refs r ON m.sticker_ref_id = r.id "
           "WHERE m.chat_id=? AND m.is_system=0 AND (m.time < ? OR (m.time = ? AND m.id < ?))")
    args: list = [send["chat_id"], send["time"], send["time"], send["id"]]
    if send["session_id"] is not None:
        sql += " AND m.session_id = ?"
        args.append(send["session_id"])
    rows = conn.execute(sql + " ORDER BY m.time DESC, m.id DESC LIMIT ?", (*args, turns)).fetchall()
    return rows[::-1]


def sticker_words(emoji: str | None, name: str | None = None) -> str:
    """How a sticker reads inside a text context when its picture is not at hand."""
    label = " ".join(x for x in (emoji, name) if x)
    return f"[sticker {label}]" if label else "[sticker]"


def training_samples(conn: sqlite3.Connection, chat_id: int | None = None,
                     only_me: bool = False) -> Iterator[TrainingSample]:
    """Every sticker sent, with its session context (system messages left out) and history ids."""
    from assistant.chats.store import stored_time  # store imports this module
    chats = ([chat_id] if chat_id is not None else
             [r[0] for r in conn.execute("SELECT id FROM chats ORDER BY id")])
    for cid in chats:
        history: list[int] = []
        sessions = conn.execute("SELECT id FROM sessions WHERE chat_id=? ORDER BY start, id", (cid,)).fetchall()
        for (sid,) in sessions:
            utts: list[Utterance] = []
            rows = conn.execute(
                "SELECT m.sender, m.text, m.time, m.is_me, m.sticker_ref_id, r.sticker_id, r.emoji, r.name "
                "FROM messages m LEFT JOIN sticker_refs r ON r.id = m.sticker_ref_id "
                "WHERE m.session_id=? AND m.is_system=0 ORDER BY m.time, m.id", (sid,)).fetchall()
            for sender, text, t, is_me, ref_id, sticker_id, emoji, name in rows:
                when = stored_time(t) if t is not None else None
                if ref_id is not None:
                    if not only_me or is_me:
                        yield TrainingSample(cid, sid, list(utts), ref_id, sticker_id, emoji, sender,
                                             bool(is_me), when, list(history))
                    utts.append(Utterance(sender, sticker_words(emoji), sticker_id, when))
                else:
                    utts.append(Utterance(sender, text, None, when))
            history.append(sid)
