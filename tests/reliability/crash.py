"""SIGKILL a real CLI job at spread-out moments, then check the data dir is whole and that re-running
the job completes it. Used by test_crash_safety.py (a few kill points) and bench_crash.py (many)."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.reliability.harness import run_and_kill, run_cli

CHATS = 12
MESSAGES_PER_CHAT = 300
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


def check_chats(data: Path, complete: bool) -> list[str]:
    problems = []
    if not (data / "catalog.sqlite3").exists():
        return ["nothing imported after re-run"] if complete else []  # killed before anything was written
    conn = sqlite3.connect(data / "catalog.sqlite3")
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            return ["integrity_check failed"]
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
    problems = []
    if not (data / "catalog.sqlite3").exists():
        return ["nothing imported after re-run"] if complete else []  # killed before anything was written
    conn = sqlite3.connect(data / "catalog.sqlite3")
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            return ["integrity_check failed"]
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
    else:
        raise ValueError(job)
    startup = _duration(tmp / "startup", ["models", "list"])  # interpreter + imports, nothing written
    full = _duration(tmp / "reference", args)
    work = max(0.2, full - startup)
    result = CrashResult(job)
    for i in range(kill_points):
        data = tmp / f"{job}-{i}"
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
        res = run_cli(data, *args)
        problems = (["re-run failed: " + res.stderr[-300:]] if res.returncode else []) + check(data, complete=True)
        if problems:
            result.failures.append(f"after re-run {i}: " + "; ".join(problems[:3]))
    return result
