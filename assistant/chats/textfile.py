"""Reading exported text files fast and honestly: big decoded chunks for parsers that scan with
one regex, or lines for the simple ones. UTF-8 (with or without BOM) and UTF-16 (BOM) are read;
a bad byte is reported with its line and column, and aborts unless partial import replaces it.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path

from assistant.chats.base import ParseContext, ParseError

CHUNK = 4 << 20
MAX_LINE = 64 << 20


def _bad_bytes(ctx: ParseContext, raw: bytes, exc: UnicodeDecodeError, base_line: int) -> None:
    line = base_line + raw.count(b"\n", 0, exc.start) + 1
    col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
    ctx.skip(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {col}); the file may be in another "
             "encoding — re-export it, or import with partial import to replace the bad characters",
             f"line {line}")


def iter_chunks(path: Path, ctx: ParseContext, chunk: int = CHUNK) -> Iterator[tuple[str, int]]:
    """Yield (text, first line number - 1); every text ends with "\\n" and holds whole lines only,
    with CRLF/CR turned into LF."""
    for text, base, _raw in iter_decoded(path, ctx, chunk):
        yield text, base


def iter_decoded(path: Path, ctx: ParseContext, chunk: int = CHUNK) -> Iterator[tuple[str, int, bytes | None]]:
    """`iter_chunks` plus each text's UTF-8 bytes (None for UTF-16 files), for parsers that can
    rule characters out with a byte search (far cheaper than scanning the decoded text)."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            for text, base in _utf16_chunks(fh, chunk):
                yield text, base, None
            return
        base = 0
        carry = b""
        first = True
        while True:
            data = fh.read(chunk)
            if not data and not carry:
                return
            buf = carry + data
            if data:
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    if len(buf) > MAX_LINE:
                        raise ParseError(path, f"a line longer than {MAX_LINE >> 20} MiB: not a chat export",
                                         f"line {base + 1}")
                    carry = buf
                    continue
                raw, carry = buf[:cut], buf[cut:]
            else:
                raw, carry = buf + b"\n", b""
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                _bad_bytes(ctx, raw, exc, base)
                text = raw.decode("utf-8", "replace")
            if first:
                first = False
                if text.startswith("\ufeff"):
                    text = text[1:]
            if "\r" in text:
                text = text.replace("\r\n", "\n").replace("\r", "\n")
            ctx.done_bytes = fh.tell() - len(carry)
            yield text, base, raw
            base += raw.count(b"\n")


def _utf16_chunks(fh, chunk: int) -> Iterator[tuple[str, int]]:
    tf = io.TextIOWrapper(fh, encoding="utf-16", newline=None)
    base = 0
    carry = ""
    while True:
        data = tf.read(chunk // 2)
        if not data:
            if carry:
                yield carry + "\n", base
            return
        buf = carry + data
        cut = buf.rfind("\n") + 1
        if cut == 0:
            carry = buf
            continue
        text, carry = buf[:cut], buf[cut:]
        yield text, base
        base += text.count("\n")


def iter_lines(path: Path, ctx: ParseContext) -> Iterator[str]:
    """Decoded lines without line ends (for the line-oriented parsers)."""
    for text, _base in iter_chunks(path, ctx):
        lines = text.split("\n")
        lines.pop()  # the text ends with "\n"
        yield from lines
