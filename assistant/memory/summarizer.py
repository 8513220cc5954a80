"""One past chat session -> one memory note (IGSR's multi-modal history modeling).

IGSR feeds each history session, utterances plus the attributes of the stickers in it, to an LLM and
keeps the summary as a memory. Here the LLM is a small local GGUF, so the prompt does more of the
work: it names the conversation's language (detected from the script and common words, since a
0.5B model otherwise drifts into English), renders every sticker as its attributes (emoji, the
words on it, its description and intent from the catalog), and the answer is constrained by a JSON
grammar (summary, topics, mood), which also stops the small model's habit of repeating itself to the
token limit. Sessions longer than the context are summarized in chunks whose notes are then merged
by a second call.

Speed on 2 CPU cores is mostly prompt evaluation, so the transcript is compact (`compact_transcript`:
no per-message times, short labels for long names, each sticker described once) and the prompt is
ordered for llama.cpp's KV-cache reuse: the system prompt is the same for every session and language,
and everything session-specific (chat, transcript, language) comes after it.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources

from assistant.ml.llm import ChatLLM, LLMError


# --- generation settings ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GenerationSettings:
    """Chosen by measured summary quality (see tests/benchmarks/bench_llm.py and the report)."""

    temperature: float = 0.2
    repeat_penalty: float = 1.1
    max_tokens: int = 160
    max_topics: int = 5
    line_chars: int = 300  # one message is cut to this many characters in the prompt


DEFAULT_SETTINGS = GenerationSettings()


def note_schema(settings: GenerationSettings = DEFAULT_SETTINGS) -> dict:
    """The JSON shape every note must have; llama.cpp turns it into a grammar.

    Summary first: with the facts listed first the 0.5B model wrote long, copied-out summaries. No
    string `maxLength`: llama.cpp expands it into a grammar that made sampling ~4x slower in our
    measurements; the prompt and `max_tokens` keep the note short, and a cut-off answer is salvaged.
    No participants: the senders are known without the model, and asking for them cost ~10 generated
    tokens per session.
    """
    short = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "minLength": 10},
            "topics": {"type": "array", "items": short, "maxItems": settings.max_topics},
            "mood": {"type": "string"},
        },
        "required": ["summary", "topics", "mood"],
        "additionalProperties": False,
    }


# --- the session as the model sees it --------------------------------------------------------------
@dataclass
class StickerInfo:
    """A sticker's attributes as the catalog knows them (any may be empty)."""

    emoji: str = ""
    words: str = ""  # OCR text on the sticker
    description: str = ""
    intent: str = ""
    name: str = ""  # a name or pack title the platform gave

    def key(self) -> tuple[str, str, str, str]:
        return (self.emoji, self.words, self.description, self.name)

    def render_compact(self, first: bool) -> str:
        """The prompt's form: everything the catalog knows the first time a sticker appears in a session,
        then only its emoji and words (the model has seen the rest; repeats cost ~15 tokens each)."""
        head = " ".join(p for p in (self.emoji, f'"{_clip(self.words, 40)}"' if self.words else "") if p)
        if not first:
            return f"[sticker {head}]" if head else "[sticker]"
        what = ", ".join(p for p in (_clip(self.description, 90), _clip(self.name, 30) if not self.description
                                     else "", self.intent) if p)
        body = f"{head}: {what}" if head and what else head or what
        return f"[sticker {body}]" if body else "[sticker]"

    def render(self) -> str:
        parts = [p for p in (self.emoji,) if p]
        if self.words:
            parts.append(f'"{_clip(self.words, 60)}"')
        what = "; ".join(p for p in (_clip(self.description, 120), self.name and f"from {self.name}",
                                     self.intent and f"intent: {self.intent}") if p)
        if what:
            parts.append(f"({what})")
        return "[sticker: " + " ".join(parts) + "]" if parts else "[sticker]"


