"""The benchmark dataset format of DESIGN.md, and a dataset built from the user's own history.

A directory with `stickers.jsonl`, `samples.jsonl` and optionally `sessions.jsonl` (see DESIGN.md).
Loading checks every line and reports the first problem as `file:line: what is wrong`, so a broken
dataset never becomes a half-read one.

`from_history(app)` turns the catalog into the same shape: every sticker the user sent (with the
messages before it) is a sample; samples are split by time (earlier → train, the latest share →
test), which is the honest way to measure "does it learn from what I did before".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


class DatasetError(ValueError):
    """A dataset file that cannot be used, with the file and line that say why."""


@dataclass
class BenchSticker:
    id: str
    image: Path | None = None
    text: str = ""
    emoji: str | None = None
    intent: str | None = None
    style: str | None = None
    tags: list[str] = field(default_factory=list)
    description: str = ""


@dataclass
class Turn:
    speaker: str = ""
    text: str = ""
    sticker: str | None = None
    time: float | None = None


@dataclass
class Sample:
    id: str
    split: str
    context: list[Turn]
    sticker: str
    speaker: str | None = None
    intent: str | None = None
    history: list[str] = field(default_factory=list)
    time: float | None = None


@dataclass
class Dataset:
    name: str
    stickers: list[BenchSticker]
    samples: list[Sample]
    sessions: dict[str, list[Turn]] = field(default_factory=dict)
    root: Path | None = None

    def __post_init__(self) -> None:
        self.index = {s.id: i for i, s in enumerate(self.stickers)}
        self.by_id = {s.id: s for s in self.stickers}

    def split(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.split == name]

    @property
    def splits(self) -> list[str]:
        return sorted({s.split for s in self.samples})

    def eval_split(self) -> str:
        """The split to report on: test when present, else valid."""
        names = self.splits
        for n in ("test", "valid"):
            if n in names:
                return n
        raise DatasetError(f"{self.name}: no 'test' or 'valid' samples to evaluate on")

    def turn_text(self, turn: Turn) -> str:
        """A context turn as words: its text, or the sticker rendered as its words/emoji."""
        if turn.text:
            return turn.text
        if turn.sticker and turn.sticker in self.by_id:
            st = self.by_id[turn.sticker]
            return st.text or st.emoji or "[sticker]"
        return ""

    def context_texts(self, sample: Sample) -> list[str]:
        return [t for t in (self.turn_text(x) for x in sample.context) if t]

    def memory_texts(self, sample: Sample, max_sessions: int = 3) -> list[str]:
        """The sample's past sessions (its `history`) as text, most recent last."""
        out = []
        for sid in sample.history[-max_sessions:]:
            turns = self.sessions.get(sid, [])
            out.append("\n".join(t for t in (self.turn_text(x) for x in turns) if t))
        return [m for m in out if m]

    def intents(self) -> list[str]:
        return sorted({s.intent for s in self.stickers if s.intent} | {s.intent for s in self.samples if s.intent})


def _read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    rows = []
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot open ({exc.strerror})") from exc
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DatasetError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
            missing = [k for k in required if k not in row]
            if missing:
                raise DatasetError(f"{path}:{n}: missing field(s) {', '.join(missing)}")
            row["_line"] = n
            rows.append(row)
    return rows


def _time(value) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def _turn(d, where: str) -> Turn:
    if not isinstance(d, dict):
        raise DatasetError(f"{where}: a context turn must be an object")
    st = d.get("sticker")
    return Turn(speaker=str(d.get("speaker") or ""), text=str(d.get("text") or ""),
                sticker=None if st is None else str(st), time=_time(d.get("time")))


