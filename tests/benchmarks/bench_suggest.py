"""Suggest latency (cold and warm) and peak RSS over a large synthetic library.

The library is built directly in the catalog and Chroma (no OCR, no images): 10,000 stickers (1,000
in quick mode) whose text vectors are real e5 passage vectors of ~120 sticker captions plus a little
noise, a chat in which the user sent stickers after real-looking contexts (the preference memory's
input), and memories when the memory bank module is present. The measurement runs in a fresh
process so "cold" really is cold and the peak RSS is the suggester's alone.

Goals (issue 7): warm p50 ≤ 100 ms, p95 ≤ 250 ms for a 20-message context over 10,000 stickers;
peak RSS ≤ 1.5 GB with the default models loaded.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.common import percentile, run_isolated, table  # noqa: E402

CAPTIONS = [
    ("THANK YOU", "🙏"), ("THANKS SO MUCH", "🙏"), ("LOL", "😂"), ("HAHAHA", "🤣"), ("OK", "👌"), ("YES", "👍"),
    ("NO WAY", "🙅"), ("SORRY", "😔"), ("WOW", "😮"), ("LOVE YOU", "❤️"), ("GOOD NIGHT", "😴"),
    ("CONGRATS", "🎉"), ("WHAT?", "❓"), ("HUGS", "🤗"), ("SO ANGRY", "😠"), ("SAD", "😢"), ("YUMMY", "😋"),
    ("LET'S GO", "🙌"), ("PHEW", "😅"), ("HMM", "🤔"), ("哈哈", "😂"), ("谢谢", "🙏"), ("晚安", "😴"),
    ("加油", "💪"), ("好的", "👌"), ("GOOD MORNING", "😊"), ("SEE YOU", "👋"), ("MISS YOU", "🥺"),
    ("I'M DONE", "😩"), ("BORED", "🥱"), ("COFFEE?", "☕"), ("PARTY", "🥳"), ("RIP", "💀"), ("NOPE", "👎"),
    ("FACEPALM", "🤦"), ("OMG", "😱"), ("YAY", "🥳"), ("CUTE", "🥰"), ("GROSS", "🤢"), ("SHY", "🙈"),
    ("GET WELL SOON", "🤒"), ("HAPPY BIRTHDAY", "🎂"), ("WELL DONE", "👏"), ("ON MY WAY", "🏃"), ("BRB", "⏳"),
    ("WHY", "😕"), ("NICE", "😎"), ("COOL", "😎"), ("BYE", "👋"), ("HELLO", "👋"), ("ARE YOU SERIOUS", "🤨"),
    ("I KNOW RIGHT", "😏"), ("TRUE", "💯"), ("FIGHTING", "💪"), ("CALM DOWN", "😌"), ("SLEEPY", "😪"),
    ("HUNGRY", "🤤"), ("WAITING", "⌛"), ("HELP", "🆘"), ("PLEASE", "🥺"), ("無語", "😑"), ("厉害", "👍"),
    ("生气", "😠"), ("开心", "😄"), ("难过", "😢"), ("辛苦了", "🙏"), ("早安", "☀️"), ("抱抱", "🤗"),
]
CONTEXT_LINES = [
    "I picked up your parcel for you", "thanks for the dinner last night", "did you hear the one about the cat?",
    "are we still meeting at 8?", "I got the job!!", "my flight got cancelled", "good night, talk tomorrow",
    "can you send me the photos?", "the train is late again", "I made cookies for everyone",
    "what do you think about the new place?", "happy birthday!!", "I passed the exam", "that meme was hilarious",
    "I'm so tired today", "let's grab coffee tomorrow", "my cat knocked over the plant again",
    "we won the match!", "I lost my keys", "see you at the party", "今天好累啊", "明天见", "哈哈哈太好笑了",
    "谢谢你帮我", "我们去吃饭吧", "the meeting got moved to Friday", "I fixed your bike", "it is raining again",
]


def build_library(data_dir: Path, n: int, sends: int, seed: int = 0) -> dict:
    """Bulk-insert n stickers with text vectors, a chat with `sends` sticker sends, and memories."""
    import numpy as np

    from assistant.app import App
    from assistant.library.catalog import now
    from assistant.memory.bank import STICKER_TEXTS
    from assistant.ml.emoji_intents import intent_for_emoji

    rng = np.random.default_rng(seed)
    app = App(data_dir=data_dir)
    t0 = time.perf_counter()
    captions = [f"{w} · {e}" for w, e in CAPTIONS]
    base = app.embedder.passage(captions)
    conn = app.catalog.conn
    ids, vecs, metas = [], [], []
    with app.catalog.transaction() as tx:
        for i in range(n):
            c = i % len(CAPTIONS)
            word, emoji = CAPTIONS[c]
            cur = tx.execute(
                "INSERT INTO stickers(sha256, fmt, width, height, emoji, pack, ocr_text, intent, favourite, hidden,"
                " added_at, indexed_at, described_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (f"{i:064x}", "webp", 512, 512, emoji, f"pack {i // 30}", word, intent_for_emoji(emoji),
                 int(i % 97 == 0), int(i % 53 == 0), now(), now(), now()))
            sid = cur.lastrowid
            v = base[c] + rng.normal(0, 0.015, base.shape[1]).astype(np.float32)
            ids.append(str(sid))
            vecs.append(v / np.linalg.norm(v))
            metas.append({"sticker_id": sid, "hidden": bool(i % 53 == 0), "favourite": bool(i % 97 == 0),
                          "pack": f"pack {i // 30}"})
        chat = tx.execute("INSERT INTO chats(platform, source_id, name, me, imported_at) VALUES('bench','b1',"
                          "'Sam','Alex',?)", (now(),)).lastrowid
        t = 1.7e9
        session = None
        for j in range(sends):
            if j % 5 == 0:
                session = tx.execute("INSERT INTO sessions(chat_id, start, end) VALUES(?,?,?)",
                                     (chat, t, t + 600)).lastrowid
            for m in range(3):
                t += 30
                line = CONTEXT_LINES[int(rng.integers(len(CONTEXT_LINES)))]
                tx.execute("INSERT INTO messages(chat_id, session_id, dedupe_key, time, sender, is_me, text)"
                           " VALUES(?,?,?,?,?,?,?)", (chat, session, f"{j}-{m}", t, "Sam", 0, line))
            sid = int(ids[int(rng.integers(min(n, 400)))])
            ref = tx.execute("INSERT INTO sticker_refs(platform, key, id_kind, sticker_id) VALUES('bench',?,"
                             "'platform',?) ON CONFLICT(platform, key) DO UPDATE SET sticker_id=excluded.sticker_id"
                             " RETURNING id", (str(sid), sid)).fetchone()[0]
            t += 30
            tx.execute("INSERT INTO messages(chat_id, session_id, dedupe_key, time, sender, is_me, sticker_ref_id)"
                       " VALUES(?,?,?,?,?,?,?)", (chat, session, f"{j}-s", t, "Alex", 1, ref))
    app.bank.upsert(STICKER_TEXTS, ids, np.asarray(vecs), metas)
    n_mem = _add_memories(app, chat, rng)
    info = {"build_s": time.perf_counter() - t0, "memories": n_mem,
            "messages": conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]}
    app.close()
    return info


def _add_memories(app, chat_id: int, rng) -> int:
    """Memories written through the memory module's own `save` (summaries given, no LLM)."""
    try:
        from assistant.memory import memories as mm
    except ImportError:
        return 0
    from assistant.domain import Memory

    sessions = [r[0] for r in app.catalog.conn.execute("SELECT id FROM sessions WHERE chat_id=?", (chat_id,))]
    for s in sessions:
        line = CONTEXT_LINES[int(rng.integers(len(CONTEXT_LINES)))]
        mm.save(app, Memory(session_id=s, chat_id=chat_id, mood="cheerful", topics=["plans", "jokes"],
                            participants=["Sam", "Alex"],
                            summary=f"Sam and Alex talk about: {line}. Alex answers with a sticker."))
    return len(sessions)