@dataclass
class Line:
    """One message of a session, sticker already rendered as words."""

    sender: str
    text: str
    time: datetime | None = None
    sticker: StickerInfo | None = None
    media: str | None = None

    def render(self, line_chars: int = 400) -> str:
        bits = []
        if self.text:
            bits.append(_clip(" ".join(self.text.split()), line_chars))
        if self.sticker is not None:
            bits.append(self.sticker.render())
        if self.media and not bits:
            bits.append(f"[{self.media}]")
        stamp = self.time.strftime("%H:%M ") if self.time else ""
        return f"{stamp}{self.sender or '?'}: {' '.join(bits)}"


@dataclass
class Session:
    """A past session ready to summarize."""

    session_id: int
    chat_id: int
    chat_name: str
    lines: list[Line]
    start: datetime | None = None
    end: datetime | None = None
    content_hash: str = ""
    # The same two times on the user's wall clock, for the prompt's date line ("2024-03-01 23:10"
    # must not read as the next morning because the export stored UTC); None: `start`/`end` as stored.
    shown_start: datetime | None = None
    shown_end: datetime | None = None

    def date_line(self) -> str:
        """The session's dates as the prompt shows them: the user's wall clock when known."""
        return _date_range(self.shown_start or self.start, self.shown_end or self.end)

    @property
    def senders(self) -> list[str]:
        """Who wrote, most active first."""
        counts: dict[str, int] = {}
        for ln in self.lines:
            if ln.sender:
                counts[ln.sender] = counts.get(ln.sender, 0) + 1
        return sorted(counts, key=lambda s: -counts[s])

    def transcript_hash(self) -> str:
        h = hashlib.sha256()
        for ln in self.lines:
            h.update(ln.render(10_000).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()


# --- the transcript the model reads -----------------------------------------------------------------
_URL = re.compile(r"\b(?:https?://|www\.)([^/\s?#]+)\S*", re.I)
_LONG_NAME = re.compile(r"\d.*\d.*\d.*\d")  # phone numbers and ids: many tokens, nothing to say
_NUMBERED_FILE = re.compile(r"\b[\w-]*\d{5,}[\w-]*\.([A-Za-z0-9]{2,4})\b")  # IMG-20230630-WA0000.jpg


@dataclass
class Transcript:
    """A session as the prompt shows it, plus the short labels that stand for long sender names."""

    lines: list[str]
    aliases: dict[str, str] = field(default_factory=dict)  # label in the prompt -> the sender's real name

    def restore(self, text: str) -> str:
        """Put the real names back where the model wrote a label."""
        for label, name in self.aliases.items():
            text = re.sub(rf"(?<!\w){re.escape(label)}(?!\w)", name, text)
        return text


def _speaker_labels(senders: list[str]) -> dict[str, str]:
    """Sender -> what the prompt calls them. Names stay as they are unless they are long (a WhatsApp
    phone number costs ~12 tokens on every line): then the first word when it is a unique, plain name
    (kept in the summary as it is), else P1, P2... which `Transcript.restore` maps back."""
    firsts: dict[str, int] = {}
    for s in senders:
        w = s.split()[0] if s.split() else ""
        firsts[w] = firsts.get(w, 0) + 1
    labels: dict[str, str] = {}
    used = set(senders)
    n = 0
    for s in senders:
        if len(s) <= 16 and not _LONG_NAME.search(s):
            labels[s] = s
            continue
        first = s.split()[0] if s.split() else ""
        if first.isalpha() and firsts[first] == 1 and len(first) <= 12 and first not in used:
            labels[s] = first
        else:
            n += 1
            while f"P{n}" in used:
                n += 1
            labels[s] = f"P{n}"
        used.add(labels[s])
    return labels


def _compact_text(text: str, limit: int) -> str:
    """One message for the prompt: whitespace folded, links cut to their site, very long text cut at a
    word boundary (the summary needs the gist, and one pasted article would crowd out the chat).
    Numbered attachment names (a digit costs a token) become their kind."""
    text = _URL.sub(lambda m: f"<{m.group(1).lower().removeprefix('www.')}>", " ".join(text.split()))
    text = _NUMBERED_FILE.sub(lambda m: f"[{m.group(1).lower()} file]", text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.7 else cut).rstrip(" ,;:") + "…"


def compact_transcript(session: Session, line_chars: int = 300) -> Transcript:
    """The session in as few tokens as keep what a summary needs.

    No per-message times (the date range is in the header; Qwen spends one token per digit, which was
    a quarter of the old prompt), long sender names shortened, a sticker described in full only the
    first time it appears, a message repeated back to back written once with its count, and a long
    message (≥ 24 characters) the same sender pasted again dropped.
    """
    labels = _speaker_labels(session.senders)
    lines: list[str] = []
    seen_stickers: set[tuple] = set()
    seen_long: set[tuple[str, str]] = set()
    last_key: tuple[str, str] | None = None
    repeat = 1
    for ln in session.lines:
        bits = []
        if ln.text:
            bits.append(_compact_text(ln.text, line_chars))
        if ln.sticker is not None:
            key = ln.sticker.key()
            bits.append(ln.sticker.render_compact(first=key not in seen_stickers))
            seen_stickers.add(key)
        if ln.media and not bits:
            bits.append(f"[{ln.media}]")
        if not bits:
            continue
        who = labels.get(ln.sender, ln.sender) or "?"
        body = " ".join(bits)
        if last_key == (who, body):
            repeat += 1
            lines[-1] = f"{who}: {body} (×{repeat})"
            continue
        if len(body) >= 24 and ln.sticker is None:
            if (who, body) in seen_long:
                continue
            seen_long.add((who, body))
        last_key, repeat = (who, body), 1
        lines.append(f"{who}: {body}")
    # only the P-labels go back: a first name in a summary reads fine, and "restoring" it could double a
    # full name the model took from the chat's title
    return Transcript(lines, {label: name for name, label in labels.items() if label != name and label[0] == "P"
                              and label[1:].isdigit()})


@dataclass
class Note:
    """What the summarizer produced for one session."""

    summary: str
    topics: list[str] = field(default_factory=list)
    mood: str = ""
    participants: list[str] = field(default_factory=list)
    language: str = ""
    model: str = ""
    chunks: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class SummaryError(RuntimeError):
    """The model gave no usable note for a session (the build reports it and moves on)."""


# --- language ------------------------------------------------------------------------------------
LANGUAGE_NAMES = {
    "zh": "Chinese (中文)", "ja": "Japanese (日本語)", "ko": "Korean (한국어)", "ru": "Russian (русский)",
    "uk": "Ukrainian (українська)", "ar": "Arabic (العربية)", "he": "Hebrew (עברית)", "el": "Greek (Ελληνικά)",
    "th": "Thai (ไทย)", "hi": "Hindi (हिन्दी)", "fa": "Persian (فارسی)",
    "en": "English", "de": "German (Deutsch)", "fr": "French (français)", "es": "Spanish (español)",
    "pt": "Portuguese (português)", "it": "Italian (italiano)", "nl": "Dutch (Nederlands)",
    "tr": "Turkish (Türkçe)", "pl": "Polish (polski)", "id": "Indonesian (Bahasa Indonesia)",
}

_STOPWORDS = {
    "en": "the and you to is it that of in for was are this with have what just but not so be my me we on at",
    "de": "und ich nicht das die der ist du es ein mit auch zu sie wir auf noch den hast bin",
    "fr": "je le la les et est pas tu de un une que des en vous il ça mais pour avec suis on",
    "es": "que de no la el es y en lo un por me una los con para se te pero está eso qué",
    "pt": "que não de um é eu uma você o do da em com para mas isso tá está vou",
    "it": "che di non il è la un per sono mi ma ho una con ti io questo anche sei",
    "nl": "de het een ik je niet is en dat van wat op ook maar met zijn heb",
    "tr": "bir ve bu da de ne için ben sen çok mi var yok ama gibi",
    "pl": "nie się to jest że na jak ale co mnie tak już jestem czy",
    "id": "yang dan di ini itu aku kamu tidak ada dengan ya juga saya",
}
_STOPSETS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}


