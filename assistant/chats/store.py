"""Writing parsed chats into the catalog, and `import_path`, the one entry point for GUI and CLI.

Guarantees: each chat is one transaction (with `partial=False` a whole file is one transaction,
so a bad file changes nothing); re-importing the same or an overlapping export adds nothing twice
(`messages.dedupe_key` is the exporter's id, else a hash of time+sender+text+sticker and the
occurrence number of that tuple in the file); sessions are recomputed per chat afterwards.
Sticker files found in an export go to the library through `library.ingest.add_file`.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from assistant.chats import sessions
from assistant.chats.base import Importer, ParseContext, ParsedChat, ParseError
from assistant.chats.detect import FORMATS, Detected, detect
from assistant.chats.zipsafe import safe_extract
from assistant.domain import ImportProblem, ImportReport, StickerIdKind, StickerRef
from assistant.hashing import sha256_file
from assistant.jobs import CancelToken, Cancelled, Progress, no_progress
from assistant.library.catalog import now

_EPOCH = datetime(1970, 1, 1)
_BATCH = 2000


def importer_for(fmt: str) -> Importer:
    """The importer object for a format name (imported lazily: each format is its own module)."""
    if fmt == "telegram":
        from assistant.chats.telegram import TelegramImporter as cls
    elif fmt == "whatsapp":
        from assistant.chats.whatsapp import WhatsAppImporter as cls
    elif fmt == "discord":
        from assistant.chats.discord import DiscordImporter as cls
    elif fmt == "messenger":
        from assistant.chats.messenger import MessengerImporter as cls
    elif fmt == "signal":
        from assistant.chats.signal import SignalImporter as cls
    elif fmt == "wechat":
        from assistant.chats.wechat import WeChatImporter as cls
    elif fmt == "line":
        from assistant.chats.line import LineImporter as cls
    else:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return cls()


def epoch_seconds(t: datetime | None) -> float | None:
    """Naive datetimes are wall-clock times stored as if UTC (deterministic on every machine)."""
    if t is None:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return (t - _EPOCH).total_seconds()


def stored_time(seconds: float) -> datetime:
    """The naive datetime an `epoch_seconds` value was made from (UTC, or a zoneless export's wall
    clock as written)."""
    return _EPOCH + timedelta(seconds=seconds)


def shown_time(seconds: float, local_times: bool) -> datetime:
    """The wall-clock time to show for a stored `epoch_seconds` value of a chat.

    A time that came with its zone was stored in UTC, so it is shown in this machine's zone. A chat
    whose export wrote no zone (``chats.local_times``: WhatsApp, LINE...) holds the phone's own wall
    clock, stored as written. It is shown as written: converting it would move it by this machine's
    UTC offset. It is not converted at import either, since a re-import on a machine in another zone
    would then store other times and add every message twice."""
    return stored_time(seconds) if local_times else datetime.fromtimestamp(seconds)


class _Writer:
    """State for one import: sticker-ref and file-hash caches shared across its chats."""

    def __init__(self, app, report: ImportReport, label_root: tuple[Path, str] | None,
                 progress: Progress, cancel: CancelToken | None, me: str | None) -> None:
        self.app = app
        self.report = report
        self.label_root = label_root  # (extracted temp dir, zip path) for zip imports
        self.progress = progress
        self.cancel = cancel
        self.me = me
        self.refs: dict[tuple[str, str], int] = {}
        self.file_sha: dict[Path, str] = {}
        self.done = 0

    def label(self, p: Path) -> str:
        if self.label_root is not None:
            root, zip_label = self.label_root
            try:
                return f"{zip_label}!{p.relative_to(root).as_posix()}"
            except ValueError:
                pass
        return str(p)

    def ref_key(self, st: StickerRef) -> tuple[str, str]:
        kind = st.id_kind
        if kind is StickerIdKind.PLATFORM:
            return st.key or "", kind.value
        if kind is StickerIdKind.SHA256:
            sha = self.file_sha.get(st.file)  # type: ignore[arg-type]
            if sha is None:
                sha = self.file_sha[st.file] = sha256_file(st.file)  # type: ignore[index,arg-type]
            return f"sha256:{sha}", kind.value
        if kind is StickerIdKind.EMOJI:
            return f"emoji:{st.emoji}", kind.value
        return "none", kind.value

    def ref_id(self, conn, st: StickerRef) -> int:
        key, kind = self.ref_key(st)
        cached = self.refs.get((st.platform, key))
        if cached is not None:
            return cached
        sticker_id = None
        if st.file is not None:
            from assistant.library.ingest import add_file

            res = add_file(self.app, st.file, pack=st.pack, emoji=st.emoji, source=self.label(st.file))
            sticker_id = res.sticker_id
            if res.problem is not None:
                self.report.problems.append(ImportProblem(self.label(st.file),
                                                          f"sticker file not added: {res.problem.message}"))
            elif res.added:
                self.report.stickers_added += 1
        row = conn.execute(
            "INSERT INTO sticker_refs(platform, key, id_kind, emoji, name, pack, sticker_id) VALUES(?,?,?,?,?,?,?) "
            "ON CONFLICT(platform, key) DO UPDATE SET sticker_id=COALESCE(sticker_refs.sticker_id, "
            "excluded.sticker_id), emoji=COALESCE(sticker_refs.emoji, excluded.emoji), "
            "name=COALESCE(sticker_refs.name, excluded.name), pack=COALESCE(sticker_refs.pack, excluded.pack) "
            "RETURNING id", (st.platform, key, kind, st.emoji, st.name, st.pack, sticker_id)).fetchone()
        self.refs[(st.platform, key)] = row[0]
        return row[0]

    def write_chat(self, pc: ParsedChat, ctx: ParseContext) -> None:
        """Insert one chat's messages inside the caller's transaction."""
        app, report = self.app, self.report
        chat = pc.chat
        conn = app.catalog.conn
        conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache for this connection: big imports
        chat_id = conn.execute(
            "INSERT INTO chats(platform, source_id, name, kind, imported_at) VALUES(?,?,?,?,?) "
            "ON CONFLICT(platform, source_id) DO UPDATE SET imported_at=excluded.imported_at RETURNING id",
            (chat.platform, chat.source_id, chat.name, chat.kind, now())).fetchone()[0]
        count_sql = "SELECT COUNT(*) FROM messages WHERE chat_id=?"
        before = conn.execute(count_sql, (chat_id,)).fetchone()[0]
        batch: list[tuple] = []
        # Occurrence numbers of identical (time, sender, text) messages, per run of equal times: enough
        # to keep "ok" sent twice in one minute, with memory bounded for a multi-GB text export.
        seen: dict[bytes, int] = {}
        seen_ts: float | None = None
        n = stickers = with_files = 0

        def flush() -> None:
            conn.executemany("INSERT OR IGNORE INTO messages(chat_id, dedupe_key, time, sender, text, media, "
                             "is_system, sticker_ref_id) VALUES(?,?,?,?,?,?,?,?)", batch)
            batch.clear()

        for msg in pc.messages:
            n += 1
            ts = epoch_seconds(msg.time)
            ref = None
            if msg.sticker is not None:
                stickers += 1
                with_files += msg.sticker.file is not None
                ref = self.ref_id(conn, msg.sticker)
            if msg.source_id:
                key = f"id:{msg.source_id}"
            else:
                st = msg.sticker
                h = hashlib.blake2b(f"{ts}\x1f{msg.sender}\x1f{msg.text}\x1f{msg.media}\x1f"
                                    f"{st.key or st.name or st.emoji or '' if st else ''}".encode("utf-8",
                                                                                             "surrogatepass"),
                                    digest_size=12).digest()
                if ts != seen_ts:
                    seen.clear()
                    seen_ts = ts
                k = seen.get(h, 0)
                seen[h] = k + 1
                # Time first: keys of a chronological export land at the end of the unique index
                # (appends, not random B-tree inserts), which keeps large imports fast.
                key = f"t{int(ts) if ts is not None else 0:x}:{base64.urlsafe_b64encode(h).decode()}:{k}"
            batch.append((chat_id, key, ts, msg.sender, msg.text, msg.media, int(msg.is_system), ref))
            if len(batch) >= _BATCH:
                flush()
                self.done += _BATCH
                if ctx.total_bytes:
                    self.progress(min(ctx.done_bytes, ctx.total_bytes), ctx.total_bytes,
                                  f"{chat.name}: {n} messages")
                else:
                    self.progress(self.done, 0, f"{chat.name}: {n} messages")
                if self.cancel is not None:
                    self.cancel.check()
        if batch:
            flush()
        added = conn.execute(count_sql, (chat_id,)).fetchone()[0] - before
        me = self._me(chat)
        conn.execute("UPDATE chats SET name=?, kind=COALESCE(?, kind), me=COALESCE(?, me), local_times=? WHERE id=?",
                     (chat.name, chat.kind, me, int(chat.local_times), chat_id))
        me = conn.execute("SELECT me FROM chats WHERE id=?", (chat_id,)).fetchone()[0]
        names = set(chat.participants)
        conn.executemany("INSERT OR IGNORE INTO participants(chat_id, name) VALUES(?,?)",
                         [(chat_id, p) for p in sorted(names) if p])
        if me:
            conn.execute("INSERT OR IGNORE INTO participants(chat_id, name) VALUES(?,?)", (chat_id, me))
            conn.execute("UPDATE participants SET is_me=(name=?) WHERE chat_id=?", (me, chat_id))
            conn.execute("UPDATE messages SET is_me=(sender=?) WHERE chat_id=?", (me, chat_id))
        n_sessions = sessions.recompute(conn, chat_id, app.config.settings.session_gap_minutes)
        report.chats += 1
        report.messages += n
        report.messages_added += added
        report.sessions += n_sessions
        report.sticker_messages += stickers
        report.stickers_with_files += with_files
        report.samples += conn.execute("SELECT COUNT(*) FROM messages WHERE chat_id=? AND is_system=0 AND "
                                       "sticker_ref_id IS NOT NULL", (chat_id,)).fetchone()[0]

    def _me(self, chat) -> str | None:
        if self.me:
            return self.me
        if chat.me:
            return chat.me
        for name in self.app.config.settings.me_names:
            if name in chat.participants:
                return name
        return None


def import_path(app, path: Path | str, *, progress: Progress | None = None, cancel: CancelToken | None = None,
                partial: bool = False, me: str | None = None, fmt: str | None = None) -> ImportReport:
    """Import a file, an export folder or a .zip; one report for everything found under it."""
    path = Path(path)
    report = ImportReport(source=str(path))
    if fmt is not None and fmt not in FORMATS:
        report.problems.append(ImportProblem(str(path), f"unknown format {fmt!r}; known: {', '.join(FORMATS)}",
                                             fatal=True))
        return report
    writer = _Writer(app, report, None, progress or no_progress, cancel, me)
    formats: list[str] = []
    try:
        _import_detected(app, detect(path, fmt), writer, partial, formats, fmt)
    except Cancelled:
        report.cancelled = True
    report.format = ", ".join(formats) if formats else "unknown"
    if not formats and not any(p.fatal for p in report.problems):
        for p in report.problems:
            p.fatal = True
        if not report.problems:
            report.problems.append(ImportProblem(str(path), "no chat export found here", fatal=True))
    return report


def _import_detected(app, found: list[Detected], writer: _Writer, partial: bool, formats: list[str],
                     fmt: str | None) -> None:
    report = writer.report
    single = len(found) == 1
    for d in found:
        if writer.cancel is not None:
            writer.cancel.check()
        if d.fmt is None:
            report.problems.append(ImportProblem(writer.label(d.path), f"skipped: {d.why}", fatal=single))
            continue
        if d.fmt == "zip":
            _import_zip(app, d.path, writer, partial, formats, fmt)
            continue
        if d.fmt not in formats:
            formats.append(d.fmt)
        _import_file(app, d, writer, partial)


def _import_zip(app, path: Path, writer: _Writer, partial: bool, formats: list[str], fmt: str | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="import-", dir=app.config.cache_dir))
    dest = tmp / path.stem  # the folder keeps the zip's name: WhatsApp names the chat after it
    old = writer.label_root
    try:
        try:
            safe_extract(path, dest)
        except ParseError as exc:
            writer.report.problems.append(exc.problem(fatal=True))
            return
        writer.label_root = (dest, str(path))
        found = detect(dest, None)
        if fmt:
            found = [Detected(fmt, d.path) if d.fmt else d for d in found]
        _import_detected(app, found, writer, partial, formats, fmt)
    finally:
        writer.label_root = old
        shutil.rmtree(tmp, ignore_errors=True)


def _import_file(app, d: Detected, writer: _Writer, partial: bool) -> None:
    """partial=False: the whole file is one transaction. partial=True: one per chat, bad parts skipped."""
    report = writer.report
    ctx = ParseContext(d.path, partial=partial)
    if d.path.is_file():
        ctx.total_bytes = d.path.stat().st_size
    importer = importer_for(d.fmt)  # type: ignore[arg-type]
    catalog = app.catalog
    snapshot = (report.chats, report.messages, report.messages_added, report.sessions, report.sticker_messages,
                report.stickers_with_files, report.samples, report.stickers_added, len(report.problems))
    try:
        if partial:
            chats = importer.parse(d.path, ctx)
            while True:
                try:
                    with catalog.transaction():
                        pc = next(chats, None)
                        if pc is None:
                            break
                        writer.write_chat(pc, ctx)
                except ParseError as exc:
                    report.problems.append(exc.problem(fatal=False))
                    break
        else:
            with catalog.transaction():
                for pc in importer.parse(d.path, ctx):
                    writer.write_chat(pc, ctx)
    except ParseError as exc:
        # Rolled back: the counts of this file are undone too, so the report matches the catalog.
        (report.chats, report.messages, report.messages_added, report.sessions, report.sticker_messages,
         report.stickers_with_files, report.samples, report.stickers_added) = snapshot[:8]
        del report.problems[snapshot[8]:]
        exc.file = writer.label(Path(exc.file))
        report.problems.append(exc.problem(fatal=True))
        writer.refs.clear()
        return
    except Cancelled:
        writer.refs.clear()
        raise
    for p in ctx.problems:
        p.file = writer.label(Path(p.file))
    report.problems.extend(ctx.problems)
    if ctx.suppressed:
        report.problems.append(ImportProblem(writer.label(d.path), f"… and {ctx.suppressed} more problems "
                                             "like those above (not listed)"))
    for note in ctx.notes:
        if note not in report.notes:
            report.notes.append(note)
