"""What every chat-export importer shares: the parsed-chat shape, the error type and the protocol.

Importers *stream*: a parser yields `ParsedChat` objects whose `messages` is an iterator, so a
1 GB Telegram export or a 2 GB WhatsApp text is never held in memory at once. The store consumes
each chat's iterator inside one transaction; a problem inside a chat either aborts that chat
(default) or is recorded and skipped (`partial=True`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from assistant.domain import Chat, ImportProblem, Message

# Bidi and invisible marks WhatsApp, Signal and friends put around names, dates and media lines.
MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"


class ParseError(Exception):
    """A problem in one export file, said so a user can find it: the file, where, and what."""

    def __init__(self, file: str | Path, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.file = str(file)
        self.message = message
        self.location = location

    def problem(self, fatal: bool = True) -> ImportProblem:
        return ImportProblem(file=self.file, message=self.message, location=self.location, fatal=fatal)

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return f"{self.file}{where}: {self.message}"


@dataclass
class ParseContext:
    """Per-file state shared by a parser and the store: where problems go and how strict to be."""

    file: Path
    partial: bool = False
    problems: list[ImportProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    done_bytes: int = 0  # how far the reader got, for a progress bar on big files
    total_bytes: int = 0

    max_problems: int = 200  # beyond this, problems of a file are counted, not listed one by one
    suppressed: int = 0

    @property
    def listing(self) -> bool:
        """Whether another problem would still be listed (callers skip costly location lookups if not)."""
        return not self.partial or len(self.problems) < self.max_problems

    def skip(self, message: str, location: str | None = None) -> None:
        """A recoverable problem: with partial import, record and go on; otherwise abort the file."""
        if not self.partial:
            raise ParseError(self.file, message, location)
        if len(self.problems) >= self.max_problems:
            self.suppressed += 1
            return
        self.problems.append(ImportProblem(str(self.file), message, location, fatal=False))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@dataclass
class ParsedChat:
    """A chat's header plus a one-shot iterator of its messages (consume before the next chat)."""

    chat: Chat
    messages: Iterator[Message]


class Importer(Protocol):
    """One chat-export format. `detect.py` picks the importer; `store.py` consumes its chats."""

    name: str  # "telegram", "whatsapp", ...

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
        """Yield the chats in `path` (a file or an export folder); raise ParseError when unreadable."""
        ...
