"""WhatsApp "Export chat" (.txt, or a .zip with `_chat.txt` and media), iOS and Android, any locale.

The grammar (FORMATS.md §2): a message starts on a line with a date/time header, anything else
continues the previous message. The parser is a tight loop: the header *layout* (iOS brackets,
iOS time-first, Android dash) is detected once per file and matched with one compiled regex;
date and time strings are converted through per-file caches (a chat has few distinct days and at
most 86,400 distinct times), never with a general date parser per line. Day-first vs month-first
is decided per file and per date shape (separator + year width), because one real export mixes
`6/30/23` and `30/6/2023`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from assistant.chats.base import MARKS, ParseContext, ParsedChat, ParseError
from assistant.chats.textfile import iter_chunks
from assistant.domain import Chat, Message, StickerRef

NAME = "whatsapp"

_M = f"[{MARKS}]*"
_DATE = r"(?:\d{1,4}|[A-Z]\d{1,2})[./-]\d{1,2}[./-](?:\d{1,4}|[A-Z]\d{1,2})(?: BE)?"
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[ \u202f\u00a0]?[AaPp]\.?[ \u202f\u00a0]?[Mm]\.?)?"

# One regex per header layout; groups: date, time (swapped for time-first), author (None on system
# lines), lead marks, body. The author is greedy but cannot cross ':' — so it ends at the first ': '.
_REST = rf"(?:{_M}([^\n:]+){_M}: )?({_M})([^\n]*)"
_TEMPLATES = {
    "ios": rf"^{_M}\[{_M}(@D){_M}[,،]?[ \u202f\u00a0]{_M}(@T){_M}\] {_REST}",
    "ios-time-first": rf"^{_M}\[{_M}(@T), (@D){_M}\] {_REST}",
    "android": rf"^{_M}(@D),? (@T) [-–] {_REST}",
}
LAYOUTS: dict[str, re.Pattern[str]] = {
    k: re.compile(v.replace("@D", _DATE).replace("@T", _TIME), re.M) for k, v in _TEMPLATES.items()}
_SEP = re.compile(r"[./-]")

# iOS "sticker omitted" in the languages seen in real exports and whats_json's table (NFC, lower case).
STICKER_OMITTED = {unicodedata.normalize("NFC", s).lower() for s in (
    "sticker omitted", "Sticker weggelassen", "стикер не добавлен", "Наклейку не додано", "sticker omis",
    "sticker omitido", "Sticker omitida", "figurinha omitida", "sticker omesso", "スタンプは含まれていません",
    "đã bỏ sticker", "تم حذف الملصقات", "sticker weggelaten", "naklejka pominięta", "çıkartma dahil edilmedi",
    "스티커 생략됨", "已忽略贴纸", "貼圖已略去", "sticker dihilangkan", "stiker tidak disertakan",
    "klistermärke utelämnat", "klistremerke utelatt", "sticker udeladt", "tarra jätetty pois",
)}
_ANDROID_STICKER = re.compile(r"(STK-\d{8}-WA\d+\.\w+)")
_IOS_STICKER = re.compile(r"(\d+-STICKER-[\w-]+\.\w+)")
_ANDROID_MEDIA = re.compile(r"((IMG|VID|AUD|PTT|DOC|STK)-\d{8}-WA\d+\.\w+)")
_IOS_ATTACHED = re.compile(r"<[^<>]*?: ?(\d+-(PHOTO|VIDEO|AUDIO|GIF|STICKER)?[^<>]*)>\s*$")
_ANDROID_KIND = {"IMG": "photo", "VID": "video", "AUD": "audio", "PTT": "voice", "DOC": "file"}
_IOS_KIND = {"PHOTO": "photo", "VIDEO": "video", "AUDIO": "audio", "GIF": "animation"}

ANDROID_NOTE = ("Android exports without media cannot show stickers — export with media "
                "(\"<Media omitted>\" lines could be stickers or photos).")
_NAME_PREFIX = re.compile(
    r"^(?:WhatsApp[ -][Cc]hat|Chat (?:de )?WhatsApp|Чат WhatsApp|WhatsApp-Chat)\s*"
    r"(?:with|met|mit|con|avec|com|s uživatelem|с контактом|z|-)?\s*", re.I)
_SNIFF_LINES = 60


def chat_name_for(path: Path) -> str:
    """`WhatsApp Chat with Bob.txt` → `Bob`; `_chat.txt` takes its folder's (the zip's) name."""
    stem = path.stem
    if stem == "_chat" and path.parent.name:
        stem = path.parent.name
        if stem.endswith(".zip"):
            stem = stem[:-4]
    name = _NAME_PREFIX.sub("", stem).strip(" -")
    return name or stem


def detect_layout(lines: list[str]) -> str | None:
    """The header layout that matches most of the first lines, or None if this is not WhatsApp."""
    best, best_n = None, 0
    for name, rx in LAYOUTS.items():
        n = sum(1 for ln in lines if rx.match(ln))
        if n > best_n:
            best, best_n = name, n
    return best if best_n else None


def sniff(text_head: str) -> str | None:
    lines = [ln for ln in text_head.splitlines()[:_SNIFF_LINES] if ln.strip()]
    layout = detect_layout(lines)
    if layout is None:
        return None
    hits = sum(1 for ln in lines if LAYOUTS[layout].match(ln))
    return layout if hits >= max(1, len(lines) // 3) else None


# --- dates ----------------------------------------------------------------------------------------
def _shape(fields: list[str], sep: str) -> tuple:
    return (sep, len(fields[2]) if not fields[2][:1].isalpha() else "era")


def _year(s: str) -> int:
    s = s.strip()
    if s.endswith(" BE"):
        return int(s[:-3]) - 543  # Thai Buddhist calendar
    if s[:1].isalpha():  # Japanese era: R = Reiwa (2019 = R1), H = Heisei (1989 = H1)
        base = {"R": 2018, "H": 1988, "S": 1925}.get(s[0].upper())
        if base is None:
            raise ValueError(s)
        return base + int(s[1:])
    y = int(s)
    return y + 2000 if y < 100 else y


class DateOrder:
    """Per-file, per-shape day/month order, learned from the dates themselves (Pustur's rule)."""

    def __init__(self) -> None:
        self.order: dict[tuple, str] = {}
        self._max: dict[tuple, list[int]] = {}

    def observe(self, date: str) -> None:
        sep = _SEP.search(date)
        if sep is None:
            return
        f = _SEP.split(date)
        if len(f) != 3 or len(f[0]) == 4:
            return
        key = _shape(f, sep.group())
        if key in self.order:
            return
        try:
            a, b = int(f[0]), int(f[1])
        except ValueError:
            return
        if a > 12:
            self.order[key] = "dmy"
        elif b > 12:
            self.order[key] = "mdy"

    def decided(self, shapes: set) -> bool:
        return all(s in self.order for s in shapes)

    def get(self, key: tuple) -> str:
        # Ambiguous all the way through: day-first is the majority convention worldwide.
        return self.order.get(key, "dmy")


def _date_parser(order: DateOrder):
    cache: dict[str, tuple[int, int, int] | None] = {}

    def parse(date: str) -> tuple[int, int, int] | None:
        hit = cache.get(date, False)
        if hit is not False:
            return hit  # type: ignore[return-value]
        sep = _SEP.search(date)
        f = _SEP.split(date)
        try:
            if len(f[0]) == 4:
                y, mo, d = int(f[0]), int(f[1]), int(f[2])
            elif order.get(_shape(f, sep.group())) == "mdy":
                mo, d, y = int(f[0]), int(f[1]), _year(f[2])
            else:
                d, mo, y = int(f[0]), int(f[1]), _year(f[2])
            datetime(y, mo, d)
            out = (y, mo, d)
        except (ValueError, AttributeError, IndexError):
            out = None
        cache[date] = out
        return out

    return parse


def _time_parser():
    cache: dict[str, int | None] = {}

    def parse(t: str) -> int | None:
        hit = cache.get(t, -1)
        if hit != -1:
            return hit
        s = t.replace("\u202f", " ").replace("\u00a0", " ")
        low = s.lower()
        digits = re.match(r"(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?", s)
        out = None
        if digits:
            h, m, sec = int(digits.group(1)), int(digits.group(2)), int(digits.group(3) or 0)
            if "p" in low and h < 12:
                h += 12
            elif "a" in low and h == 12:
                h = 0
            if h < 24 and m < 60 and sec < 60:
                out = h * 3600 + m * 60 + sec
        cache[t] = out
        return out

    return parse


# --- reading --------------------------------------------------------------------------------------
def _learn_order(path: Path, ctx: ParseContext, rx: re.Pattern[str], date_group: int) -> DateOrder:
    """Scan header dates until every date shape seen is decided (usually within the first chunk)."""
    order = DateOrder()
    shapes: set = set()
    quiet = ParseContext(path, partial=True)  # decoding problems are reported by the real pass
    seen: set[str] = set()
    n = 0
    for text, _base in iter_chunks(path, quiet):
        for m in rx.finditer(text):
            date = m.group(date_group)
            n += 1
            if date not in seen:
                seen.add(date)
                f = _SEP.split(date)
                if len(f) == 3 and len(f[0]) != 4:
                    shapes.add(_shape(f, _SEP.search(date).group()))
                    order.observe(date)
            if n % 2000 == 0 and order.decided(shapes):
                break
        else:
            continue
        break
    if shapes - set(order.order):
        ctx.note(f"{path.name}: day/month order is ambiguous (no day above 12); assumed day-first")
    return order


def _digits_pattern(s: str) -> str | None:
    """`23/03/2022` → `\\d{1,2}/\\d{1,2}/\\d{4}`; None for anything but digits and separators."""
    if not re.fullmatch(r"[\d./:-]+", s):
        return None
    return re.sub(r"\d+", lambda m: r"\d{1,2}" if len(m.group()) <= 2 else rf"\d{{{len(m.group())}}}",
                  re.escape(s))


def specialise(layout: str, head: list[str]) -> re.Pattern[str] | None:
    """A regex for the one date/time shape the file's first headers use (faster than the general
    one), or None when they vary. The parser falls back to the general regex if a later header
    of another shape appears."""
    rx = LAYOUTS[layout]
    di, ti = (2, 1) if layout == "ios-time-first" else (1, 2)
    shapes = set()
    for ln in head:
        m = rx.match(ln)
        if m:
            shapes.add((_digits_pattern(m.group(di)), _digits_pattern(m.group(ti))))
    if len(shapes) != 1:
        return None
    dp, tp = shapes.pop()
    if dp is None or tp is None:
        return None
    return re.compile(_TEMPLATES[layout].replace("@D", dp).replace("@T", tp), re.M)


def parse_file(path: Path, ctx: ParseContext, media_dir: Path | None = None,
               layout: str | None = None) -> ParsedChat:
    """Parse one WhatsApp text export; media files are looked up in `media_dir` (default: beside it)."""
    with open(path, "rb") as fh:
        raw = fh.read(65536)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        sample = raw.decode("utf-16", "ignore")
    else:
        sample = raw.decode("utf-8", "ignore").lstrip("\ufeff")
    head = [ln for ln in sample.replace("\r", "\n").split("\n")[:-1] if ln.strip()][:_SNIFF_LINES]
    if not head and sample.strip():
        head = [sample]
    if not head:
        raise ParseError(path, "the file is empty")
    if layout is None:
        layout = detect_layout(head)
        if layout is None:
            raise ParseError(path, "no WhatsApp message header found (expected lines like "
                             "'[3/27/22, 21:49:16] Name: text' or '27/03/2022, 21:49 - Name: text')", "line 1")
    rx = LAYOUTS[layout]
    di, ti = (2, 1) if layout == "ios-time-first" else (1, 2)
    order = _learn_order(path, ctx, rx, di)
    name = chat_name_for(path)
    chat = Chat(platform=NAME, name=name, source_id=name, kind=None)
    folder = media_dir if media_dir is not None else path.parent
    fast = specialise(layout, head)
    return ParsedChat(chat, _messages(path, ctx, rx, fast, ti < di, order, layout, folder, chat))


def _messages(path: Path, ctx: ParseContext, generic: re.Pattern[str], fast: re.Pattern[str] | None,
              time_first: bool, order: DateOrder, layout: str, folder: Path, chat: Chat) -> Iterator[Message]:
    """The hot loop: one `finditer` per decoded chunk finds the headers in C; the text between two
    headers is the previous message's continuation. Per message: two cache lookups for the time and a
    few substring tests for stickers and media. With a specialised regex, any continuation text is
    checked with the general one, and a header of another shape switches the rest of the file to it."""
    parse_date = _date_parser(order)
    parse_time = _time_parser()
    days: dict[str, datetime | None] = {}
    clock: dict[str, timedelta | None] = {}
    android = layout == "android"
    marks = MARKS
    omitted = STICKER_OMITTED
    senders: dict[str, None] = {}
    media_omitted = 0
    files: dict[str, Path | None] = {}  # sticker file name -> path if present (one stat per name)
    cur: Message | None = None
    seen_any = False
    rx = fast or generic
    for text, base in iter_chunks(path, ctx):
        seen_any = True
        prev_end = -1  # index of the "\n" ending the previous header line in this chunk
        pos = 0
        while True:
            switched = False
            for m in rx.finditer(text, pos):
                s = m.start()
                if s > prev_end + 1:
                    if rx is not generic and generic.search(text, prev_end + 1, s - 1):
                        rx, pos, switched = generic, prev_end + 1, True
                        break
                    gap = text[prev_end + 1:s - 1]
                    if cur is not None:
                        cur.text = (cur.text + "\n" + gap).rstrip("\n")
                    elif gap.strip():
                        ctx.skip("text before the first message header", f"line {base + 1}")
                prev_end = m.end()
                if cur is not None:
                    yield cur
                date, tm, sender, lead, body = m.groups()
                if time_first:
                    date, tm = tm, date
                try:
                    day = days[date]
                except KeyError:
                    ymd = parse_date(date)
                    day = days[date] = datetime(*ymd) if ymd else None
                try:
                    td = clock[tm]
                except KeyError:
                    secs = parse_time(tm)
                    td = clock[tm] = None if secs is None else timedelta(seconds=secs)
                if day is None or td is None:
                    when = None
                    ctx.skip(f"unreadable date/time {date!r} {tm!r}",
                             f"line {base + text.count(chr(10), 0, s) + 1}" if ctx.listing else None)
                else:
                    when = day + td
                if sender is None:
                    cur = Message("", when, body.strip(marks), None, None, True)
                    continue
                if sender[-1:] in marks:
                    sender = sender.rstrip(marks)
                if body[-1:] in marks and body:
                    body = body.rstrip(marks)
                cur = Message(sender, when, body)
                if sender not in senders:
                    senders[sender] = None
                # Stickers and media: only a few cheap substring tests for ordinary text lines.
                if "STK-" in body:
                    sm = _ANDROID_STICKER.search(body)
                    if sm:
                        _sticker(cur, sm.group(1), folder, files)
                        continue
                if "-STICKER-" in body:
                    sm = _IOS_STICKER.search(body)
                    if sm:
                        _sticker(cur, sm.group(1), folder, files)
                        continue
                if (lead or not android) and len(body) < 48:
                    low = body.lower()
                    if low in omitted or unicodedata.normalize("NFC", low) in omitted:
                        cur.sticker = StickerRef(platform=NAME)
                        cur.text = ""
                        continue
                last = body[-1:]
                if last == ">" and body[:1] == "<":
                    if android:
                        cur.media = "media-unknown"
                        media_omitted += 1
                    else:
                        am = _IOS_ATTACHED.search(body)
                        if am:
                            cur.media = _IOS_KIND.get(am.group(2) or "", "file")
                    continue
                if last == ")" and android:
                    am = _ANDROID_MEDIA.match(body)
                    if am:
                        cur.media = _ANDROID_KIND.get(am.group(2), "file")
                        continue
                if lead:
                    cur.is_system = True  # iOS writes notices and "… omitted" media lines behind U+200E
            if switched:
                continue
            if rx is not generic and generic.search(text, prev_end + 1):
                rx, pos = generic, prev_end + 1
                continue
            break
        tail = text[prev_end + 1:-1]
        if tail:
            if cur is not None:
                cur.text = (cur.text + "\n" + tail).rstrip("\n")
            elif tail.strip():
                ctx.skip("text before the first message header", f"line {base + 1}")
    if cur is not None:
        yield cur
    if not seen_any:
        raise ParseError(path, "the file is empty")
    if media_omitted:
        ctx.note(ANDROID_NOTE)
    chat.participants = list(senders)
    # "WhatsApp Chat with Bob": in a two-person chat the other participant is the exporting user.
    if len(senders) == 2 and chat.name in senders:
        chat.me = next(s for s in senders if s != chat.name)
        chat.kind = "personal_chat"


_MISSING: object = object()


def _sticker(msg: Message, filename: str, folder: Path, files: dict[str, Path | None]) -> None:
    if filename in files:
        f = files[filename]
    else:
        p = folder / filename
        f = files[filename] = p if p.is_file() else None
    msg.sticker = StickerRef(NAME, None, None, f, filename, None, filename.rsplit(".", 1)[-1].lower())
    msg.text = ""


class WhatsAppImporter:
    name = NAME

    def parse(self, path: Path, ctx: ParseContext) -> Iterator[ParsedChat]:
        if path.is_dir():
            txt = path / "_chat.txt"
            if not txt.exists():
                cands = sorted(path.glob("*.txt"))
                if not cands:
                    raise ParseError(path, "no WhatsApp chat .txt in this folder")
                txt = cands[0]
            yield parse_file(txt, ctx, media_dir=path)
        else:
            yield parse_file(path, ctx)
