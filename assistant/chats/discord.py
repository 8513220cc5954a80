"""DiscordChatExporter (DCE) JSON: one file per channel, stickers with a stable id, name and format.

Stickers are identified by their Discord id (a platform key). When the user exported with
`--media`, `sourceUrl` is a path relative to the JSON file (`<export>.json_Files/…`) and the file
goes to the library too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from assistant.chats.base import ParseContext, ParsedChat, ParseError
from assistant.domain import Chat, Message, StickerRef

NAME = "discord"
_USER_TYPES = {"Default", "Reply", "ThreadStarterMessage", None}


def _utc(ts: object) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        t = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def _local_file(folder: Path, url: object) -> Path | None:
    if not isinstance(url, str) or "://" in url or not url:
        return None
    p = (folder / url.replace("\\", "/")).resolve()
    return p if p.is_relative_to(folder.resolve()) and p.is_file() else None


def load_json(path: Path) -> object:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ParseError(path, f"cannot read: {exc}") from exc
    if not raw.strip():
        raise ParseError(path, "the file is empty")
    try:
        return json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ParseError(path, f"not valid UTF-8 (byte {exc.start})", f"byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(path, f"invalid or truncated JSON: {exc.msg}",
                         f"line {exc.lineno}, column {exc.colno}") from exc
    except RecursionError:
        raise ParseError(path, "the JSON is nested too deeply to be a chat export") from None


def _obj(value: object) -> dict:
    """`value` when it is a JSON object, else an empty one (a damaged export may hold anything)."""
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def to_message(m: dict, folder: Path) -> Message:
    author = _obj(m.get("author"))
    sender = author.get("nickname") or author.get("name") or ""
    msg = Message(sender=str(sender), time=_utc(m.get("timestamp")), text=str(m.get("content") or ""),
                  source_id=str(m["id"]) if m.get("id") is not None else None,
                  is_system=not isinstance(m.get("type"), (str, type(None))) or m.get("type") not in _USER_TYPES)
    ref = _obj(m.get("reference"))
    if ref.get("messageId"):
        msg.reply_to = str(ref["messageId"])
    stickers = m.get("stickers") or []
    if isinstance(stickers, list) and stickers and isinstance(stickers[0], dict):
        st = stickers[0]
        msg.sticker = StickerRef(platform=NAME, key=str(st.get("id")) if st.get("id") else None,
                                 name=_text(st.get("name")), fmt=_text(st.get("format")),
                                 file=_local_file(folder, st.get("sourceUrl")))
    elif m.get("attachments"):
        msg.media = "file"
    return msg


def parse_file(path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list) or "channel" not in data:
        raise ParseError(path, "not a DiscordChatExporter JSON export (no 'channel' and 'messages')")
    guild = _obj(data.get("guild"))
    channel = _obj(data.get("channel"))
    gname = guild.get("name") or ""
    cname = channel.get("name") or path.stem
    name = cname if gname in ("", "Direct Messages") else f"{gname} / {cname}"
    chat = Chat(platform=NAME, name=name, source_id=str(channel.get("id") or path.stem),
                kind=_text(channel.get("type")))
    folder = path.parent

    def messages() -> Iterator[Message]:
        senders: dict[str, int] = {}
        for i, m in enumerate(data["messages"], 1):
            if not isinstance(m, dict):
                ctx.skip("a message is not a JSON object", f"message {i}")
                continue
            msg = to_message(m, folder)
            if not msg.is_system:
                senders[msg.sender] = senders.get(msg.sender, 0) + 1
            yield msg
        chat.participants = sorted(senders, key=lambda s: -senders[s])

    yield ParsedChat(chat, messages())


class DiscordImporter:
    name = NAME

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
        yield from parse_file(path, ctx)
