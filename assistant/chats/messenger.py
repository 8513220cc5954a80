"""Meta "Download your information" JSON: Facebook Messenger and Instagram DMs.

Two quirks make a naive reader wrong: every string is UTF-8 bytes written as Latin-1 code points
(mojibake), and messages are newest first. The sticker identity is the file name in
`sticker.uri`, since Meta de-duplicates stickers into `stickers_used/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from assistant.chats.base import ParseContext, ParsedChat, ParseError
from assistant.chats.discord import load_json
from assistant.domain import Chat, Message, StickerRef

NAME = "messenger"
_MEDIA = (("photos", "photo"), ("videos", "video"), ("audio_files", "audio"), ("gifs", "animation"),
          ("files", "file"), ("share", "link"))


def fix_mojibake(s: str) -> str:
    """`"\\u00f0\\u009f\\u0098\\u0086"` → 😆; strings that are not Latin-1-wrapped UTF-8 stay as they are."""
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def fix_all(obj: object) -> object:
    if isinstance(obj, str):
        return fix_mojibake(obj)
    if isinstance(obj, list):
        return [fix_all(v) for v in obj]
    if isinstance(obj, dict):
        return {k: fix_all(v) for k, v in obj.items()}
    return obj


def _find_root_file(start: Path, uri: str) -> Path | None:
    """`uri` is relative to the download's root, some folders above the thread's JSON."""
    rel = PurePosixPath(uri)
    if rel.is_absolute() or ".." in rel.parts:
        return None
    for parent in [start, *start.parents][:6]:
        p = parent / rel
        if p.is_file():
            return p
    return None


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def parse_file(path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise ParseError(path, "not a Messenger/Instagram JSON export (no 'messages' list)")
    data = fix_all(data)
    platform = "instagram" if "instagram" in str(path).lower() else NAME
    title = data.get("title") or path.parent.name
    chat = Chat(platform=platform, name=str(title),
                source_id=str(data.get("thread_path") or data.get("title") or path.stem),
                participants=[str(p.get("name", "")) for p in _list(data.get("participants")) if isinstance(p, dict)])

    def messages() -> Iterator[Message]:
        rows = data["messages"]
        for i in range(len(rows) - 1, -1, -1):  # newest first in the file
            m = rows[i]
            if not isinstance(m, dict):
                ctx.skip("a message is not a JSON object", f"message {i + 1}")
                continue
            ts = m.get("timestamp_ms")
            try:
                when = (datetime.fromtimestamp(ts / 1000, tz=timezone.utc).replace(tzinfo=None)
                        if isinstance(ts, (int, float)) else None)
            except (OverflowError, OSError, ValueError):  # a timestamp outside any calendar
                when = None
            msg = Message(sender=str(m.get("sender_name") or ""), time=when, text=str(m.get("content") or ""),
                          is_system=bool(m.get("is_unsent")))
            st = m.get("sticker")
            if isinstance(st, dict) and st.get("uri"):
                uri = str(st["uri"])
                msg.sticker = StickerRef(platform=platform, key=PurePosixPath(uri).name,
                                         file=_find_root_file(path.parent, uri), name=PurePosixPath(uri).name,
                                         fmt=PurePosixPath(uri).suffix.lstrip(".") or None)
            else:
                for key, label in _MEDIA:
                    if m.get(key):
                        msg.media = label
                        break
            yield msg

    yield ParsedChat(chat, messages())


class MessengerImporter:
    name = NAME

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
        if path.is_dir():
            files = sorted(path.glob("message_*.json"))
            if not files:
                raise ParseError(path, "no message_N.json in this folder")
            for f in files:
                yield from parse_file(f, ctx)
        else:
            yield from parse_file(path, ctx)