CHILD = r"""
import json, time, statistics, sys
sys.path.insert(0, {repo!r})
t0 = time.perf_counter()
from assistant.app import App
from assistant.domain import Utterance
from assistant.retrieval.suggest import Suggester
from tests.benchmarks.bench_suggest import CONTEXT_LINES
app = App(data_dir={data_dir!r})
s = Suggester(app)
def conv(i):
    lines = [CONTEXT_LINES[(i * 7 + j) % len(CONTEXT_LINES)] for j in range(19)]
    lines.append(f"{{CONTEXT_LINES[i % len(CONTEXT_LINES)]}} (message {{i}})")
    return [Utterance("Sam" if j % 2 else "Alex", t) for j, t in enumerate(lines)]
warm_up = {{}}
if {warm}:
    t = time.perf_counter(); warm_up = s.warm(me="Alex"); warm_up["total"] = time.perf_counter() - t
t = time.perf_counter(); out = s.suggest(conv(0), k=8, me="Alex"); cold = time.perf_counter() - t
startup = time.perf_counter() - t0
for i in range(1, 3 if {calls} else 1):
    s.suggest(conv(i), k=8, me="Alex")
new, same, stages = [], [], {{}}
for i in range(3, 3 + ({n_queries} if {calls} else 0)):
    c = conv(i)
    t = time.perf_counter(); out = s.suggest(c, k=8, me="Alex"); new.append(time.perf_counter() - t)
    for k, v in s.last_timings.items():
        stages.setdefault(k, []).append(v)
    t = time.perf_counter(); s.suggest(c, k=8, me="Alex"); same.append(time.perf_counter() - t)
probe = []
for i in range(5):
    t = time.perf_counter(); app.embedder.query([f"thanks for the dinner last night {{i}}"]); probe.append(time.perf_counter() - t)
print(json.dumps({{"probe": statistics.median(probe), "cold": cold, "startup": startup, "new": new, "same": same,
                  "warm_up": warm_up,
                  "stages": {{k: statistics.median(v) for k, v in stages.items()}},
                  "features_off": s.features_off(), "k": len(out)}}))
"""


