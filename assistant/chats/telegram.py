"""Telegram Desktop machine-readable JSON: "Export chat history" and "Export Telegram data".

The file is read as a stream: `_JsonStream` decodes it a block at a time and walks the few levels
of structure an export has (top level → `chats`/`left_chats` → `list` → chat → `messages`) itself,
so single-chat and "export all data" files take the same path. The first messages of an array are
parsed one by one by the standard library's C scanner (`scan_once`); a long array then switches
to 64 KiB blocks of raw bytes parsed whole by orjson, and any block orjson cannot take goes back
to the per-message path. Memory stays bounded by a block (or one message) however large
`result.json` is. Both schemas are handled: old exports (bare numeric `from_id`, `date` only,
`text` as a list) and new ones (`user…` ids, `date_unixtime`, `text_entities`). Stickers:
`media_type == "sticker"`, emoji in `sticker_emoji`, file paths relative to the export folder, or a
"(File not included…)" placeholder (emoji-only reference).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from assistant.chats.base import ParseContext, ParsedChat, ParseError

try:  # a dependency of chromadb; the block parser for long message arrays (3-4x the stdlib's speed)
    import orjson
except ImportError:  # pragma: no cover - the per-message stdlib path then reads everything
    orjson = None
from assistant.domain import Chat, Message, StickerRef

NAME = "telegram"
READ = 256 << 10  # bytes decoded per refill of the per-message path
_LOW = 64 << 10  # characters left in the buffer below which the array loop refills first
_BATCH_AFTER = 64  # elements read one by one before an array switches to whole blocks
# Bytes per orjson block: small enough that a block's objects stay in cache and few of them live
# through a garbage collection (64 KiB ran ~1.4x faster than 1 MiB); grown for longer elements.
_BLOCK = 64 << 10
_BLOCK_MAX = 4 << 20
_BLANK = re.compile(rb"[ \t\n\r]*")
MAX_VALUE = 16 << 20  # one message (or header value) larger than this is refused, not buffered
_WS = re.compile(r"[ \t\n\r]*")
_EPOCH = datetime(1970, 1, 1)
_SCALAR = (str, int, float, type(None))
_DELIMITED = (dict, list, str)  # values that cannot continue past where the scanner stopped
_MEDIA_KEYS = (("photo", "photo"), ("contact_information", "contact"), ("location_information", "location"),
               ("poll", "poll"), ("game_title", "game"), ("invoice_information", "invoice"))
_MEDIA_FIELDS = frozenset(k for k, _ in _MEDIA_KEYS) | {"file"}


class _BadJson(Exception):
    """The JSON ends early or is invalid at `where` (a byte offset), said in `reason`."""

    def __init__(self, reason: str, where: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


class _JsonStream:
    """A cursor over a JSON file's text, refilled from disk as it moves: structure is walked a
    token at a time, values are parsed whole in C. Memory: one refill plus the value at hand."""

    def __init__(self, fh, ctx: ParseContext) -> None:
        self._fh = fh
        self._ctx = ctx
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._decode = self._decoder.decode
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.broken: _BadJson | None = None
        self._bad_utf8: tuple[str, int] | None = None

    def fill(self) -> bool:
        """Append the next block of the file (dropping what the cursor has passed); False at EOF.
        A value longer than a block doubles the read, so reading it stays linear."""
        if self.eof:
            return False
        if self._bad_utf8 is not None:  # the cursor has reached the bad byte
            self.fail(*self._bad_utf8)
        data = self._fh.read(max(READ, len(self.buf) - self.pos))
        try:
            text = self._decode(data, final=not data)
        except UnicodeDecodeError as exc:
            # Keep the good text before the bad byte: the messages in it are read, and the error
            # is raised where the cursor gets to it (not where the block happened to start).
            text = exc.object[:exc.start].decode("utf-8")
            self._bad_utf8 = (f"not valid UTF-8 ({exc.reason})", self._fh.tell() - len(exc.object) + exc.start)
        if not data:
            self.eof = True
        self.buf = self.buf[self.pos:] + text
        self.pos = 0
        self._ctx.done_bytes = self._fh.tell()
        return bool(data) or bool(text)

    def closed_after_item(self, close: str) -> bool:
        """After an object member or array element: True at `close`, False past a ',', else fail."""
        c = self.peek()
        self.pos += 1
        if c == close:
            return True
        if c != ",":
            self.pos -= 1
            self.fail(f"expected ',' or '{close}', found {c or 'the end of the file'!r}")
        return False

    def fail(self, reason: str, where: int | None = None):
        self.broken = _BadJson(reason, self._fh.tell() if where is None else where)
        raise self.broken

    def peek(self) -> str:
        """The next non-blank character ("" at the end of the file), the cursor left on it."""
        if self.broken is not None:
            raise self.broken
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def take(self, char: str) -> None:
        if self.peek() != char:
            found = self.buf[self.pos:self.pos + 1] or "the end of the file"
            self.fail(f"expected {char!r}, found {found!r}")
        self.pos += 1

    def value(self) -> object:
        """Parse the value at the cursor (C decoder), refilling while it runs past the buffer."""
        self.peek()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # Only a value that may go on past the buffer is worth more data: an open string, or
                # an error at the very end. Anything else is invalid here and now.
                cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(self.buf) - 8
                if self.eof or not cut:
                    self.fail(f"{exc.msg} (the file ends early?)" if self.eof else exc.msg)
                if len(self.buf) - self.pos > MAX_VALUE:
                    self.fail(f"a value larger than {MAX_VALUE >> 20} MB; not a Telegram message")
                self.fill()
                continue
            except RecursionError:
                self.fail("nested too deeply; not a Telegram export")
            except ValueError as exc:  # NaN/Infinity
                self.fail(str(exc))
            if end == len(self.buf) and not self.eof:  # a number cut by the buffer end: read on
                self.fill()
                continue
            self.pos = end
            return obj

    def members(self) -> Iterator[str]:
        """Keys of the object at the cursor; the caller reads or skips each value before the next."""
        self.take("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                self.fail("an object key is not a string")
            self.take(":")
            yield key
            if self.closed_after_item("}"):
                return

    def items(self) -> Iterator[object]:
        """Parsed elements of the array at the cursor, one at a time. The loop calls the C scanner
        directly and steps over separators inline; anything unusual (a value running past the
        buffer, an error) goes through `value()` and `peek()`, which refill and report."""
        self.take("[")
        if self.peek() == "]":
            self.pos += 1
            return
        scan, ws, delimited = _DECODER.scan_once, _WS.match, _DELIMITED
        n = 0
        while True:
            if len(self.buf) - self.pos < _LOW and not self.eof and self._bad_utf8 is None:
                self.fill()  # top up before the block runs out, rather than fail and retry at its end
            buf, pos = self.buf, self.pos  # pos is on the element's first character
            try:
                obj, end = scan(buf, pos)
                if end == len(buf) and type(obj) not in delimited and not self.eof:
                    raise StopIteration  # a number may go on in the next block
                self.pos = end
            except (StopIteration, ValueError, RecursionError):
                obj = self.value()
            yield obj
            n += 1
            if n == _BATCH_AFTER and orjson is not None:  # a long array: whole blocks at a time
                self._seek((yield from self._batches()))
            buf = self.buf
            pos = ws(buf, self.pos).end()
            if pos < len(buf) and buf[pos] == ",":
                self.pos = ws(buf, pos + 1).end()
                if self.pos == len(buf):
                    self.peek()
                continue
            self.pos = pos
            if self.closed_after_item("]"):
                return
            self.peek()

    def _seek(self, offset: int) -> None:
        self._fh.seek(offset)
        self._decoder.reset()
        self.buf, self.pos, self.eof, self._bad_utf8 = "", 0, False, None

    def _batches(self) -> Iterator[object]:
        """The rest of a long array, parsed a block of elements at a time by orjson straight from the
        file's bytes (no decode to str, no Python step per element). Called right after an
        element; returns the byte offset right after the last element it yielded, where the
        caller's cursor resumes (at the array's end, or wherever a block would not parse: a
        layout it cannot cut, an integer past 64 bits, a lone surrogate, invalid JSON — which the
        caller then reads, or reports, itself).

        A block is cut after the last element that ends a line: "<indent>}" on a line of its own
        in pretty-printed exports (Telegram Desktop's), or "}" at a line end with one element per
        line. JSON strings cannot hold a raw newline, so a cut there never falls inside a string;
        and if the cut text is not a whole sequence of elements, orjson refuses it and nothing
        from that block is used."""
        fh = self._fh
        offset = fh.tell() - len(self._decoder.getstate()[0]) - len(self.buf[self.pos:].encode("utf-8"))
        close = None
        size = _BLOCK
        while True:
            fh.seek(offset)
            data = fh.read(size)
            head = _BLANK.match(data).end()
            if data[head:head + 1] != b",":
                return offset  # the array ends here (or something odd follows): the caller reads it
            start = _BLANK.match(data, head + 1).end()
            if close is None:
                gap = data[head + 1:start]
                close = b"\n" + gap.rpartition(b"\n")[2] + b"}" if b"\n" in gap else b"}\n"
            cut = data.rfind(close, start)
            if cut < 0:  # one element longer than the block, or compact JSON (no lines to cut at)
                if len(data) < size or size >= _BLOCK_MAX:
                    return offset
                size *= 4
                continue
            cut += len(close) if close[0] == 10 else 1
            try:
                objs = orjson.loads(b"[" + data[start:cut] + b"]")
            except orjson.JSONDecodeError:
                return offset
            # orjson reads integers past 64 bits as floats where json keeps them exact: such a
            # block goes back to the stdlib (the three fields whose numbers become text).
            for obj in objs:
                if type(obj) is dict and (type(obj.get("id")) is float or type(obj.get("from_id")) is float
                                          or type(obj.get("reply_to_message_id")) is float):
                    return offset
            yield from objs
            offset += cut
            self._ctx.done_bytes = offset
            size = _BLOCK

    def skip(self) -> None:
        """Pass over the value at the cursor; big arrays and objects a member at a time."""
        c = self.peek()
        if c == "[":
            for _ in self.items():
                pass
        elif c == "{":
            for _ in self.members():
                self.value()
        else:
            self.value()


def entities_text(value: object) -> str:
    """Telegram's polymorphic text: a string, or a list mixing strings and {type, text} objects."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if len(value) == 1 and type(part := value[0]) is dict:  # the usual single plain entity
            t = part.get("text")
            return t if isinstance(t, str) else ""
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                t = part.get("text")
                parts.append(t if isinstance(t, str) else "")
        return "".join(parts)
    return str(value)


def message_text(obj: dict) -> str:
    ents = obj.get("text_entities")
    if isinstance(ents, list) and (ents or obj.get("text") in ("", None, [])):
        return entities_text(ents)
    return entities_text(obj.get("text"))


def _time(obj: dict) -> datetime | None:
    """UTC wall time from `date_unixtime`; old exports only have local `date` (kept as written)."""
    unix = obj.get("date_unixtime")
    if unix is not None and unix != "":
        try:
            return _EPOCH + timedelta(seconds=int(unix))  # = utcfromtimestamp, without its deprecation
        except (TypeError, ValueError, OverflowError):
            pass
    date = obj.get("date")
    if isinstance(date, str):
        try:
            return datetime.fromisoformat(date)
        except ValueError:
            return None
    return None


def _is_placeholder(value: object) -> bool:
    return not isinstance(value, str) or not value or value.startswith("(")


def _file_in(folder: Path, rel: object) -> Path | None:
    if _is_placeholder(rel):
        return None
    p = (folder / str(rel).replace("\\", "/")).resolve()
    if not p.is_relative_to(folder.resolve()):
        return None  # a path pointing outside the export is never followed
    return p if p.is_file() else None


def to_message(obj: dict, folder: Path, ctx: ParseContext) -> Message:
    """One message object → Message. Runs once per message of exports of millions, so the usual
    shapes (a unix time, one plain text entity, no media) are taken inline."""
    get = obj.get
    kind = get("type")
    mid = get("id")
    unix = get("date_unixtime")
    if type(unix) is str and unix:
        try:
            when = _EPOCH + timedelta(seconds=int(unix))  # = utcfromtimestamp, without its deprecation
        except (ValueError, OverflowError):
            when = _time(obj)
    else:
        when = _time(obj)
    if kind == "service":
        actor = get("actor") or ""
        action = get("action") or ""
        title = get("title")
        text = action + (f": {title}" if isinstance(title, str) and title else "")
        return Message(str(actor), when, text, None, None if mid is None else str(mid), True)
    sender = get("from")
    if sender is None:
        sender = "Deleted Account" if "from_id" in obj else ""
    elif type(sender) is not str:
        sender = str(sender)
    ents = get("text_entities")
    if type(ents) is list and len(ents) == 1 and type(first := ents[0]) is dict:
        text = first.get("text")
        if type(text) is not str:
            text = ""
    elif ents == [] and get("text") == "":  # media without a caption
        text = ""
    else:
        text = message_text(obj)
    reply = get("reply_to_message_id")
    msg = Message(sender, when, text, None, None if mid is None else str(mid),
                  kind is not None and kind != "message", None, None if reply is None else str(reply))
    media_type = get("media_type")
    if media_type == "sticker":
        f = _file_in(folder, get("file")) or _file_in(folder, get("thumbnail"))
        if f is None and not _is_placeholder(get("file")):
            ctx.note("Some Telegram sticker files listed in the export are missing from its folder; "
                     "those stickers are kept as emoji-only references.")
        name = get("file_name") or (get("file") if not _is_placeholder(get("file")) else None)
        fmt = None
        if isinstance(name, str) and "." in name:
            fmt = name.rsplit(".", 1)[-1].lower()
        msg.sticker = StickerRef(platform=NAME, emoji=get("sticker_emoji") or None, file=f,
                                 name=name if isinstance(name, str) else None, fmt=fmt)
    elif media_type:
        msg.media = str(media_type)
    elif not obj.keys().isdisjoint(_MEDIA_FIELDS):  # (iterates the 7 names, not the message's keys)
        for key, label in _MEDIA_KEYS:
            if key in obj:
                msg.media = label
                break
        else:
            msg.media = "file"
    return msg


def _user_ids(uid: object) -> set[str]:
    return {str(uid), f"user{uid}"} if uid is not None else set()


def _title(h: dict, path: Path) -> str:
    if h.get("name"):
        return str(h["name"])
    if h.get("type") == "saved_messages":
        return "Saved Messages"
    if "name" in h:
        return "Deleted Account"  # tdesktop writes "name": null for deleted users
    return path.parent.name if path.stem == "result" else path.stem


def parse_file(path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
    """Yield each chat of a result.json; consume a chat's messages before asking for the next."""
    folder = path.parent
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ParseError(path, f"cannot open: {exc}") from exc
    with fh:
        if not fh.read(1):
            raise ParseError(path, "the file is empty")
        fh.seek(0)
        ctx.total_bytes = ctx.total_bytes or path.stat().st_size
        stream = _JsonStream(fh, ctx)
        if fh.read(3) != b"\xef\xbb\xbf":
            fh.seek(0)
        state = {"found": 0, "index": 0, "me": {}}
        try:
            if stream.peek() != "{":
                raise ParseError(path, "no Telegram chat with messages in this JSON (expected a 'messages' list "
                                 "or 'chats.list')")
            yield from _chat_object(stream, path, folder, ctx, state, top=True)
        except _BadJson as exc:
            if state["found"] and ctx.partial:
                if state.get("reported"):  # the chat it broke already said so
                    return
                ctx.skip(f"the JSON ends early or is invalid ({exc.reason}); chats before it were kept")
                return
            raise ParseError(path, f"invalid or truncated JSON: {exc.reason}", f"byte {exc.where}") from None
        if not state["found"]:
            raise ParseError(path, "no Telegram chat with messages in this JSON (expected a 'messages' list "
                             "or 'chats.list')")


def _chat_object(stream: _JsonStream, path: Path, folder: Path, ctx: ParseContext, state: dict,
                 top: bool = False) -> Iterator[ParsedChat]:
    """Walk one chat object (or the top level, which is a chat in single-chat exports and holds
    `chats.list` / `left_chats.list` in full exports), yielding its chat when `messages` starts."""
    header: dict[str, object] = {}
    for key in stream.members():
        c = stream.peek()
        if key in ("name", "type", "id") and c not in "[{":
            value = stream.value()
            if isinstance(value, _SCALAR) and not isinstance(value, bool):
                header[key] = value
        elif key == "messages" and c == "[":
            state["index"] += 1
            chat = Chat(platform=NAME, name=_title(header, path),
                        source_id=str(header["id"]) if header.get("id") is not None else f"{path.stem}#{state['index']}",
                        kind=header.get("type"))  # type: ignore[arg-type]
            if header.get("id") is None and header.get("name"):
                chat.source_id = f"name:{header['name']}"
            state["found"] += 1
            items = stream.items()
            yield ParsedChat(chat, _messages(items, folder, ctx, chat, state, path))
            for _ in items:  # whatever the consumer left unread
                pass
        elif top and key == "personal_information" and c == "{":
            info = stream.value()
            state["me"].update({k: v for k, v in info.items()  # type: ignore[union-attr]
                                if isinstance(v, (str, int, float)) and not isinstance(v, bool)})
        elif top and key in ("chats", "left_chats") and c == "{":
            for sub in stream.members():
                if sub == "list" and stream.peek() == "[":
                    stream.take("[")
                    if stream.peek() == "]":
                        stream.pos += 1
                        continue
                    while True:
                        if stream.peek() == "{":
                            yield from _chat_object(stream, path, folder, ctx, state)
                        else:
                            stream.skip()
                        sep = stream.peek()
                        stream.pos += 1
                        if sep == "]":
                            break
                        if sep != ",":
                            stream.pos -= 1
                            stream.fail(f"expected ',' or ']', found {sep or 'the end of the file'!r}")
                else:
                    stream.skip()
        else:
            stream.skip()


def _messages(objs: Iterator[object], folder: Path, ctx: ParseContext, chat: Chat, state: dict,
              path: Path) -> Iterator[Message]:
    me = state["me"]
    my_ids = _user_ids(me.get("user_id"))
    my_name = " ".join(str(me[k]) for k in ("first_name", "last_name") if me.get(k)).strip()
    senders: dict[str, int] = {}
    n = 0
    last_id = None
    me_unknown = chat.me is None
    try:
        for obj in objs:
            n += 1
            if type(obj) is not dict:
                ctx.skip("a message is not a JSON object", f"message {n}")
                continue
            last_id = obj.get("id", last_id)
            msg = to_message(obj, folder, ctx)
            if msg.time is not None and not obj.get("date_unixtime"):
                chat.local_times = True  # an old export: only the local `date`
            if msg.sender and not msg.is_system:
                sender = msg.sender
                try:
                    senders[sender] += 1
                except KeyError:
                    senders[sender] = 1
                if me_unknown and my_ids and str(obj.get("from_id")) in my_ids:
                    chat.me = sender
                    me_unknown = False
            yield msg
    except _BadJson as exc:
        where = f"message {n + 1}" + (f" (after id {last_id})" if last_id is not None else "")
        if not ctx.partial:
            raise ParseError(path, f"invalid or truncated JSON: {exc.reason}", where) from None
        ctx.skip(f"the JSON ends early or is invalid ({exc.reason}); {n} messages before it were kept", where)
        state["reported"] = True
    if chat.me is None and my_name and my_name in senders:
        chat.me = my_name
    chat.participants = sorted(senders, key=lambda s: -senders[s])


class TelegramImporter:
    name = NAME

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
        if path.is_dir():
            path = path / "result.json"
        yield from parse_file(path, ctx)
