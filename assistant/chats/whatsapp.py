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
from itertools import chain, compress, count, repeat
from operator import add, is_
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from assistant.chats.base import MARKS, ParseContext, ParsedChat, ParseError
from assistant.chats.textfile import iter_chunks, iter_decoded
from assistant.domain import Chat, Message, StickerRef

NAME = "whatsapp"

_M = f"[{MARKS}]*"
_DATE = r"(?:\d{1,4}|[A-Z]\d{1,2})[./-]\d{1,2}[./-](?:\d{1,4}|[A-Z]\d{1,2})(?: BE)?"
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?(?:[ \u202f\u00a0]?[AaPp]\.?[ \u202f\u00a0]?[Mm]\.?)?"

# One regex per header layout; groups: date, time (swapped for time-first), author (None on system
# lines), lead marks, body. The author is greedy but cannot cross ':' — so it ends at the first ': ',
# or at a ':' ending the line (an empty message whose trailing space an editor or exporter trimmed).
_REST = rf"(?:{_M}([^\n:]+){_M}:(?: |(?=\n|\Z)))?({_M})([^\n]*)"
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
    for text, _base in iter_chunks(path, quiet, 1 << 16):
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


def specialise(layout: str, head: list[str]) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """Splitting regexes (see `_splitters`) for the one date/time shape the file's first headers use (faster than the
    general one), or None when they vary. The parser falls back to the general regex if a later
    header of another shape appears."""
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
    return _splitters(layout, dp, tp)