def _script(ch: str) -> str | None:
    cp = ord(ch)
    if 0x3040 <= cp <= 0x30FF or 0x31F0 <= cp <= 0x31FF:
        return "kana"
    if 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F:
        return "hangul"
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x2FFFF:
        return "han"
    if 0x0400 <= cp <= 0x04FF:
        return "cyrillic"
    if 0x0600 <= cp <= 0x06FF:
        return "arabic"
    if 0x0590 <= cp <= 0x05FF:
        return "hebrew"
    if 0x0370 <= cp <= 0x03FF:
        return "greek"
    if 0x0E00 <= cp <= 0x0E7F:
        return "thai"
    if 0x0900 <= cp <= 0x097F:
        return "devanagari"
    if ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN"):
        return "latin"
    return None


def detect_language(texts: list[str] | str) -> str:
    """A language code from the scripts used (CJK counted per character) and, for Latin script, common
    words. Good enough to tell the summarizer which language to write in; "en" when unsure."""
    text = texts if isinstance(texts, str) else "\n".join(texts)
    counts: dict[str, int] = {}
    for ch in text:
        s = _script(ch)
        if s:
            counts[s] = counts.get(s, 0) + 1
    if not counts:
        return "en"
    # one CJK character carries about as much as a short Latin word: weight them up
    weighted = {s: n * (3 if s in ("han", "kana", "hangul") else 1) for s, n in counts.items()}
    top = max(weighted, key=weighted.get)
    if top in ("han", "kana"):
        return "ja" if counts.get("kana", 0) >= max(1, counts.get("han", 0) // 5) else "zh"
    if top == "hangul":
        return "ko"
    if top == "cyrillic":
        return "uk" if re.search(r"[їєіґ]", text.lower()) else "ru"
    if top == "arabic":
        return "fa" if re.search(r"[پچژگ]", text) else "ar"
    simple = {"hebrew": "he", "greek": "el", "thai": "th", "devanagari": "hi"}
    if top in simple:
        return simple[top]
    words = re.findall(r"[^\W\d_]+", text.lower())
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPSETS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] > 0 and scores[best] >= scores["en"] else "en"


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code or "English")


