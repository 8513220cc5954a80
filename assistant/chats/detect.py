"""Which importer reads a dropped path: a file, an export folder, or a .zip.

Decided by content, never by extension alone: a renamed PNG is called a PNG, a chat-miner
`target.json` is "not a chat export", and a WhatsApp text named `.csv` still imports.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from assistant.chats import whatsapp
from assistant.chats.signal import MD_HEADER

FORMATS = ("telegram", "whatsapp", "discord", "messenger", "signal", "wechat", "line")
MEDIA_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".webm", ".tgs", ".mp4", ".mp3", ".opus", ".ogg",
                  ".m4a", ".vcf", ".vcard", ".pdf", ".docx", ".mov", ".wav", ".heic", ".json_files"}
_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"%PDF", "a PDF document"), (b"\x1f\x8b", "a gzip file (a .tgs sticker?)"),
          (b"\x1aE\xdf\xa3", "a WebM video"), (b"OggS", "an Ogg audio file"), (b"\x7fELF", "a program"),
          (b"SQLite format 3", "an SQLite database (encrypted WeChat/Signal databases are not read; "
                               "export the chat with MemoTrace or signal-export)"))
_SIGNAL_OLD = re.compile(r"^\[\d{4}-\d{2}-\d{2}, \d{2}:\d{2}\] [^:]+:")
HEAD_BYTES = 65536


@dataclass
class Detected:
    fmt: str | None  # one of FORMATS, or None with `why`
    path: Path
    why: str = ""


def _text_head(raw: bytes) -> str | None:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", "ignore")
    if b"\x00" in raw[:4096]:
        return None
    return raw.decode("utf-8", "ignore").lstrip("\ufeff")


def sniff_file(path: Path) -> Detected:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except OSError as exc:
        return Detected(None, path, f"cannot read: {exc.strerror or exc}")
    if not raw.strip():
        return Detected(None, path, "the file is empty")
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"PK\x05\x06"):
        return Detected("zip", path)
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return Detected(None, path, "a WebP image, not a chat export")
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            return Detected(None, path, f"{what}, not a chat export")
    text = _text_head(raw)
    if text is None:
        return Detected(None, path, "a binary file, not a chat export")
    s = text.lstrip()
    if s[:1] == "{" or (s[:1] == "[" and s[1:].lstrip()[:1] in ("{", "]", "")):
        return _sniff_json(path, s)
    first = s.split("\n", 1)[0]
    if first.startswith("[LINE]"):
        return Detected("line", path)
    if "StrContent" in first and "IsSender" in first:
        return Detected("wechat", path)
    if path.name == "chat.md" or _SIGNAL_OLD.match(first) or (
            path.suffix == ".md" and MD_HEADER.match(first)):
        return Detected("signal", path)
    if whatsapp.sniff(text):
        return Detected("whatsapp", path)
    return Detected(None, path, "not a recognised chat export (no known message format in its first lines)")


def _sniff_json(path: Path, s: str) -> Detected:
    first_line = s.split("\n", 1)[0]
    if first_line.startswith("{") and first_line.rstrip().endswith("}"):
        try:
            obj = json.loads(first_line)
            if isinstance(obj, dict) and "sender" in obj and ("body" in obj or "sticker" in obj):
                return Detected("signal", path)
        except ValueError:
            pass
    if '"guild"' in s and '"channel"' in s and '"messages"' in s:
        return Detected("discord", path)
    if '"sender_name"' in s or ('"participants"' in s and '"timestamp_ms"' in s):
        return Detected("messenger", path)
    if '"messages"' in s and ('"chats"' in s or '"date' in s or '"from"' in s or '"type"' in s):
        return Detected("telegram", path)
    if '"personal_information"' in s or '"chats"' in s:
        return Detected("telegram", path)
    return Detected(None, path, "a JSON file that is not a chat export this app knows "
                    "(Telegram result.json, DiscordChatExporter, Messenger/Instagram, signal-export)")


def detect(path: Path, fmt: str | None = None) -> list[Detected]:
    """Every importable unit under `path` (a folder may hold several exports), plus skipped files."""
    path = Path(path)
    if not path.exists():
        return [Detected(None, path, "no such file or folder")]
    if path.is_file():
        if fmt:
            return [Detected(fmt, path)]
        return [sniff_file(path)]
    if fmt:
        return [Detected(fmt, path)]
    # An export folder with a known top-level file is one unit (media beside it belong to it).
    if (path / "result.json").is_file():
        return [sniff_file(path / "result.json")]
    if (path / "_chat.txt").is_file():
        return [Detected("whatsapp", path)]
    if (path / "data.json").is_file() and sniff_file(path / "data.json").fmt == "signal":
        return [Detected("signal", path)]
    out: list[Detected] = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        rootp = Path(root)
        if (rootp / "result.json").is_file() and rootp != path:
            out.append(sniff_file(rootp / "result.json"))
            dirs[:] = [d for d in dirs if d not in ("chats", "left_chats")]
            files = [f for f in files if f != "result.json"]
        for name in sorted(files):
            p = rootp / name
            if p.suffix.lower() in MEDIA_SUFFIXES or p.suffix.lower() in {".md"} and name != "chat.md":
                continue
            if name.startswith(".") or "_Files" in root or "exported_stickers" in root:
                continue
            if (rootp / "data.json").is_file() and name == "chat.md":
                continue  # signal-export: data.json is the better source of the same chat
            out.append(sniff_file(p))
    return out
