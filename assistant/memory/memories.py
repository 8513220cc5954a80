"""The memory bank: one LLM note per past session, kept in SQLite and indexed in Chroma.

`build` walks the catalog's sessions and summarizes those without an up-to-date memory (a memory
remembers the session's content hash, so re-imports that add messages re-summarize only the changed
sessions). Each memory is committed to SQLite and then to Chroma before the next session starts: a
cancel keeps every finished session and a crash loses at most the one in flight; the next build
picks up the rest. SQLite is the source of truth: `reindex` rebuilds the Chroma collection from it,
and `build` first repairs any memory a crash left out of Chroma.

`retrieve` is IGSR's memory retrieval without an LLM at query time: the current conversation is
embedded as an e5 query and matched against the memories' passages, same chat first, then all chats.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from assistant.chats.store import shown_time, stored_time
from assistant.domain import Memory, Utterance
from assistant.jobs import CancelToken, Cancelled, Progress, no_progress
from assistant.library.catalog import now
from assistant.memory.bank import MEMORIES
from assistant.memory.summarizer import Line, Session, StickerInfo, Summarizer, SummaryError
from assistant.ml.llm import ChatLLM, LLMError

log = logging.getLogger(__name__)

MIN_MESSAGES = 2  # a one-line "ok" is not worth a memory


@dataclass
class BuildReport:
    """What a build did, for the CLI and the GUI."""

    total: int = 0  # sessions considered
    summarized: int = 0
    up_to_date: int = 0
    too_short: int = 0
    repaired: int = 0  # memories re-added to Chroma after an interrupted run
    failed: list[str] = field(default_factory=list)
    cancelled: bool = False
    seconds: float = 0.0
    model: str = ""

    def line(self) -> str:
        bits = [f"{self.summarized} summarized", f"{self.up_to_date} already up to date"]
        if self.too_short:
            bits.append(f"{self.too_short} too short to summarize")
        if self.repaired:
            bits.append(f"{self.repaired} re-indexed")
        if self.failed:
            bits.append(f"{len(self.failed)} failed")
        status = "cancelled; finished sessions are kept" if self.cancelled else "done"
        return f"memory build {status}: " + ", ".join(bits) + f" ({self.seconds:.1f}s)"


# --- reading sessions from the catalog -------------------------------------------------------------
def _dt(ts: float | None) -> datetime | None:
    return stored_time(ts) if ts is not None else None


def _shown(ts: float | None, local_times: bool) -> datetime | None:
    """The user's wall-clock time of a stored stamp (`chats.store.shown_time`), for the prompt only:
    the memory keeps the stored time, and the content hash the stored stamps, so a machine in another
    zone neither moves a memory nor summarizes it again."""
    return shown_time(ts, local_times) if ts is not None else None


def load_session(app, session_id: int) -> Session | None:
    """A catalog session with its messages and sticker attributes, ready for the summarizer."""
    conn = app.catalog.conn
    row = conn.execute("SELECT s.id, s.chat_id, s.start, s.end, s.content_hash, c.name AS chat_name, c.local_times "
                       "FROM sessions s JOIN chats c ON c.id = s.chat_id WHERE s.id=?", (session_id,)).fetchone()
    if row is None:
        return None
    rows = conn.execute(
        """SELECT m.time, m.sender, m.text, m.media, r.emoji AS ref_emoji, r.name AS ref_name, r.pack AS ref_pack,
                  m.sticker_ref_id, st.emoji AS st_emoji, st.ocr_text, st.description, st.intent
           FROM messages m
           LEFT JOIN sticker_refs r ON r.id = m.sticker_ref_id
           LEFT JOIN stickers st ON st.id = r.sticker_id
           WHERE m.session_id=? AND m.is_system=0
           ORDER BY m.time, m.id""", (session_id,)).fetchall()
    lines = []
    for m in rows:
        sticker = None
        if m["sticker_ref_id"] is not None:
            sticker = StickerInfo(emoji=m["st_emoji"] or m["ref_emoji"] or "", words=(m["ocr_text"] or "").strip(),
                                  description=(m["description"] or "").strip(), intent=m["intent"] or "",
                                  name=m["ref_name"] or m["ref_pack"] or "")
        if not (m["text"] or "").strip() and sticker is None and not m["media"]:
            continue
        lines.append(Line(sender=m["sender"] or "", text=m["text"] or "", time=_dt(m["time"]), sticker=sticker,
                          media=m["media"]))
    local = bool(row["local_times"])
    s = Session(session_id=row["id"], chat_id=row["chat_id"], chat_name=row["chat_name"] or "", lines=lines,
                start=_dt(row["start"]), end=_dt(row["end"]),
                shown_start=_shown(row["start"], local), shown_end=_shown(row["end"], local))
    # the importer's hash says when messages changed; ours adds the sticker attributes the prompt shows
    s.content_hash = hashlib.sha256(f"{row['content_hash']}|{s.transcript_hash()}".encode()).hexdigest()
    return s


def _pending(app, chat_id: int | None, force: bool) -> tuple[list[int], int, int]:
    """Session ids that need a (new) memory, plus counts of up-to-date and too-short ones.

    The stored hash is compared with a fresh one (messages + sticker attributes); that costs one SQL
    read per session, far below one LLM call, and catches sticker attributes that changed too.
    """
    conn = app.catalog.conn
    sql = ("SELECT s.id, s.n_messages, m.content_hash AS mem_hash FROM sessions s "
           "LEFT JOIN memories m ON m.session_id = s.id")
    args: tuple = ()
    if chat_id is not None:
        sql += " WHERE s.chat_id=?"
        args = (chat_id,)
    rows = conn.execute(sql + " ORDER BY s.start, s.id", args).fetchall()
    todo, fresh, short = [], 0, 0
    for r in rows:
        n = conn.execute("SELECT COUNT(*) FROM messages WHERE session_id=? AND is_system=0", (r["id"],)).fetchone()[0]
        if n < MIN_MESSAGES:
            short += 1
            continue
        if not force and r["mem_hash"]:
            sess = load_session(app, r["id"])
            if sess is not None and sess.content_hash == r["mem_hash"]:
                fresh += 1
                continue
        todo.append(r["id"])
    return todo, fresh, short


# --- building --------------------------------------------------------------------------------------
def build(app, chat_id: int | None = None, *, progress: Progress = no_progress, cancel: CancelToken | None = None,
          llm: ChatLLM | None = None, force: bool = False) -> BuildReport:
    """Summarize every session that has no up-to-date memory; resumable and cancellable."""
    t0 = time.perf_counter()
    report = BuildReport()
    report.repaired = _repair_index(app)
    todo, report.up_to_date, report.too_short = _pending(app, chat_id, force)
    report.total = len(todo) + report.up_to_date + report.too_short
    if not todo:
        report.seconds = time.perf_counter() - t0
        progress(0, 0, "nothing to summarize")
        return report
    if llm is None:
        llm = default_llm(app)
    report.model = getattr(llm, "name", "")
    summarizer = Summarizer(llm)
    progress(0, len(todo), "loading the summarizer")
    try:
        for i, session_id in enumerate(todo):
            if cancel is not None:
                cancel.check()
            session = load_session(app, session_id)
            if session is None:  # deleted meanwhile
                continue
            progress(i, len(todo), f"session {session_id} ({len(session.lines)} messages)")
            try:
                note = summarizer.summarize(session)
            except SummaryError as exc:
                report.failed.append(f"session {session_id}: {exc}")
                log.warning("session %s: %s", session_id, exc)
                continue
            memory = Memory(session_id=session.session_id, chat_id=session.chat_id, summary=note.summary,
                            topics=note.topics, mood=note.mood, participants=note.participants,
                            language=note.language, start=session.start, end=session.end)
            save(app, memory, model=note.model, content_hash=session.content_hash)
            report.summarized += 1
            progress(i + 1, len(todo), f"session {session_id} done")
    except Cancelled:
        report.cancelled = True
    report.seconds = time.perf_counter() - t0
    return report


def default_llm(app) -> ChatLLM:
    """The remote endpoint when the user configured one, else the local GGUF."""
    from assistant.memory.remote import remote_llm

    remote = remote_llm(app.config)
    if remote is not None:
        return remote
    from assistant.ml.llm import load_llm

    return load_llm(app.config)


def _embed_text(m: Memory) -> str:
    return m.summary + ("\n" + ", ".join(m.topics) if m.topics else "")


def _meta(m: Memory) -> dict:
    meta = {"chat_id": m.chat_id, "session_id": m.session_id, "language": m.language, "mood": m.mood,
            "participants": ", ".join(m.participants), "topics": ", ".join(m.topics)}
    if m.start:
        meta["start"] = m.start.replace(tzinfo=timezone.utc).timestamp()
    if m.end:
        meta["end"] = m.end.replace(tzinfo=timezone.utc).timestamp()
    return meta


def save(app, memory: Memory, *, model: str = "", content_hash: str = "") -> None:
    """SQLite first (the truth), then Chroma (the index); a crash in between is repaired by the next build."""
    with app.catalog.transaction() as conn:
        conn.execute(
            """INSERT INTO memories(session_id, chat_id, summary, topics, mood, participants, language, model,
                                    content_hash, created_at)
               VALUES(?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(session_id) DO UPDATE SET chat_id=excluded.chat_id, summary=excluded.summary,
                 topics=excluded.topics, mood=excluded.mood, participants=excluded.participants,
                 language=excluded.language, model=excluded.model, content_hash=excluded.content_hash,
                 created_at=excluded.created_at""",
            (memory.session_id, memory.chat_id, memory.summary, json.dumps(memory.topics, ensure_ascii=False),
             memory.mood, json.dumps(memory.participants, ensure_ascii=False), memory.language, model,
             content_hash, now()))
    _index(app, [memory])


def _index(app, memories: list[Memory]) -> None:
    if not memories:
        return
    vecs = app.embedder.passage([_embed_text(m) for m in memories])
    app.bank.upsert(MEMORIES, ids=[_id(m.session_id) for m in memories], embeddings=vecs,
                    metadatas=[_meta(m) for m in memories], documents=[m.summary for m in memories])


def _id(session_id: int) -> str:
    return f"session-{session_id}"


def _repair_index(app) -> int:
    """Make Chroma match SQLite: add memories it lacks, drop ids SQLite no longer has."""
    have = app.bank.ids(MEMORIES)
    rows = app.catalog.conn.execute("SELECT session_id FROM memories").fetchall()
    want = {_id(r[0]): r[0] for r in rows}
    stale = [i for i in have if i not in want]
    app.bank.delete(MEMORIES, ids=stale)
    missing = [sid for key, sid in want.items() if key not in have]
    for i in range(0, len(missing), 256):
        _index(app, [m for m in (show(app, sid) for sid in missing[i:i + 256]) if m is not None])
    return len(missing)


def reindex(app, progress: Progress = no_progress) -> int:
    """Drop the Chroma collection and rebuild it from SQLite (e.g. after changing the embedder)."""
    app.bank.drop(MEMORIES)
    mems = list_memories(app)
    for i in range(0, len(mems), 256):
        _index(app, mems[i:i + 256])
        progress(min(i + 256, len(mems)), len(mems), "re-indexing memories")
    return len(mems)


# --- reading memories ------------------------------------------------------------------------------
_MEM_SELECT = ("SELECT m.*, s.start, s.end FROM memories m LEFT JOIN sessions s ON s.id = m.session_id")


def _row_to_memory(r) -> Memory:
    return Memory(session_id=r["session_id"], chat_id=r["chat_id"], summary=r["summary"],
                  topics=json.loads(r["topics"] or "[]"), mood=r["mood"],
                  participants=json.loads(r["participants"] or "[]"), language=r["language"],
                  start=_dt(r["start"]), end=_dt(r["end"]))


def list_memories(app, chat_id: int | None = None) -> list[Memory]:
    sql, args = _MEM_SELECT, ()
    if chat_id is not None:
        sql += " WHERE m.chat_id=?"
        args = (chat_id,)
    return [_row_to_memory(r) for r in app.catalog.conn.execute(sql + " ORDER BY s.start, m.session_id", args)]


def show(app, session_id: int) -> Memory | None:
    r = app.catalog.conn.execute(_MEM_SELECT + " WHERE m.session_id=?", (session_id,)).fetchone()
    return _row_to_memory(r) if r else None


def clear(app, chat_id: int | None = None) -> int:
    """Forget memories (all, or one chat's); the sessions stay and can be summarized again."""
    with app.catalog.transaction() as conn:
        if chat_id is None:
            n = conn.execute("DELETE FROM memories").rowcount
        else:
            n = conn.execute("DELETE FROM memories WHERE chat_id=?", (chat_id,)).rowcount
    if chat_id is None:
        app.bank.drop(MEMORIES)
    else:
        app.bank.delete(MEMORIES, where={"chat_id": chat_id})
    return n


# --- retrieval -------------------------------------------------------------------------------------
def context_text(app, context: list[Utterance] | str) -> str:
    """A pasted conversation as one text, stickers rendered as their attributes (as in the memories)."""
    if isinstance(context, str):
        return context
    ids = [u.sticker_id for u in context if u.sticker_id is not None]
    stickers = {s.id: s for s in app.catalog.stickers(ids)} if ids else {}
    out = []
    for u in context:
        text = u.text or ""
        st = stickers.get(u.sticker_id) if u.sticker_id is not None else None
        if st is not None:
            text = (text + " " + StickerInfo(emoji=st.emoji or "", words=st.ocr_text, description=st.description,
                                             intent=st.intent or "").render()).strip()
        out.append(f"{u.speaker}: {text}" if u.speaker else text)
    return "\n".join(out)


def retrieve(app, context: list[Utterance] | str, k: int = 5, chat_id: int | None = None) -> list[Memory]:
    """The k memories closest to the conversation: the same chat's first, then any chat's."""
    text = context_text(app, context)
    if not text.strip() or k <= 0:
        return []
    if app.bank.count(MEMORIES) == 0:
        return []
    vec = app.embedder.query([text])[0]
    hits = []
    if chat_id is not None:
        hits.extend(app.bank.query(MEMORIES, vec, k=k, where={"chat_id": chat_id}))
    if len(hits) < k:
        seen = {h.id for h in hits}
        hits.extend(h for h in app.bank.query(MEMORIES, vec, k=k + len(hits)) if h.id not in seen)
    out = []
    for h in hits[:k]:
        m = show(app, int(h.metadata.get("session_id", h.id.rsplit("-", 1)[-1])))
        if m is not None:  # SQLite is the truth: an index entry without a memory is ignored
            m.score = h.score
            out.append(m)
    return out


def search(app, text: str, k: int = 5, chat_id: int | None = None) -> list[Memory]:
    return retrieve(app, text, k=k, chat_id=chat_id)
