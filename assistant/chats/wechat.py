"""WeChat chat CSV from MemoTrace / WeChatMsg (留痕): `Type=47` rows are stickers.

Columns are matched by header name (they vary between versions); a sticker row's `StrContent` is
`<msg><emoji md5=… productid=…/></msg>`, and `md5` is the sticker's identity (the files in a
neighbouring `emoji/` folder, when exported, are named by it). `IsSender=1` marks the user.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from assistant.chats.base import ParseContext, ParsedChat, ParseError
from assistant.domain import Chat, Message, StickerRef

NAME = "wechat"
ME = "Me"
REQUIRED = {"Type", "IsSender", "StrContent"}
_MEDIA = {"3": "photo", "34": "voice", "43": "video", "49": "app"}
_MD5 = re.compile(r'\bmd5="([0-9a-fA-F]{32})"')
_PRODUCT = re.compile(r'\bproductid="([^"]*)"')


def emoji_attrs(xml: str) -> dict[str, str]:
    """md5/productid/width… of the <emoji> element; falls back to a regex for broken XML."""
    try:
        root = ET.fromstring(xml)
        el = root if root.tag == "emoji" else root.find(".//emoji")
        if el is not None:
            return dict(el.attrib)
    except ET.ParseError:
        pass
    out = {}
    if m := _MD5.search(xml):
        out["md5"] = m.group(1)
    if m := _PRODUCT.search(xml):
        out["productid"] = m.group(1)
    return out


def _emoji_file(folder: Path, md5: str) -> Path | None:
    for d in (folder / "emoji", folder):
        if d.is_dir():
            for f in d.glob(f"{md5}*"):
                if f.is_file():
                    return f
    return None


def parse_file(path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ParseError(path, f"cannot read: {exc}") from exc
    if not raw.strip():
        raise ParseError(path, "the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if not ctx.partial:
            raise ParseError(path, f"not valid UTF-8 (byte {exc.start}); MemoTrace writes UTF-8 CSV",
                             f"byte {exc.start}") from exc
        ctx.skip(f"not valid UTF-8 (byte {exc.start}); bad characters replaced", f"byte {exc.start}")
        text = raw.decode("utf-8-sig", "replace")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    cols = set(reader.fieldnames or [])
    if not REQUIRED <= cols:
        raise ParseError(path, f"not a WeChat (MemoTrace) CSV: missing columns {sorted(REQUIRED - cols)}", "line 1")
    talker = re.sub(r"_utf8$", "", path.stem)
    chat = Chat(platform=NAME, name=talker, source_id=talker, me=ME)

    def messages() -> Iterator[Message]:
        senders: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            try:
                ts = row.get("CreateTime")
                if ts:
                    when = datetime.fromtimestamp(int(ts), tz=timezone.utc).replace(tzinfo=None)
                else:
                    when = datetime.fromisoformat(row["StrTime"])
                    chat.local_times = True
            except (ValueError, TypeError, KeyError, OverflowError):
                ctx.skip("unreadable CreateTime/StrTime", f"line {line}")
                when = None
            mine = (row.get("IsSender") or "").strip() == "1"
            if mine:
                sender = ME
            else:
                sender = (row.get("Sender") or row.get("NickName") or row.get("Remark") or talker).strip()
            kind = (row.get("Type") or "").strip()
            content = row.get("StrContent") or ""
            msg = Message(sender=sender, time=when, text=content if kind == "1" else "",
                          source_id=(row.get("localId") or None), is_system=kind == "10000")
            if kind == "10000":
                msg.text = content
            if kind == "47" or "<emoji " in content:
                attrs = emoji_attrs(content)
                md5 = attrs.get("md5") or None
                msg.sticker = StickerRef(platform=NAME, key=md5.lower() if md5 else None,
                                         pack=attrs.get("productid") or None,
                                         file=_emoji_file(path.parent, md5) if md5 else None)
                msg.text = ""
            elif kind in _MEDIA:
                msg.media = _MEDIA[kind]
            senders[sender] = senders.get(sender, 0) + 1
            yield msg
        chat.participants = sorted(senders, key=lambda s: -senders[s])

    yield ParsedChat(chat, messages())


class WeChatImporter:
    name = NAME

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
        if path.is_dir():
            files = sorted(path.glob("*.csv"))
            if not files:
                raise ParseError(path, "no WeChat CSV in this folder")
            path = files[0]
        yield from parse_file(path, ctx)