def _splitters(layout: str, date: str = _DATE, time: str = _TIME) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The layout's header regex in splitting form, as a pair: with bidi marks allowed, and without
    them for text that has none (most Android exports; the mark classes cost ~15% of the split).
    Each starts with the "\\n" ending the line before (a literal prefix the regex engine scans
    for in C, where `^` with re.M tries every position), and its quantifiers are possessive where
    backtracking cannot help, so a failed author match gives up at once. `split` then yields, per
    message: date, time (swapped for time-first), author, lead marks, first line, and the
    continuation lines ("" or "\\n…")."""
    pattern = ("\n" + _TEMPLATES[layout].removeprefix("^").replace("@D", date).replace("@T", time)
               .replace("([^\\n:]+)", "([^\\n:]++)").replace("([^\\n]*)", "([^\\n]*+)"))
    return re.compile(pattern), re.compile(pattern.replace(_M, ""))


SPLITTERS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {k: _splitters(k) for k in _TEMPLATES}


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
    di = 2 if layout == "ios-time-first" else 1
    order = _learn_order(path, ctx, LAYOUTS[layout], di)
    name = chat_name_for(path)
    chat = Chat(platform=NAME, name=name, source_id=name, kind=None, local_times=True)
    folder = media_dir if media_dir is not None else path.parent
    fast = specialise(layout, head)
    lists = _message_lists(path, ctx, SPLITTERS[layout], fast, order, layout, folder, chat)
    return ParsedChat(chat, chain.from_iterable(lists))


CHUNK = 16 << 10  # text per split: small enough that the chunk, its pieces and its messages stay in cache
# Longer first lines cannot be a "sticker omitted" phrase, even decomposed (NFD) before NFC.
_OMITTED_MAX = max(len(unicodedata.normalize("NFD", s)) for s in STICKER_OMITTED) + 1
# Any character of MARKS in UTF-8, searched in a chunk's bytes.
_MARK_BYTES = re.compile(b"|".join(re.escape(c.encode()) for c in MARKS))


class _Stamps(dict):
    """A date or time string → its value, parsed on first sight (a chat has few distinct days and at
    most 86,400 distinct times); lookups go through C (`map(cache.__getitem__, strings)`)."""

    def __init__(self, parse) -> None:
        super().__init__()
        self._parse = parse

    def __missing__(self, key: str):
        value = self[key] = self._parse(key)
        return value


def _message_lists(path: Path, ctx: ParseContext, generic: tuple[re.Pattern[str], re.Pattern[str]],
                   fast: tuple[re.Pattern[str], re.Pattern[str]] | None, order: DateOrder, layout: str,
                   folder: Path, chat: Chat) -> Iterator[list[Message]]:
    """The hot path, per 16 KiB chunk of text, with no Python code run per plain text message:
    one `split` cuts the chunk into header fields, first lines and continuations; dates and
    times come from per-file caches; `map(Message, …)` builds every message in C; C-level
    substring tests (`map(str.endswith, …)`) find the few lines that are media, stickers or
    system notices, and only those are looked at in Python. Messages are handed on a list per
    chunk (`chain.from_iterable` flattens them in C). The last message of a chunk is held back
    until the next chunk shows whether continuation lines follow it."""
    parse_date = _date_parser(order)
    parse_time = _time_parser()
    days = _Stamps(lambda d: datetime(*ymd) if (ymd := parse_date(d)) else None)
    clock = _Stamps(lambda t: None if (secs := parse_time(t)) is None else timedelta(seconds=secs))
    android = layout == "android"
    dpos, tpos = (2, 1) if layout == "ios-time-first" else (1, 2)
    marks = MARKS
    mark_bytes = _MARK_BYTES
    omitted = STICKER_OMITTED
    omitted_max = _OMITTED_MAX
    senders: dict[str, None] = {}
    media_omitted = 0
    files: dict[str, tuple[Path | None, str]] = {}  # sticker file name -> (path if present, format)
    cur: Message | None = None
    held_blank = 0  # newlines stripped from the end of `cur` that a continuation would keep
    seen_any = False
    rx = fast or generic
    for text, base, raw in iter_decoded(path, ctx, CHUNK):
        seen_any = True
        if raw is None:
            has_marks = any(c in text for c in marks)
        else:  # every mark's UTF-8 starts with byte E2 or EF: two memchr scans rule most chunks out
            has_marks = (b"\xe2" in raw or b"\xef" in raw) and mark_bytes.search(raw) is not None
        body_text = "\n" + text[:-1]  # the leading "\n" lets the first header match; the last is dropped
        parts = rx[not has_marks].split(body_text)
        if rx is not generic and generic[not has_marks].search("".join(parts[::6])):
            rx = generic  # a header of another shape hid in continuation text: general regex from here on
            parts = rx[not has_marks].split(body_text)
        pre = parts[0]
        if pre:
            if cur is not None:  # blank lines that ended the previous chunk belong inside this text
                whole = cur.text + "\n" * held_blank + pre
                cur.text = whole.rstrip("\n")
                held_blank = len(whole) - len(cur.text)
            elif pre.strip():
                ctx.skip("text before the first message header", f"line {base + 1}")
        if len(parts) == 1:
            continue
        dates, times = parts[dpos::6], parts[tpos::6]
        authors, leads, firsts, conts = parts[3::6], parts[4::6], parts[5::6], parts[6::6]
        try:
            whens = list(map(add, map(days.__getitem__, dates), map(clock.__getitem__, times)))
        except TypeError:  # a date or time did not parse (None): report those messages, keep them untimed
            whens = _checked_times(ctx, base, pre, dates, times, conts, days, clock)
        for a in dict.fromkeys(authors):
            if a is not None:
                senders[a.rstrip(marks) if a[-1] in marks else a] = None
        if has_marks:
            firsts = list(map(str.rstrip, firsts, repeat(marks)))
        system = list(compress(count(), map(is_, authors, repeat(None))))
        for i in system:
            authors[i] = ""
        if has_marks:
            authors = list(map(str.rstrip, authors, repeat(marks)))
        out = list(map(Message, authors, whens, firsts))
        for i in system:
            out[i].is_system = True

        # Lines that may not be plain text, in the order the checks apply: stickers first, then
        # "<…>" media, then "… (file attached)" media, then iOS notices behind a mark.
        done = set(system)
        for i in _where(firsts, str.__contains__, "STK-", text):
            if i not in done and (sm := _ANDROID_STICKER.search(firsts[i])):
                _sticker(out[i], sm.group(1), folder, files)
                done.add(i)
        for i in _where(firsts, str.__contains__, "-STICKER-", text):
            if i not in done and (sm := _IOS_STICKER.search(firsts[i])):
                _sticker(out[i], sm.group(1), folder, files)
                done.add(i)
        maybe_omitted = (range(len(out)) if not android else  # Android: only behind a mark
                         list(compress(count(), leads)) if has_marks else ())
        for i in compress(maybe_omitted, map(omitted.__contains__, map(
                unicodedata.normalize, repeat("NFC"), map(str.lower, map(firsts.__getitem__, maybe_omitted))))):
            if i not in done and len(firsts[i]) < omitted_max:
                out[i].sticker = StickerRef(platform=NAME)
                out[i].text = ""
                done.add(i)
        closed = list(_where(firsts, str.endswith, ">", text))
        closed = set(compress(closed, map(str.startswith, map(firsts.__getitem__, closed), repeat("<"))))
        closed -= done
        if android:
            for i in closed:
                out[i].media = "media-unknown"
            media_omitted += len(closed)
        else:
            for i in closed:
                if am := _IOS_ATTACHED.search(firsts[i]):
                    out[i].media = _IOS_KIND.get(am.group(2) or "", "file")
        done.update(closed)
        if android:
            for i in _where(firsts, str.endswith, ")", text):
                if i not in done and (am := _ANDROID_MEDIA.match(firsts[i])):
                    out[i].media = _ANDROID_KIND.get(am.group(2), "file")
                    done.add(i)
        if has_marks:
            for i in compress(count(), leads):
                if i not in done:
                    out[i].is_system = True  # iOS writes notices and "… omitted" media lines behind U+200E
        for i in compress(count(), conts):  # continuation lines of multi-line messages
            msg = out[i]
            msg.text = (msg.text + conts[i]).rstrip("\n")
        last = out.pop()
        held_blank = len(conts[-1]) - len(conts[-1].rstrip("\n"))
        if cur is not None:
            out.insert(0, cur)
        cur = last
        yield out
    if cur is not None:
        yield [cur]
    if not seen_any:
        raise ParseError(path, "the file is empty")
    if media_omitted:
        ctx.note(ANDROID_NOTE)
    chat.participants = list(senders)
    # "WhatsApp Chat with Bob": in a two-person chat the other participant is the exporting user.
    if len(senders) == 2 and chat.name in senders:
        chat.me = next(s for s in senders if s != chat.name)
        chat.kind = "personal_chat"


def _where(lines: list[str], test, arg: str, text: str) -> Iterator[int]:
    """Indices of `lines` where `test(line, arg)`, tested in C; none at all when `arg` is nowhere in
    the chunk's text."""
    if arg not in text:
        return iter(())
    return compress(count(), map(test, lines, repeat(arg)))


def _checked_times(ctx: ParseContext, base: int, pre: str, dates: list[str], times: list[str],
                   conts: list[str], days: dict, clock: dict) -> list[datetime | None]:
    """Message times of a chunk where some date or time did not parse: each such message is
    reported (with its line, while problems are still listed) and kept without a time."""
    out: list[datetime | None] = []
    line = base + 1 + pre.count("\n")
    for d, t, cont in zip(dates, times, conts):
        day, td = days[d], clock[t]
        if day is None or td is None:
            ctx.skip(f"unreadable date/time {d!r} {t!r}", f"line {line}" if ctx.listing else None)
            out.append(None)
        else:
            out.append(day + td)
        line += 1 + cont.count("\n")
    return out


_MISSING: object = object()


def _sticker(msg: Message, filename: str, folder: Path, files: dict[str, tuple[Path | None, str]]) -> None:
    """A sticker file named in the export: found beside it (one stat per name) or name-only."""
    try:
        f, fmt = files[filename]
    except KeyError:
        p = folder / filename
        f, fmt = files[filename] = (p if p.is_file() else None, filename.rsplit(".", 1)[-1].lower())
    msg.sticker = StickerRef(NAME, None, None, f, filename, None, fmt)
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