TRAIN = r"""
import json, sys, time
sys.path.insert(0, {repo!r})
from assistant.app import App
from assistant.ml.train import TrainOptions, train_history_and_save
app = App(data_dir={data_dir!r})
t = time.perf_counter()
result, data = train_history_and_save(app, TrainOptions(seed=0), me="Alex")
print(json.dumps({{"seconds": time.perf_counter() - t, "pairs": len(data)}}))
"""


def train_head(data_dir: Path) -> dict:
    """`train --from-history` on the bench library, in a fresh process: the Suggester then has reply
    intents and ranks by the exact-sticker score (the evaluated fused default's path)."""
    repo = str(Path(__file__).resolve().parents[2])
    return run_isolated(TRAIN.format(repo=repo, data_dir=str(data_dir)))


def measure(data_dir: Path, n_queries: int, warm: bool = False, calls: bool | None = None) -> dict:
    """One fresh process over `data_dir`. warm=True: `Suggester.warm()` first (the GUI's start: warm-up
    in a worker, then the user's first suggestion). calls: the `n_queries` warm calls after the first
    one (by default only without the warm-up)."""
    repo = str(Path(__file__).resolve().parents[2])
    calls = not warm if calls is None else calls
    return run_isolated(CHILD.format(repo=repo, data_dir=str(data_dir), n_queries=n_queries, warm=warm,
                                     calls=calls))


