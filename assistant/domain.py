"""Plain data shared by importers, the catalog, the models and the views.

No I/O here: every layer can build and read these without pulling in storage or ML code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7f, 0xa0))}
_CONTROL.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
_CONTROL.update({c: f"\\u{c:04x}" for c in (*range(0x202a, 0x202f), *range(0x2066, 0x206a))})


def printable(text: str) -> str:
    """`text` with control characters (and bidi overrides) escaped, for reports printed to a terminal:
    a file named "a\\x1b[2J.png" must not clear the user's screen or fake report lines."""
    return text.translate(_CONTROL)


class StickerIdKind(str, Enum):
    """How a sticker reference identifies its sticker, strongest first."""

    PLATFORM = "platform"  # Discord id, Signal pack:id, WeChat md5, Messenger uri
    SHA256 = "sha256"  # bytes of a file found in the export
    EMOJI = "emoji"  # only the emoji survived (file not exported)
    NONE = "none"  # "a sticker was sent", nothing else (LINE, WhatsApp "sticker omitted")


@dataclass(slots=True)
class StickerRef:
    """A sticker as an export mentions it; resolved to a library sticker at import time."""

    platform: str  # "telegram", "whatsapp", ...
    key: str | None = None  # platform identity: discord id, "pack:id", md5, uri file name
    emoji: str | None = None
    file: Path | None = None  # absolute path of the sticker file inside the export, when present
    name: str | None = None  # a sticker name or pack title where the platform gives one
    pack: str | None = None
    fmt: str | None = None  # format hint from the export ("webp", "tgs", "webm", "Apng"...)

    @property
    def id_kind(self) -> StickerIdKind:
        if self.key:
            return StickerIdKind.PLATFORM
        if self.file is not None:
            return StickerIdKind.SHA256
        if self.emoji:
            return StickerIdKind.EMOJI
        return StickerIdKind.NONE


@dataclass(slots=True)
class Message:
    """One message of a chat, already normalised by its importer."""

    sender: str
    time: datetime | None
    text: str = ""
    sticker: StickerRef | None = None
    source_id: str | None = None  # the exporter's own message id, for de-duplication
    is_system: bool = False
    media: str | None = None  # "photo", "video", "voice", "media-unknown", ... when not text/sticker
    reply_to: str | None = None

    @property
    def is_sticker(self) -> bool:
        return self.sticker is not None


@dataclass(slots=True)
class Chat:
    """One conversation from one export."""

    platform: str
    name: str
    source_id: str  # stable id of the chat inside its platform (or the export file name)
    messages: list[Message] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)
    me: str | None = None  # the exporting user's own name, when the export tells
    kind: str | None = None  # personal_chat, group, channel...
    # Its times were written with no zone (WhatsApp, LINE, Signal's text export): the exporting
    # phone's wall clock, stored as written and shown as written (chats.store.shown_time).
    local_times: bool = False


@dataclass(slots=True)
class ImportProblem:
    """Something an importer skipped or could not read, said so a user understands."""

    file: str
    message: str
    location: str | None = None  # "line 12", "message 4411", "byte 1024"
    fatal: bool = False

    def __str__(self) -> str:
        where = f" ({printable(self.location)})" if self.location else ""
        return f"{printable(self.file)}{where}: {printable(self.message)}"


@dataclass(slots=True)
class ImportReport:
    """What an import did, for the CLI's report and the GUI's summary."""

    source: str
    format: str = "unknown"
    chats: int = 0
    messages: int = 0
    messages_added: int = 0
    sessions: int = 0
    sticker_messages: int = 0
    stickers_with_files: int = 0
    stickers_added: int = 0
    samples: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return not any(p.fatal for p in self.problems) and not self.cancelled

    def merge(self, other: "ImportReport") -> None:
        for name in ("chats", "messages", "messages_added", "sessions", "sticker_messages",
                     "stickers_with_files", "stickers_added", "samples"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems.extend(other.problems)
        self.notes.extend(n for n in other.notes if n not in self.notes)
        self.cancelled = self.cancelled or other.cancelled


@dataclass(slots=True)
class Utterance:
    """One turn of a conversation as the models see it: text, or a sticker rendered as words."""

    speaker: str
    text: str = ""
    sticker_id: int | None = None
    time: datetime | None = None


@dataclass(slots=True)
class Sticker:
    """A library sticker, as the catalog stores it."""

    id: int
    sha256: str
    path: Path | None
    fmt: str
    width: int = 0
    height: int = 0
    animated: bool = False
    emoji: str | None = None
    pack: str | None = None
    ocr_text: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    intent: str | None = None
    style: str | None = None
    favourite: bool = False
    hidden: bool = False
    use_count: int = 0


@dataclass(slots=True)
class Suggestion:
    """One ranked sticker with the reasons a user can read."""

    sticker: Sticker
    score: float
    reasons: list[str] = field(default_factory=list)
    parts: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Memory:
    """One summarised past session in the memory bank."""

    session_id: int
    chat_id: int
    summary: str
    topics: list[str] = field(default_factory=list)
    mood: str = ""
    participants: list[str] = field(default_factory=list)
    language: str = ""
    start: datetime | None = None
    end: datetime | None = None
    score: float = 0.0
