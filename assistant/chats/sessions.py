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
    """Re-segment one chat inside the caller's transaction; returns the number of sessions."""
    gap = gap_minutes * 60.0
    rows = conn.execute("SELECT id, time, dedupe_key, sticker_ref_id FROM messages WHERE chat_id=? "
                        "ORDER BY time, id", (chat_id,))
    segments: list[dict] = []
    cur: dict | None = None
    last: float | None = None
    for mid, t, key, ref in rows:
        if cur is None or (t is not None and last is not None and t - last > gap):
            cur = {"ids": [], "start": t, "end": t, "n": 0, "st": 0, "h": hashlib.sha1()}
            segments.append(cur)
        cur["ids"].append(mid)
        cur["n"] += 1
        cur["st"] += ref is not None
        cur["h"].update(key.encode("utf-8") + b"\x00")
        if t is not None:
            if cur["start"] is None:
                cur["start"] = t
            cur["end"] = t
            last = t
    existing: dict[str, list[int]] = {}
    for sid, h in conn.execute("SELECT id, content_hash FROM sessions WHERE chat_id=?", (chat_id,)):
        existing.setdefault(h, []).append(sid)
    updates: list[tuple[int, int]] = []
    for seg in segments:
        h = seg["h"].hexdigest()
        ids = existing.get(h)
        if ids:
            sid = ids.pop()
            conn.execute("UPDATE sessions SET start=?, end=?, n_messages=?, n_stickers=? WHERE id=?",
                         (seg["start"], seg["end"], seg["n"], seg["st"], sid))
        else:
            sid = conn.execute("INSERT INTO sessions(chat_id, start, end, n_messages, n_stickers, content_hash) "
                               "VALUES(?,?,?,?,?,?)", (chat_id, seg["start"], seg["end"], seg["n"], seg["st"],
                                                       h)).lastrowid
        updates.extend((sid, mid) for mid in seg["ids"])
    stale = [sid for ids in existing.values() for sid in ids]
    conn.executemany("UPDATE messages SET session_id=? WHERE id=?", updates)
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


def sticker_words(emoji: str | None, name: str | None = None) -> str:
    """How a sticker reads inside a text context when its picture is not at hand."""
    label = " ".join(x for x in (emoji, name) if x)
    return f"[sticker {label}]" if label else "[sticker]"


def training_samples(conn: sqlite3.Connection, chat_id: int | None = None,
                     only_me: bool = False) -> Iterator[TrainingSample]:
    """Every sticker sent, with its session context (system messages left out) and history ids."""
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
                when = datetime.utcfromtimestamp(t) if t is not None else None
                if ref_id is not None:
                    if not only_me or is_me:
                        yield TrainingSample(cid, sid, list(utts), ref_id, sticker_id, emoji, sender,
                                             bool(is_me), when, list(history))
                    utts.append(Utterance(sender, sticker_words(emoji), sticker_id, when))
                else:
                    utts.append(Utterance(sender, text, None, when))
            history.append(sid)
