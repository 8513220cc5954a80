"""A pasted conversation → utterances: what the Suggest panel receives from the clipboard.

Recognised, in order of how many lines they explain: WhatsApp export lines and WhatsApp
Desktop/Web copies (`[21:49, 3/27/2022] Name: text`), Telegram Desktop copies
(`Name, [27.03.2022 21:49]` then the text), Discord copies (`Name — Today at 21:49` then the text),
WeChat copies (`Name 2022-03-27 21:49:16` or `2022-03-27 21:49:16 Name`, then the text), typed
`Name: text` lines; anything else is one utterance per non-empty line with no speaker.
Times are parsed where the format has them; nothing here fails on odd input.
"""

from __future__ import annotations

import re
from datetime import datetime

from assistant.chats.base import MARKS
from assistant.chats.whatsapp import LAYOUTS
from assistant.domain import Utterance

_TG = re.compile(r"^(?P<name>[^\n\[\]]{1,64}?), \[(?P<date>\d{1,2}[./]\d{1,2}[./]\d{2,4}),? "
                 r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?(?: ?[AaPp][Mm])?)\]\s*$")
_DC = re.compile(r"^(?P<name>[^\n—]{1,64}?) — (?P<when>(?:Today at|Yesterday at|\d{1,2}[./]\d{1,2}[./]\d{2,4})"
                 r"[^\n]{0,20}?\d{1,2}:\d{2}(?: ?[AaPp][Mm])?)\s*$")
_WX1 = re.compile(r"^(?P<name>[^\n]{1,64}?)\s+(?P<date>\d{4}[-/]\d{1,2}[-/]\d{1,2}) "
                  r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?)\s*$")
_WX2 = re.compile(r"^(?P<date>\d{4}[-/]\d{1,2}[-/]\d{1,2}) (?P<time>\d{1,2}:\d{2}(?::\d{2})?) "
                  r"(?P<name>[^\n]{1,64}?)\s*$")
_NAMED = re.compile(r"^(?P<name>[^\n:]{1,40}?): (?P<text>.*)$")
_LINE_FORMS = {name: re.compile(rx.pattern.lstrip("^"), rx.flags) for name, rx in LAYOUTS.items()}


def _strip(s: str) -> str:
    return s.strip().strip(MARKS).strip()


def _dt(date: str | None, time: str | None) -> datetime | None:
    if not date or not time:
        return None
    parts = [int(x) for x in re.split(r"[./-]", date)]
    hm = re.match(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp])?", time)
    if not hm or len(parts) != 3:
        return None
    h, mi, sec = int(hm.group(1)), int(hm.group(2)), int(hm.group(3) or 0)
    if hm.group(4) and hm.group(4).lower() == "p" and h < 12:
        h += 12
    elif hm.group(4) and hm.group(4).lower() == "a" and h == 12:
        h = 0
    if parts[0] > 31:
        y, mo, d = parts
    else:
        d, mo, y = parts
        if mo > 12:
            d, mo = mo, d
        y += 2000 if y < 100 else 0
    try:
        return datetime(y, mo, d, h, mi, sec)
    except ValueError:
        return None


def _block(lines: list[str], rx: re.Pattern[str]) -> list[Utterance]:
    """Formats where a header line names the speaker and the text follows on the next lines."""
    out: list[Utterance] = []
    cur: Utterance | None = None
    for line in lines:
        m = rx.match(_strip(line))
        if m:
            g = m.groupdict()
            cur = Utterance(_strip(g["name"]), "", None, _dt(g.get("date"), g.get("time")))
            out.append(cur)
        elif cur is not None:
            if line.strip() or cur.text:
                cur.text = (cur.text + "\n" + line.rstrip()).strip("\n") if cur.text else line.strip()
        elif line.strip():
            out.append(Utterance("", line.strip()))
    return [u for u in out if u.text or u.speaker]


def _whatsapp(lines: list[str], first: str) -> list[Utterance]:
    """WhatsApp lines; a paste may mix layouts (an export line next to a Desktop copy), so every
    layout is tried, the file's most common one first."""
    order = [first] + [k for k in _LINE_FORMS if k != first]
    out: list[Utterance] = []
    for line in lines:
        for layout in order:
            m = _LINE_FORMS[layout].match(line)
            if m:
                g = m.groups()
                di, ti = (2, 1) if layout == "ios-time-first" else (1, 2)
                when = _dt(g[di - 1], g[ti - 1].replace("\u202f", " "))
                out.append(Utterance(_strip(g[2] or ""), _strip(g[4]), None, when))
                break
        else:
            if out:
                out[-1].text = (out[-1].text + "\n" + line).strip("\n")
            elif line.strip():
                out.append(Utterance("", line.strip()))
    return out


def parse(text: str) -> list[Utterance]:
    """Pasted text → utterances, in order; never raises."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines = text.split("\n")
    nonempty = [ln for ln in lines if ln.strip()]
    if not nonempty:
        return []
    scores: list[tuple[int, str]] = []
    for name, rx in _LINE_FORMS.items():
        scores.append((sum(1 for ln in nonempty if rx.match(ln)), "wa:" + name))
    for name, rx in (("tg", _TG), ("dc", _DC), ("wx1", _WX1), ("wx2", _WX2)):
        scores.append((sum(1 for ln in nonempty if rx.match(_strip(ln))), name))
    best_n, best = max(scores, key=lambda s: s[0])
    if best_n:
        if best.startswith("wa:"):
            return _whatsapp(lines, best[3:])
        return _block(lines, {"tg": _TG, "dc": _DC, "wx1": _WX1, "wx2": _WX2}[best])
    named = [_NAMED.match(_strip(ln)) for ln in nonempty]
    if sum(1 for m in named if m) * 2 >= len(nonempty):
        out: list[Utterance] = []
        for ln, m in zip(nonempty, named):
            if m:
                out.append(Utterance(_strip(m.group("name")), m.group("text").strip()))
            elif out:
                out[-1].text = (out[-1].text + "\n" + ln.strip()).strip()
            else:
                out.append(Utterance("", ln.strip()))
        return out
    return [Utterance("", ln.strip()) for ln in nonempty]
