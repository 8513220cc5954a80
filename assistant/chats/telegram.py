"""Telegram Desktop machine-readable JSON: "Export chat history" and "Export Telegram data".

The file is read as a stream of JSON events (ijson, C backend): chat headers are picked up as
they pass, and each message object is built alone and handed on, so memory stays bounded by one
message no matter how large `result.json` is. Both schemas are handled: old exports (bare numeric
`from_id`, `date` only, `text` as a list) and new ones (`user…` ids, `date_unixtime`,
`text_entities`). Stickers: `media_type == "sticker"`, emoji in `sticker_emoji`, file paths
relative to the export folder, or a "(File not included…)" placeholder (emoji-only reference).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import ijson

from assistant.chats.base import ParseContext, ParsedChat, ParseError
from assistant.domain import Chat, Message, StickerRef

NAME = "telegram"
MAX_NESTING = 256  # far deeper than any export; ijson's cost grows with depth squared (prefix strings)
_DEEP = re.compile(rb'(?:[\[{]\s*(?:"[^"\\]{0,64}"\s*:\s*)?){%d}' % MAX_NESTING)


class _NestingGuard:
    """A file wrapper that refuses runs of MAX_NESTING opening brackets as ijson reads its chunks.

    100k nested arrays would take ijson minutes (each event carries the full dotted prefix); a
    C-speed regex over each chunk finds such a run first. A text of 256 bare brackets in a row
    would trip it too; no real export holds one.
    """

    def __init__(self, fh, path: Path) -> None:
        self._fh = fh
        self._path = path
        self._balance = 0  # openings minus closings so far (strings included: only a hint)

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        opens = data.count(b"[") + data.count(b"{")
        self._balance += opens - data.count(b"]") - data.count(b"}")
        # The regex runs only on suspicious chunks (dense with brackets, or deep so far): it would
        # halve the read speed of ordinary exports if it ran on every chunk.
        if (opens * 6 > len(data) or self._balance > MAX_NESTING) and _DEEP.search(data):
            raise ParseError(self._path, f"the JSON is nested more than {MAX_NESTING} levels deep; "
                             "not a Telegram export", f"byte {self._fh.tell() - len(data)}")
        return data

    def tell(self) -> int:
        return self._fh.tell()
_CHAT_PREFIXES = ("", "chats.list.item", "left_chats.list.item")
_MEDIA_KEYS = (("photo", "photo"), ("contact_information", "contact"), ("location_information", "location"),
               ("poll", "poll"), ("game_title", "game"), ("invoice_information", "invoice"))


def entities_text(value: object) -> str:
    """Telegram's polymorphic text: a string, or a list mixing strings and {type, text} objects."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
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
    if unix not in (None, ""):
        try:
            return datetime.fromtimestamp(int(unix), tz=timezone.utc).replace(tzinfo=None)
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
    kind = obj.get("type")
    mid = obj.get("id")
    when = _time(obj)
    if kind == "service":
        actor = obj.get("actor") or ""
        action = obj.get("action") or ""
        title = obj.get("title")
        text = action + (f": {title}" if isinstance(title, str) and title else "")
        return Message(sender=str(actor), time=when, text=text, source_id=None if mid is None else str(mid),
                       is_system=True)
    sender = obj.get("from")
    if sender is None:
        sender = "Deleted Account" if "from_id" in obj else ""
    msg = Message(sender=str(sender), time=when, text=message_text(obj),
                  source_id=None if mid is None else str(mid),
                  reply_to=None if obj.get("reply_to_message_id") is None else str(obj["reply_to_message_id"]),
                  is_system=kind not in (None, "message"))
    media_type = obj.get("media_type")
    if media_type == "sticker":
        f = _file_in(folder, obj.get("file")) or _file_in(folder, obj.get("thumbnail"))
        if f is None and not _is_placeholder(obj.get("file")):
            ctx.note("Some Telegram sticker files listed in the export are missing from its folder; "
                     "those stickers are kept as emoji-only references.")
        name = obj.get("file_name") or (obj.get("file") if not _is_placeholder(obj.get("file")) else None)
        fmt = None
        if isinstance(name, str) and "." in name:
            fmt = name.rsplit(".", 1)[-1].lower()
        msg.sticker = StickerRef(platform=NAME, emoji=obj.get("sticker_emoji") or None, file=f,
                                 name=name if isinstance(name, str) else None, fmt=fmt)
    elif media_type:
        msg.media = str(media_type)
    else:
        for key, label in _MEDIA_KEYS:
            if key in obj:
                msg.media = label
                break
        else:
            if "file" in obj:
                msg.media = "file"
    return msg