# --- prompts -------------------------------------------------------------------------------------
def load_prompt(name: str) -> str:
    return resources.files("assistant").joinpath(f"resources/prompts/{name}.txt").read_text(encoding="utf-8")


def _fill(template: str, **values: object) -> str:
    """str.format without choking on braces in chat text: only our {names} are replaced."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), template)


def _date_range(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return "unknown"
    if end is None or end.date() == start.date():
        return f"{start:%Y-%m-%d %H:%M}" + (f"–{end:%H:%M}" if end else "")
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


# --- summarizer ----------------------------------------------------------------------------------
class Summarizer:
    """Turns a `Session` into a `Note` with any `ChatLLM` (local llama.cpp or a remote endpoint)."""

    def __init__(self, llm: ChatLLM, settings: GenerationSettings = DEFAULT_SETTINGS) -> None:
        self.llm = llm
        self.settings = settings
        self.schema = note_schema(settings)
        self._prompts = {n: load_prompt(n) for n in ("summarize_system", "summarize_user", "merge_system",
                                                     "merge_user")}

    def summarize(self, session: Session) -> Note:
        transcript = compact_transcript(session, self.settings.line_chars)
        lines = transcript.lines
        if not lines:
            raise SummaryError(f"session {session.session_id} has no messages to summarize")
        lang = detect_language([ln.text for ln in session.lines if ln.text] or lines)
        note = Note(summary="", language=lang, model=getattr(self.llm, "name", ""))
        chunks = self._chunk(lines, session, lang)
        notes: list[dict] = []
        for i, chunk in enumerate(chunks, 1):
            part = f"Part {i} of {len(chunks)} of the conversation.\n" if len(chunks) > 1 else ""
            user = _fill(self._prompts["summarize_user"], chat=session.chat_name or "chat",
                         date=session.date_line(), part=part, count=len(chunk),
                         transcript="\n".join(chunk), language=language_name(lang))
            notes.append(self._ask("summarize_system", user, lang, note))
        if len(notes) > 1:
            merged = self._merge(notes, session, lang, note)
        else:
            merged = notes[0]
        note.chunks = len(chunks)
        merged["summary"] = transcript.restore(str(merged.get("summary", "")))
        merged["topics"] = [transcript.restore(str(t)) for t in merged.get("topics") or []]
        self._finish(note, merged, session)
        return note

    # --- internals ---------------------------------------------------------------------------
    def _budget(self, lang: str) -> int:
        """Prompt tokens left for the transcript once the instructions and the answer are counted."""
        system = _fill(self._prompts["summarize_system"], language=language_name(lang))
        frame = _fill(self._prompts["summarize_user"], chat="x" * 30, date="2000-01-01 00:00 – 2000-01-01 00:00",
                      part="Part 10 of 10 of the conversation.\n", count=1000, transcript="",
                      language=language_name(lang))
        overhead = self.llm.count_tokens(system) + self.llm.count_tokens(frame) + 40  # chat template tokens
        return self.llm.n_ctx - overhead - self.settings.max_tokens - 16

    def _chunk(self, lines: list[str], session: Session, lang: str) -> list[list[str]]:
        budget = self._budget(lang)
        if budget < 64:
            raise SummaryError(f"the model's context ({self.llm.n_ctx} tokens) is too small for the instructions")
        chunks: list[list[str]] = [[]]
        used = 0
        for line in lines:
            n = self.llm.count_tokens(line) + 1
            if n > budget:  # one huge message: keep its start
                line = line[: max(20, len(line) * budget // (2 * n))]
                n = self.llm.count_tokens(line) + 1
            if used + n > budget and chunks[-1]:
                chunks.append([])
                used = 0
            chunks[-1].append(line)
            used += n
        return chunks

    def _merge(self, notes: list[dict], session: Session, lang: str, note: Note) -> dict:
        """Merge chunk notes, in groups that fit the context, until one is left."""
        while len(notes) > 1:
            rendered = [f"{i}. {n.get('summary', '')} (topics: {', '.join(n.get('topics') or [])}; "
                        f"mood: {n.get('mood', '')})" for i, n in enumerate(notes, 1)]
            budget = self._budget(lang)
            groups: list[list[str]] = [[]]
            used = 0
            for r in rendered:
                n = self.llm.count_tokens(r) + 1
                if used + n > budget and groups[-1]:
                    groups.append([])
                    used = 0
                groups[-1].append(r)
                used += n
            if len(groups) == len(notes):  # nothing combines: each note alone fills the context
                groups = [groups[i:i + 2] for i in range(0, len(groups), 2)]
                groups = [[x for g in pair for x in g] for pair in groups]
            merged = []
            for group in groups:
                user = _fill(self._prompts["merge_user"], chat=session.chat_name or "chat",
                             date=session.date_line(), count=len(group),
                             notes="\n".join(group), language=language_name(lang))
                merged.append(self._ask("merge_system", user, lang, note))
            notes = merged
        return notes[0]

    def _ask(self, system_name: str, user: str, lang: str, note: Note) -> dict:
        system = _fill(self._prompts[system_name], language=language_name(lang))
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        last_error = ""
        for attempt in range(2):  # a second, slightly warmer try when the first answer is unusable
            try:
                out = self.llm.chat(messages, max_tokens=self.settings.max_tokens,
                                    temperature=self.settings.temperature + 0.3 * attempt,
                                    repeat_penalty=self.settings.repeat_penalty, json_schema=self.schema,
                                    seed=attempt)
            except LLMError:
                raise
            note.prompt_tokens += out.prompt_tokens
            note.completion_tokens += out.completion_tokens
            note.seconds += out.seconds
            data = parse_note(out.text)
            if data and data.get("summary", "").strip():
                return data
            last_error = f"unusable answer: {out.text[:120]!r}"
        raise SummaryError(last_error)

    def _finish(self, note: Note, data: dict, session: Session) -> None:
        note.summary = dedupe_sentences(str(data.get("summary", "")))
        line = sticker_line(session, note.language)
        if line and not _mentions_stickers(note.summary, session):
            gap = "" if note.language in ("zh", "ja") else " "
            note.summary = f"{note.summary}{gap}{line}".strip()
        topics = []
        for t in data.get("topics") or []:
            t = " ".join(str(t).split()).strip(" .,;")
            if t and t.lower() not in {x.lower() for x in topics}:
                topics.append(t)
        note.topics = topics[: self.settings.max_topics]
        note.mood = " ".join(str(data.get("mood", "")).split()).strip(" .")
        note.participants = session.senders


_STICKER_LABEL = {"zh": "表情包", "ja": "スタンプ", "ko": "스티커", "ru": "Стикеры", "uk": "Стікери",
                  "de": "Sticker", "fr": "Autocollants", "es": "Stickers", "pt": "Figurinhas", "it": "Sticker",
                  "nl": "Stickers", "en": "Stickers sent"}


def sticker_line(session: Session, language: str = "en") -> str:
    """The stickers of a session, said plainly: the small model often leaves them out, and IGSR's
    memories are multi-modal precisely because of them. Attributes come from the catalog."""
    seen: dict[str, list[str]] = {}
    for ln in session.lines:
        if ln.sticker is None:
            continue
        st = ln.sticker
        label = " ".join(p for p in (st.emoji, f'"{st.words}"' if st.words else "",
                                     f"({_clip(st.description, 60)})" if st.description else "") if p)
        label = label or st.name or "?"
        who = seen.setdefault(label, [])
        if ln.sender and ln.sender not in who:
            who.append(ln.sender)
    if not seen:
        return ""
    items = [f"{label} – {', '.join(who)}" if who else label for label, who in list(seen.items())[:6]]
    sep = "；" if language in ("zh", "ja") else "; "
    end = "。" if language in ("zh", "ja") else "."
    colon = "：" if language in ("zh", "ja") else ": "
    return f"{_STICKER_LABEL.get(language, _STICKER_LABEL['en'])}{colon}{sep.join(items)}{end}"


def _mentions_stickers(summary: str, session: Session) -> bool:
    low = summary.lower()
    for ln in session.lines:
        st = ln.sticker
        if st is None:
            continue
        if (st.emoji and st.emoji in summary) or (st.words and st.words.lower() in low):
            return True
    return False


def parse_note(text: str) -> dict | None:
    """The model's JSON, or what can be salvaged from a truncated answer."""
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
        return data if isinstance(data, dict) else None
    except ValueError:
        pass
    m = re.search(r'"summary"\s*:\s*"((?:[^"\\]|\\.)*)', text)
    if not m:
        return None
    try:
        summary = json.loads(f'"{m.group(1)}"')
    except ValueError:
        summary = m.group(1)
    return {"summary": summary, "topics": [], "mood": "", "participants": []}


_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")


def dedupe_sentences(text: str) -> str:
    """Drop sentences the small model repeated verbatim (it sometimes loops)."""
    seen: set[str] = set()
    out = []
    for s in _SENTENCE.split(" ".join(text.split())):
        key = re.sub(r"\W+", "", s.lower())
        if not s or key in seen:
            continue
        seen.add(key)
        out.append(s)
    joiner = "" if any(_script(c) in ("han", "kana") for c in text[:50]) else " "
    return joiner.join(out).strip()


def _clip(text: str, n: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"
