"""Signal via `signal-export` (carderne/signal-export): `data.json` (JSON Lines) or `chat.md`.

`data.json` is preferred: a sticker there carries `packId` + `id`, a stable identity, and the file
lives in `<out>/exported_stickers/<packId>/<id>.<ext>` with the pack's `data.json` (title, emoji).
`chat.md` (and older `[2019-05-29, 15:04] Name: text` text) is read when that is all there is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from assistant.chats.base import ParseContext, ParsedChat, ParseError
from assistant.chats.textfile import iter_lines
from assistant.domain import Chat, Message, StickerRef

NAME = "signal"
MD_HEADER = re.compile(r"\[(\d{4}-\d{2}-\d{2})(?:, | )(\d{2}:\d{2}(?::\d{2})?)\] ([^:]+?): ?(.*)", re.S)
_MD_STICKER = re.compile(r"^\[([^\]]*)\]\((?:\.\./)?exported_stickers/([^/]+)/([^/.]+)\.(\w+)\)$")
_MD_NOFILE = re.compile(r"^\(\( (.+?) \)\)$")
_REACTION = re.compile(r"^\(- .+: .+ -\)$")


def _time(s: object) -> datetime | None:
    if not isinstance(s, str):
        return None
    try:
        t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def _sticker_root(chat_dir: Path) -> Path | None:
    for d in (chat_dir, *chat_dir.parents[:2]):
        if (d / "exported_stickers").is_dir():
            return d / "exported_stickers"
    return None


def _pack_info(root: Path | None, pack: str, sid: str, cache: dict) -> tuple[str | None, str | None]:
    if root is None:
        return None, None
    if pack not in cache:
        info: dict = {}
        try:
            info = json.loads((root / pack / "data.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        cache[pack] = info if isinstance(info, dict) else {}
    info = cache[pack]
    title = info.get("title") if isinstance(info.get("title"), str) else None
    emoji = None
    stickers = info.get("stickers")
    if isinstance(stickers, dict) and isinstance(stickers.get(sid), dict):
        emoji = stickers[sid].get("emoji")
    elif isinstance(stickers, list):
        for s in stickers:
            if isinstance(s, dict) and str(s.get("id")) == sid:
                emoji = s.get("emoji")
    return title, emoji


def parse_jsonl(path: Path, ctx: ParseContext) -> ParsedChat:
    chat_dir = path.parent
    chat = Chat(platform=NAME, name=chat_dir.name, source_id=chat_dir.name)
    root = _sticker_root(chat_dir)

    def messages() -> Iterator[Message]:
        cache: dict = {}
        senders: dict[str, int] = {}
        n = 0
        for n, line in enumerate(iter_lines(path, ctx), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                ctx.skip(f"invalid JSON line ({exc.msg})", f"line {n}")
                continue
            if not isinstance(obj, dict):
                ctx.skip("a line is not a JSON object", f"line {n}")
                continue
            msg = Message(sender=str(obj.get("sender") or ""), time=_time(obj.get("date")),
                          text=str(obj.get("body") or ""), is_system=bool(obj.get("deleted")))
            st = obj.get("sticker")
            if isinstance(st, dict) and st.get("packId") is not None and st.get("id") is not None:
                pack, sid = str(st["packId"]), str(st["id"])
                ext = str(st.get("extension") or "webp")
                f = root / pack / f"{sid}.{ext}" if root else None
                title, emoji = _pack_info(root, pack, sid, cache)
                msg.sticker = StickerRef(platform=NAME, key=f"{pack}:{sid}", emoji=st.get("emoji") or emoji,
                                         file=f if f is not None and f.is_file() else None, pack=title or pack,
                                         fmt=ext)
            elif obj.get("attachments"):
                msg.media = "file"
            senders[msg.sender] = senders.get(msg.sender, 0) + 1
            yield msg
        if n == 0:
            raise ParseError(path, "the file is empty")
        chat.participants = sorted(senders, key=lambda s: -senders[s])

    return ParsedChat(chat, messages())


def parse_md(path: Path, ctx: ParseContext) -> ParsedChat:
    name = path.parent.name if path.name == "chat.md" else path.stem
    chat = Chat(platform=NAME, name=name, source_id=name, local_times=True)
    root = _sticker_root(path.parent)

    def finish(msg: Message, extra: list[str]) -> Message:
        lines = [ln for ln in extra if not _REACTION.match(ln.strip())]
        if lines:
            msg.text = (msg.text + "\n" + "\n".join(lines)).strip("\n")
        body = msg.text.strip()
        sm = _MD_STICKER.match(body)
        if sm:
            emoji, pack, sid, ext = sm.groups()
            f = root / pack / f"{sid}.{ext}" if root else None
            msg.sticker = StickerRef(platform=NAME, key=f"{pack}:{sid}", emoji=emoji or None,
                                     file=f if f is not None and f.is_file() else None, fmt=ext)
            msg.text = ""
        else:
            nf = _MD_NOFILE.match(body)
            if nf:
                label = nf.group(1)
                msg.sticker = StickerRef(platform=NAME, emoji=None if label == "sticker" else label)
                msg.text = ""
        return msg

    def messages() -> Iterator[Message]:
        cur: Message | None = None
        extra: list[str] = []
        senders: dict[str, int] = {}
        n = 0
        for n, line in enumerate(iter_lines(path, ctx), 1):
            m = MD_HEADER.match(line)
            if m is None:
                if cur is not None:
                    extra.append(line)
                elif line.strip():
                    ctx.skip("text before the first message", f"line {n}")
                continue
            if cur is not None:
                yield finish(cur, extra)
            date, tm, sender, body = m.groups()
            try:
                when = datetime.fromisoformat(f"{date}T{tm}")
            except ValueError:
                when = None
                ctx.skip(f"unreadable date {date} {tm}", f"line {n}")
            cur, extra = Message(sender=sender.strip(), time=when, text=body), []
            senders[cur.sender] = senders.get(cur.sender, 0) + 1
        if cur is not None:
            yield finish(cur, extra)
        if n == 0:
            raise ParseError(path, "the file is empty")
        chat.participants = sorted(senders, key=lambda s: -senders[s])

    return ParsedChat(chat, messages())


class SignalImporter:
    name = NAME

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
        if path.is_dir():
            if (path / "data.json").is_file():
                yield parse_jsonl(path / "data.json", ctx)
            elif (path / "chat.md").is_file():
                yield parse_md(path / "chat.md", ctx)
            else:
                raise ParseError(path, "no signal-export data.json or chat.md in this folder")
        elif path.suffix == ".json":
            yield parse_jsonl(path, ctx)
        else:
            yield parse_md(path, ctx)