def load(path: Path | str) -> Dataset:
    """Load a benchmark directory, checking ids and references."""
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory (expected stickers.jsonl and samples.jsonl inside)")
    st_path, sa_path, se_path = root / "stickers.jsonl", root / "samples.jsonl", root / "sessions.jsonl"
    for p in (st_path, sa_path):
        if not p.exists():
            raise DatasetError(f"{p}: missing (a benchmark directory needs stickers.jsonl and samples.jsonl)")
    stickers = []
    seen: set[str] = set()
    for r in _read_jsonl(st_path, ("id",)):
        sid = str(r["id"])
        if sid in seen:
            raise DatasetError(f"{st_path}:{r['_line']}: duplicate sticker id {sid!r}")
        seen.add(sid)
        tags = r.get("tags") or []
        if not isinstance(tags, list):
            raise DatasetError(f"{st_path}:{r['_line']}: 'tags' must be a list")
        stickers.append(BenchSticker(
            id=sid, image=(root / r["image"]) if r.get("image") else None, text=str(r.get("text") or ""),
            emoji=r.get("emoji") or None, intent=r.get("intent") or None, style=r.get("style") or None,
            tags=[str(t) for t in tags], description=str(r.get("description") or "")))
    sessions: dict[str, list[Turn]] = {}
    if se_path.exists():
        for r in _read_jsonl(se_path, ("id", "utterances")):
            where = f"{se_path}:{r['_line']}"
            if not isinstance(r["utterances"], list):
                raise DatasetError(f"{where}: 'utterances' must be a list")
            sessions[str(r["id"])] = [_turn(u, where) for u in r["utterances"]]
    samples = []
    for r in _read_jsonl(sa_path, ("id", "split", "context", "sticker")):
        where = f"{sa_path}:{r['_line']}"
        if str(r["sticker"]) not in seen:
            raise DatasetError(f"{where}: sticker {r['sticker']!r} is not in stickers.jsonl")
        if r["split"] not in ("train", "valid", "test"):
            raise DatasetError(f"{where}: split must be train, valid or test (got {r['split']!r})")
        if not isinstance(r["context"], list):
            raise DatasetError(f"{where}: 'context' must be a list of turns")
        context = [_turn(c, where) for c in r["context"]]
        times = [t.time for t in context if t.time is not None]
        samples.append(Sample(id=str(r["id"]), split=r["split"], context=context, sticker=str(r["sticker"]),
                              speaker=r.get("speaker"), intent=r.get("intent") or None,
                              history=[str(h) for h in r.get("history") or []],
                              time=max(times) if times else None))
    if not samples:
        raise DatasetError(f"{sa_path}: no samples")
    return Dataset(name=root.name, stickers=stickers, samples=samples, sessions=sessions, root=root)


def from_history(app, me: str | None = None, test_frac: float = 0.2, context_turns: int = 6,
                 min_samples: int = 10) -> Dataset:
    """A dataset from the user's imported chats: each sticker the user sent, with up to
    `context_turns` earlier messages of its session (chats/sessions.context_before), split by time
    (latest `test_frac` → test)."""
    from assistant.chats.sessions import context_before, sticker_sends

    conn = app.catalog.conn
    stickers = [BenchSticker(id=str(s.id), image=s.path, text=s.ocr_text or "", emoji=s.emoji, intent=_intent(s),
                             style=s.style, tags=list(s.tags), description=s.description or "")
                for s in app.catalog.stickers(stickers_dir=app.config.stickers_dir)]
    samples: list[Sample] = []
    for row in sticker_sends(conn, me):
        context = [Turn(speaker=p["sender"], text=p["text"] or "",
                        sticker=str(p["sticker_id"]) if p["sticker_id"] is not None else None, time=p["time"])
                   for p in context_before(conn, row, context_turns)]
        if not any(t.text or t.sticker for t in context):
            continue
        samples.append(Sample(id=f"msg-{row['id']}", split="train", context=context,
                              sticker=str(row["sticker_id"]), speaker=row["sender"], time=row["time"]))
    if len(samples) < min_samples:
        raise DatasetError(f"your history has {len(samples)} stickers you sent with messages before them; "
                           f"at least {min_samples} are needed to build an evaluation (import more chats)")
    n_test = max(1, int(round(len(samples) * test_frac))) if test_frac > 0 else 0
    for s in samples[len(samples) - n_test:]:
        s.split = "test"
    by_intent = {s.id: s.intent for s in stickers}
    for s in samples:
        s.intent = by_intent.get(s.sticker)
    return Dataset(name="history", stickers=stickers, samples=samples)


def _intent(sticker) -> str | None:
    """A sticker's intent as the app reads it: its label, else its emoji's (ml/emoji_intents.py), so a
    sticker the user never labelled still counts by intent, as the IGSR head was trained on it."""
    from assistant.ml.emoji_intents import intent_for_emoji

    return sticker.intent or intent_for_emoji(sticker.emoji)
