"""SIGKILL a real CLI job at spread-out moments, then check the data dir is whole and that re-running
the job completes it. Used by test_crash_safety.py (a few kill points) and bench_crash.py (many)."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.reliability.harness import run_and_kill, run_cli

CHATS = 30
MESSAGES_PER_CHAT = 2000  # ~1 s of import work, so kills land mid-run
STICKERS = 120


@dataclass
class CrashResult:
    job: str
    tried: int = 0
    killed: int = 0
    survived: int = 0
    failures: list[str] = field(default_factory=list)


def make_chats(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for c in range(CHATS):
        lines = []
        for i in range(MESSAGES_PER_CHAT):
            day = 1 + (i // 100)
            h, m = divmod(i % 100, 60)
            who = "Pat" if i % 2 else "Me"
            lines.append(f"{day:02d}/03/2024, {10 + h:02d}:{m:02d} - {who} {c}: message {i} of chat {c}")
        (folder / f"WhatsApp Chat with Pat {c}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def make_stickers(folder: Path) -> Path:
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(STICKERS):
        im = Image.new("RGBA", (256, 256), (i * 2 % 256, 255 - i * 2 % 256, (i * 7) % 256, 255))
        d = ImageDraw.Draw(im)
        d.ellipse((20 + i % 50, 20, 200, 230 - i % 40), fill=((i * 13) % 256, 40, 90, 255))
        d.text((30, 110), f"sticker {i}", fill=(255, 255, 255, 255))
        im.save(folder / f"s{i:03d}.png")
    return folder


def _open_whole(data: Path, complete: bool) -> tuple[sqlite3.Connection | None, list[str]]:
    """The catalog if it exists and passes integrity_check; else the problems (none when a kill came
    before anything was written and the job is not yet expected to be complete)."""
    if not (data / "catalog.sqlite3").exists():
        return None, (["nothing imported after re-run"] if complete else [])
    conn = sqlite3.connect(data / "catalog.sqlite3")
    if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
        conn.close()
        return None, ["integrity_check failed"]
    return conn, []


def check_chats(data: Path, complete: bool) -> list[str]:
    conn, problems = _open_whole(data, complete)
    if conn is None:
        return problems
    try:
        rows = conn.execute("SELECT c.id, c.name, COUNT(m.id), SUM(m.session_id IS NULL) FROM chats c "
                            "LEFT JOIN messages m ON m.chat_id=c.id GROUP BY c.id").fetchall()
        for cid, name, n, unsessioned in rows:
            if n != MESSAGES_PER_CHAT:
                problems.append(f"chat {name!r} half-imported: {n} of {MESSAGES_PER_CHAT} messages")
            if unsessioned:
                problems.append(f"chat {name!r}: {unsessioned} messages without a session")
        if complete and len(rows) != CHATS:
            problems.append(f"{len(rows)} chats after re-run, expected {CHATS}")
    finally:
        conn.close()
    return problems


def check_stickers(data: Path, complete: bool) -> list[str]:
    conn, problems = _open_whole(data, complete)
    if conn is None:
        return problems
    try:
        rows = conn.execute("SELECT id, sha256, fmt FROM stickers").fetchall()
        for sid, sha, fmt in rows:
            f = data / "stickers" / sha[:2] / f"{sha}.{fmt}"
            if not f.exists():
                problems.append(f"sticker {sid}: file missing")
            elif hashlib.sha256(f.read_bytes()).hexdigest() != sha:
                problems.append(f"sticker {sid}: file content does not match its hash")
        if complete and len(rows) != STICKERS:
            problems.append(f"{len(rows)} stickers after re-run, expected {STICKERS}")
    finally:
        conn.close()
    return problems


def make_dataset(folder: Path) -> Path:
    """A small benchmark-format dataset (DESIGN.md) whose answers are learnable from the words."""
    import json
    import random

    folder.mkdir(parents=True, exist_ok=True)
    topics = [("thanks", "THANK YOU", "gratitude", ["thank you so much", "thanks a lot", "really appreciate it"]),
              ("lol", "LOL", "amusement", ["that is hilarious", "haha so funny", "you made me laugh"]),
              ("sorry", "SORRY", "remorse", ["I am so sorry", "my apologies", "sorry I was late"]),
              ("love", "LOVE YOU", "love", ["love you", "you are the best", "miss you so much"]),
              ("wow", "WOW", "surprise", ["no way", "I can't believe it", "that is amazing"])]
    with open(folder / "stickers.jsonl", "w", encoding="utf-8") as fh:
        for sid, words, intent, _ in topics:
            fh.write(json.dumps({"id": sid, "text": words, "intent": intent}) + "\n")
    rng = random.Random(0)
    with open(folder / "samples.jsonl", "w", encoding="utf-8") as fh:
        for i in range(400):
            sid, _, intent, lines = topics[i % len(topics)]
            split = "train" if i < 300 else ("valid" if i < 350 else "test")
            text = f"{rng.choice(lines)} {rng.choice(['!', '', ' today', ' buddy'])}"
            fh.write(json.dumps({"id": f"s{i}", "split": split, "context": [{"speaker": "a", "text": text}],
                                 "sticker": sid, "intent": intent}) + "\n")
    return folder


def check_training(data: Path, complete: bool, out: Path | None = None) -> list[str]:
    """The checkpoint is either absent (before the first save) or loads; never half-written."""
    from assistant.ml.igsr import load_checkpoint

    problems = []
    if out is not None and out.exists():
        try:
            load_checkpoint(out)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"checkpoint unreadable after kill: {type(exc).__name__}: {exc}")
    elif complete:
        problems.append("no checkpoint after re-run")
    return problems


def check_memories(data: Path, complete: bool) -> list[str]:
    """SQLite and Chroma agree on the memories (after `memory reindex` when a kill split them)."""
    import chromadb
    from chromadb.config import Settings

    conn, problems = _open_whole(data, complete=False)
    if conn is None:
        return problems
    try:
        in_sql = {r[0] for r in conn.execute("SELECT session_id FROM memories")}
        from assistant.memory.memories import MIN_MESSAGES

        sessions = conn.execute("SELECT COUNT(*) FROM sessions s WHERE (SELECT COUNT(*) FROM messages m WHERE "
                                "m.session_id=s.id AND m.is_system=0) >= ?", (MIN_MESSAGES,)).fetchone()[0]
    finally:
        conn.close()
    if (data / "chroma").exists():
        client = chromadb.PersistentClient(path=str(data / "chroma"), settings=Settings(anonymized_telemetry=False))
        try:
            in_chroma = {int(i.rsplit("-", 1)[-1]) for i in client.get_collection("memories").get(include=[])["ids"]}
        except Exception:  # noqa: BLE001 - no collection yet
            in_chroma = set()
    else:
        in_chroma = set()
    if in_sql != in_chroma:
        res = run_cli(data, "memory", "reindex")
        if res.returncode != 0:
            problems.append(f"memory reindex failed: {res.stderr[-300:]}")
        else:
            return check_memories(data, complete)
    if complete and not in_sql:
        problems.append("no memory was built at all")
    if complete and len(in_sql) != sessions:
        problems.append(f"{len(in_sql)} memories after re-run for {sessions} sessions")
    return problems


def _duration(data: Path, args: list[str]) -> float:
    t0 = time.monotonic()
    res = run_cli(data, *args)
    if res.returncode != 0:
        raise RuntimeError(f"{args} failed: {res.stdout[-800:]}{res.stderr[-800:]}")
    return time.monotonic() - t0


def crash_job(tmp: Path, job: str, kill_points: int) -> CrashResult:
    """Measure the job's full duration once, then kill fresh runs at points spread over it."""
    if job == "chat-import":
        src = make_chats(tmp / "chats")
        args = ["import", str(src)]
        check = check_chats
    elif job == "sticker-import":
        src = make_stickers(tmp / "stickers-in")
        args = ["library", "add", str(src), "--no-describe"]
        check = check_stickers
    elif job == "training":
        src = make_dataset(tmp / "dataset")
        ckpt = tmp / "head.pt"
        args = ["train", "--dataset", str(src), "--epochs", "40", "--out", str(ckpt)]

        def check(data, complete, _ckpt=ckpt):
            return check_training(data, complete, _ckpt)
    elif job == "memory-build":
        chat = tmp / "WhatsApp Chat with Pat.txt"
        chat.write_text("".join(
            f"0{d}/03/2024, 10:0{h} - {'Pat' if h % 2 else 'Me'}: {t}\n"
            for d, day in enumerate([["shall we get pizza tonight", "yes pepperoni please", "8pm at Luigi's"],
                                     ["my cat knocked over the plant", "oh no is the cat ok", "she is fine, proud"],
                                     ["exam results are out", "I passed chemistry!", "congratulations!!"]], 1)
            for h, t in enumerate(day)), encoding="utf-8")
        prep = run_cli(tmp / "reference", "import", str(chat))
        if prep.returncode:
            raise RuntimeError(prep.stderr[-500:])
        args = ["memory", "build"]
        check = check_memories
    else:
        raise ValueError(job)
    startup = _duration(tmp / "startup", ["models", "list"])  # interpreter + imports, nothing written
    full = _duration(tmp / "reference", args)
    work = max(0.2, full - startup)
    result = CrashResult(job)
    for i in range(kill_points):
        data = tmp / f"{job}-{i}"
        if job == "memory-build":
            run_cli(data, "import", str(tmp / "WhatsApp Chat with Pat.txt"))
        if job == "training" and (tmp / "head.pt").exists():
            (tmp / "head.pt").unlink()
        # each data dir is killed twice, so recovery from an already-interrupted state is tested too
        for frac in ((i + 0.5) / kill_points, (i + 0.8) / kill_points):
            result.tried += 1
            killed = run_and_kill(data, args, delay=startup + work * frac)
            result.killed += killed
            problems = check(data, complete=False)
            if problems:
                result.failures.append(f"kill at {frac:.0%}: " + "; ".join(problems[:3]))
                continue
            result.survived += 1
        res = run_cli(data, *(args + (["--resume"] if job == "training" else [])))
        problems = (["re-run failed: " + res.stderr[-300:]] if res.returncode else []) + check(data, complete=True)
        if problems:
            result.failures.append(f"after re-run {i}: " + "; ".join(problems[:3]))
    return result