def _user_ids(uid: object) -> set[str]:
    return {str(uid), f"user{uid}"} if uid is not None else set()


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
        events = ijson.parse(_NestingGuard(fh, path), use_float=True)
        me: dict[str, object] = {}
        headers: dict[str, dict] = {}
        found = 0
        index = 0
        try:
            for prefix, event, value in events:
                if prefix.startswith("personal_information.") and event in ("string", "number"):
                    me[prefix.split(".", 1)[1]] = value
                    continue
                if event == "start_map" and prefix in _CHAT_PREFIXES:
                    headers[prefix] = {}
                    continue
                parent, _, key = prefix.rpartition(".")
                if parent in headers and key in ("name", "type", "id") and event in ("string", "number",
                                                                                      "null"):
                    headers[parent][key] = value
                    continue
                if event == "start_array" and key == "messages" and parent in headers:
                    index += 1
                    h = headers[parent]
                    if h.get("name"):
                        title = str(h["name"])
                    elif h.get("type") == "saved_messages":
                        title = "Saved Messages"
                    elif "name" in h:
                        title = "Deleted Account"  # tdesktop writes "name": null for deleted users
                    else:
                        title = path.parent.name if path.stem == "result" else path.stem
                    chat = Chat(platform=NAME, name=title,
                                source_id=str(h["id"]) if h.get("id") is not None else f"{path.stem}#{index}",
                                kind=h.get("type"))
                    if h.get("id") is None and h.get("name"):
                        chat.source_id = f"name:{h['name']}"
                    found += 1
                    if prefix == "messages":  # a single-chat export: the C builder reads it
                        yield ParsedChat(chat, _messages(_items(path, prefix, ctx), folder, ctx, chat, me, path, None))
                        return
                    yield ParsedChat(chat, _messages(_built(events, prefix), folder, ctx, chat, me, path, fh))
        except (ijson.common.IncompleteJSONError, UnicodeDecodeError) as exc:
            if found and ctx.partial:
                ctx.skip(f"the JSON ends early or is invalid ({exc}); chats before it were kept")
                return
            raise ParseError(path, f"invalid or truncated JSON: {exc}") from exc
        if not found:
            raise ParseError(path, "no Telegram chat with messages in this JSON (expected a 'messages' list "
                             "or 'chats.list')")


def _built(events, prefix: str) -> Iterator[object]:
    """Message objects of one `messages` array, built from the shared event stream (export-all files)."""
    item = prefix + ".item"
    for p, event, value in events:
        if event == "end_array" and p == prefix:
            return
        if event != "start_map" or p != item:
            continue
        builder = ijson.ObjectBuilder()
        builder.event(event, value)
        depth = 1
        for _p, ev, val in events:
            builder.event(ev, val)
            if ev in ("start_map", "start_array"):
                depth += 1
            elif ev in ("end_map", "end_array"):
                depth -= 1
                if depth == 0:
                    break
        yield builder.value


def _items(path: Path, prefix: str, ctx: ParseContext) -> Iterator[object]:
    """Message objects built by ijson's C backend from a second read of the file: several times
    faster than building from events, used when one chat fills the file (single-chat exports)."""
    with open(path, "rb") as fh2:
        for i, obj in enumerate(ijson.items(_NestingGuard(fh2, path), prefix + ".item", use_float=True)):
            if i % 1000 == 999:
                ctx.done_bytes = fh2.tell()
            yield obj


def _messages(objs: Iterator[object], folder: Path, ctx: ParseContext, chat: Chat, me: dict,
              path: Path, fh) -> Iterator[Message]:
    my_ids = _user_ids(me.get("user_id"))
    my_name = " ".join(str(me[k]) for k in ("first_name", "last_name") if me.get(k)).strip()
    senders: dict[str, int] = {}
    n = 0
    last_id = None
    try:
        for obj in objs:
            n += 1
            if fh is not None and n % 1000 == 0:
                ctx.done_bytes = fh.tell()
            if not isinstance(obj, dict):
                ctx.skip("a message is not a JSON object", f"message {n}")
                continue
            last_id = obj.get("id", last_id)
            msg = to_message(obj, folder, ctx)
            if not msg.is_system and msg.sender:
                senders[msg.sender] = senders.get(msg.sender, 0) + 1
                if chat.me is None and my_ids and str(obj.get("from_id")) in my_ids:
                    chat.me = msg.sender
            yield msg
    except (ijson.common.IncompleteJSONError, UnicodeDecodeError) as exc:
        where = f"message {n + 1}" + (f" (after id {last_id})" if last_id is not None else "")
        if not ctx.partial:
            raise ParseError(path, f"invalid or truncated JSON: {exc}", where) from exc
        ctx.skip(f"the JSON ends early or is invalid ({exc}); {n} messages before it were kept", where)
    if chat.me is None and my_name and my_name in senders:
        chat.me = my_name
    chat.participants = sorted(senders, key=lambda s: -senders[s])


class TelegramImporter:
    name = NAME

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
        if path.is_dir():
            path = path / "result.json"
        yield from parse_file(path, ctx)