def run(quick: bool = False) -> str:
    n = 1_000 if quick else 10_000
    sends = 60 if quick else 300
    n_queries = 10 if quick else 40
    with tempfile.TemporaryDirectory(prefix="bench-suggest-") as tmp:
        info = build_library(Path(tmp) / "data", n, sends)
        first = measure(Path(tmp) / "data", n_queries, warm=True)  # first start: nothing cached yet
        r = measure(Path(tmp) / "data", n_queries)  # a later start without the warm-up; then warm calls
        w = measure(Path(tmp) / "data", n_queries, warm=True)  # a later start, as the GUI does it
        trained = train_head(Path(tmp) / "data")
        h = measure(Path(tmp) / "data", n_queries, warm=True, calls=True)  # with a trained IGSR head, warmed
    ms = lambda x: f"{x * 1000:.1f}"  # noqa: E731
    rows = [
        ["first start (nothing cached): warm-up (Suggester.warm)", ms(first["warm_up"]["total"]), "", ""],
        ["first start: first call after the warm-up", ms(first["cold"]), "", ""],
        ["later start, no warm-up: first call", ms(r["cold"]), "", ""],
        ["later start: warm-up (in a worker, as the GUI runs it)", ms(w["warm_up"]["total"]), "", ""],
        ["later start: first call after the warm-up", ms(w["cold"]), "", ""],
        ["warm, a new last message each call", ms(percentile(r["new"], 50)), ms(percentile(r["new"], 95)),
         len(r["new"])],
        ["warm, same context again (cached vector)", ms(percentile(r["same"], 50)), ms(percentile(r["same"], 95)),
         len(r["same"])],
        ["trained IGSR head (exact score, intent slots), after the warm-up: a new last message each call",
         ms(percentile(h["new"], 50)), ms(percentile(h["new"], 95)), len(h["new"])],
    ]
    stage_rows = [[k, ms(v), ms(h["stages"].get(k, float("nan")))] for k, v in r["stages"].items()]
    def steps(x):
        return ", ".join(f"{k} {v:.2f} s" for k, v in x["warm_up"].items() if k != "total")
    off = "; ".join(r["features_off"]) or "none"
    return "\n".join([
        "### Suggest latency and memory",
        f"{n:,} synthetic stickers (text vectors, {n // 53} hidden, {n // 97 + 1} favourites), a chat of "
        f"{info['messages']:,} messages with {sends} sticker sends, {info['memories']} memories; "
        "20-message context, k = 8; measured in a fresh process. Goal: warm p50 ≤ 100 ms, p95 ≤ 250 ms.",
        "",
        table(["case", "p50 ms", "p95 ms", "calls"], rows),
        "",
        table(["stage (median, new message)", "ms", "ms, trained head"], stage_rows),
        "",
        f"Peak RSS of the suggesting process: **{r['peak_rss_mb']:.0f} MB** (goal ≤ 1,500 MB); process start to "
        f"first answer {r['startup']:.1f} s. Machine load check in the same process: one 8-word e5 query "
        f"took {r['probe'] * 1000:.0f} ms (PERF-ANCHORS: ~9 ms on an idle machine), so the embed stage scales "
        f"with how busy the cores are. Signals off in this run: {off}.",
        "",
        f"Warm-up steps (the GUI runs them in a worker at start and after each import). First start: "
        f"{steps(first)}. Later start: {steps(w)}. \"habits\" embeds the context before each of the {sends} "
        "sends once; the feature cache keeps those vectors for every later start.",
        "",
        f"The trained-head rows: `train --from-history` on the {trained['pairs']} sends took "
        f"{trained['seconds']:.1f} s; the warm-up's \"learned match\" step (the head over every visible "
        f"sticker) {h['warm_up'].get('learned match', 0.0):.2f} s; signals off then: "
        f"{'; '.join(h['features_off']) or 'none'}.",
        "",
    ])


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
