"""LINE "Export chat history" text: a date line, then `HH:MM<TAB>Name<TAB>text` lines.

Stickers are only a localized placeholder (`[Sticker]`, `[スタンプ]`, `[貼圖]`…) with no identity,
so they become "a sticker was sent" references.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from assistant.chats.base import ParseContext, ParsedChat, ParseError
from assistant.chats.textfile import iter_lines
from assistant.domain import Chat, Message, StickerRef

NAME = "line"
TITLE = re.compile(r"^\ufeff?\[LINE\]\s*(.*)$")
_TITLE_FORMS = (re.compile(r"^Chat history (?:with|in) (.+)$"), re.compile(r"^(.+?)とのトーク履歴$"),
                re.compile(r"^與(.+?)的聊天記錄$"), re.compile(r"^(.+?)との.*$"))
_DATE_YMD = re.compile(r"^(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})\s*(?:\(.*\))?\s*$")
_DATE_US = re.compile(r"^\w{3}, (\d{1,2})/(\d{1,2})/(\d{4})\s*$")
_MSG = re.compile(r"^(?:(午前|午後|AM|PM)\s?)?(\d{1,2}):(\d{2})(?:\s?(AM|PM))?\t([^\t]*)\t(.*)$")
STICKER = {"[Sticker]", "[スタンプ]", "[貼圖]", "[贴图]", "[스티커]", "[Stiker]", "[สติกเกอร์]"}
_MEDIA = {"[Photo]": "photo", "[写真]": "photo", "[Video]": "video", "[動画]": "video", "[File]": "file",
          "[ファイル]": "file", "[Voice message]": "voice", "[ボイスメッセージ]": "voice"}


def _chat_name(title: str, path: Path) -> str:
    for rx in _TITLE_FORMS:
        m = rx.match(title.strip())
        if m:
            return m.group(1).strip()
    return title.strip() or path.stem


def parse_file(path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
    lines = iter_lines(path, ctx)
    first = next(lines, None)
    if first is None:
        raise ParseError(path, "the file is empty")
    t = TITLE.match(first)
    if not t:
        raise ParseError(path, "not a LINE export (the first line should start with '[LINE]')", "line 1")
    name = _chat_name(t.group(1), path)
    chat = Chat(platform=NAME, name=name, source_id=name, local_times=True)

    def messages() -> Iterator[Message]:
        day: datetime | None = None
        cur: Message | None = None
        senders: dict[str, int] = {}
        for n, line in enumerate(lines, 2):
            m = _MSG.match(line)
            if m and day is not None:
                if cur is not None:
                    yield cur
                pre, h, mi, post, sender, body = m.groups()
                hour = int(h) % 12 + 12 if (pre in ("午後", "PM") or post == "PM") else int(h)
                if (pre in ("午前", "AM") or post == "AM") and int(h) == 12:
                    hour = 0
                when = day.replace(hour=min(hour, 23), minute=int(mi))
                body = body.strip()
                if body.startswith('"') and body.endswith('"') and len(body) > 1:
                    body = body[1:-1]
                cur = Message(sender=sender, time=when, text=body, is_system=not sender)
                if body in STICKER:
                    cur.sticker, cur.text = StickerRef(platform=NAME), ""
                elif body in _MEDIA:
                    cur.media, cur.text = _MEDIA[body], ""
                if sender:
                    senders[sender] = senders.get(sender, 0) + 1
                continue
            d = _DATE_YMD.match(line)
            u = None if d else _DATE_US.match(line)
            if d or u:
                y, mo, dd = map(int, d.groups()) if d else (int(u.group(3)), int(u.group(1)), int(u.group(2)))
                try:
                    day = datetime(y, mo, dd)
                except ValueError:
                    ctx.skip("unreadable date line", f"line {n}")
                continue
            if cur is not None and line.strip():
                cur.text = (cur.text + "\n" + line).strip('"')
            elif line.strip() and day is None and not line.startswith(("Saved on", "保存日時", "儲存日期")):
                ctx.skip("text before the first date line", f"line {n}")
        if cur is not None:
            yield cur
        chat.participants = sorted(senders, key=lambda s: -senders[s])

    yield ParsedChat(chat, messages())


class LineImporter:
    name = NAME

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
        yield from parse_file(path, ctx)
