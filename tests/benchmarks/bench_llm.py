"""Memory-bank summarizer speed: seconds per 40-message session, prompt and generation tokens/s.

The default GGUF (Qwen2.5-Coder-0.5B-Instruct Q4_K_M) summarizes the 40-message English session of
tests/memory/conversations.py through the project's own Summarizer, on CPU (goal: under 10 s per
session on 2 cores). The peer, in the same process and interleaved round by round, is the previous
configuration: the earlier prompt (per-message times, every sticker described in full, instructions
naming the language, participants asked of the model) on a fixed 2 threads. Each is measured on a
cold KV cache (the first session of a build) and warm (a different session summarized just before,
so only the shared instructions can come from the cache: what every later session of a build sees).
llama.cpp's own `llama-bench`, built once from the llama-cpp-python sdist's vendored llama.cpp into a
cache folder (full mode, or quick with STICKER_BENCH_BUILD_LLAMA=1), gives pp/tg tokens/s for the same
file and thread count next to the binding's. With a CUDA GPU and an offload build, one more row.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from datetime import datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.memory.conversations import CAMPING_EN, LAPTOP_EN  # noqa: E402

LLAMA_CPP_VERSION = "0.3.36"
BENCH_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "sticker-assistant" / "llama-bench"

# --- the previous configuration (commit ceaeff4), kept verbatim as the peer --------------------------
OLD_SYSTEM = (
    "You write short memory notes about chat conversations, so the user can recall later what each "
    "conversation was about. Answer with one JSON object and nothing else.\nFields, in this order:\n"
    '- "summary": 2 or 3 short sentences (under 70 words in all), written in {language}. Say who talked '
    "about what, using the people's names and the exact names of the places, things and plans in the chat; "
    "the mood; and which stickers were sent and what they showed (their emoji and the words on them). Only "
    "state what the messages say; do not copy the messages. Never repeat a sentence.\n"
    '- "topics": up to 5 short topics, in {language}.\n'
    '- "mood": the overall mood in one to three words, in {language}.\n'
    '- "participants": the names of the people who wrote messages.\n')
OLD_USER = ("Chat: {chat}\nDate: {date}\n{part}Messages ({count}); a sticker is shown as "
            '[sticker: emoji "words on it" (what it shows)]:\n{transcript}\n\nWrite the JSON note in {language}.\n')
OLD_SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "minLength": 10},
        "topics": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 5},
        "mood": {"type": "string"},
        "participants": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 12},
    },
    "required": ["summary", "topics", "mood", "participants"],
    "additionalProperties": False,
}


def _session(turns, name: str, sid: int):
    from assistant.memory.summarizer import Line, Session, StickerInfo

    t0 = datetime(2024, 6, 1, 20, 0)
    lines = []
    for i, t in enumerate(turns):
        st = None
        if len(t) > 2:
            st = StickerInfo(emoji=t[2]["emoji"], words=t[2]["ocr_text"], description=t[2]["description"],
                             intent=t[2]["intent"])
        lines.append(Line(sender=t[0], text=t[1] or "", time=t0 + timedelta(minutes=i), sticker=st))
    return Session(sid, 1, name, lines, lines[0].time, lines[-1].time)


def _old_call(llm, session):
    """One summary the way the previous code asked for it (its prompt, schema and settings)."""
    from assistant.memory.summarizer import _date_range, _fill, detect_language, language_name

    lang = language_name(detect_language([ln.text for ln in session.lines if ln.text]))
    lines = [ln.render(400) for ln in session.lines]
    user = _fill(OLD_USER, chat=session.chat_name, date=_date_range(session.start, session.end), part="",
                 count=len(lines), transcript="\n".join(lines), language=lang)
    messages = [{"role": "system", "content": _fill(OLD_SYSTEM, language=lang)}, {"role": "user", "content": user}]
    return llm.chat(messages, max_tokens=160, temperature=0.2, repeat_penalty=1.1, json_schema=OLD_SCHEMA, seed=0)


class _Recorder:
    """Passes calls to the model and keeps each Completion (the Summarizer sees a normal ChatLLM)."""

    def __init__(self, llm) -> None:
        self.llm = llm
        self.name = llm.name
        self.n_ctx = llm.n_ctx
        self.completions = []

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def chat(self, messages, **kw):
        out = self.llm.chat(messages, **kw)
        self.completions.append(out)
        return out


def _one(kind: str, llm, session) -> tuple[float, object, str]:
    """(wall seconds, the main call's Completion, the summary) for one session."""
    from assistant.memory.summarizer import Summarizer

    t0 = time.perf_counter()
    if kind == "old":
        c = _old_call(llm, session)
        wall = time.perf_counter() - t0
        m = re.search(r'"summary"\s*:\s*"((?:[^"\\]|\\.)*)', c.text)
        return wall, c, m.group(1) if m else c.text
    rec = _Recorder(llm)
    note = Summarizer(rec).summarize(session)
    return time.perf_counter() - t0, rec.completions[-1], note.summary


def _rows(label: str, rs: list[tuple[float, object, str]]) -> str:
    walls = [r[0] for r in rs]
    cs = [r[1] for r in rs]
    p_tps = [c.prompt_evaluated / c.prompt_seconds for c in cs if c.prompt_seconds and c.prompt_evaluated]
    g_tps = [c.completion_tokens / c.generation_seconds for c in cs if c.generation_seconds]
    threads = sorted({c.threads for c in cs if c.threads})
    return (f"| {label} | {_med(walls)} | {statistics.median(c.prompt_tokens for c in cs):.0f} | "
            f"{statistics.median(c.prompt_evaluated or 0 for c in cs):.0f} | {_med(p_tps, '{:.0f}')} | "
            f"{statistics.median(c.completion_tokens for c in cs):.0f} | {_med(g_tps, '{:.1f}')} | "
            f"{'/'.join(map(str, threads)) or '–'} |")


def _med(xs: list[float], fmt: str = "{:.1f}") -> str:
    if not xs:
        return "–"
    m = statistics.median(xs)
    return fmt.format(m) + (f" ({fmt.format(min(xs))}–{fmt.format(max(xs))})" if len(xs) > 1 else "")


def _measure(configs: list[tuple[str, object]], rounds: int) -> dict[str, list]:
    """Interleaved rounds: each configuration does cold CAMPING, then LAPTOP, then warm CAMPING."""
    camping, laptop = _session(CAMPING_EN, "Bob", 1), _session(LAPTOP_EN, "Bob", 2)
    res: dict[str, list] = {}
    for _ in range(rounds):
        for kind, llm in configs:
            llm.llama.reset()  # cold: nothing of any earlier prompt in the KV cache
            res.setdefault((kind, "cold"), []).append(_one(kind.split("-")[0], llm, camping))
            _one(kind.split("-")[0], llm, laptop)
            res.setdefault((kind, "warm"), []).append(_one(kind.split("-")[0], llm, camping))
    return res


# --- llama.cpp's own llama-bench ---------------------------------------------------------------------
def _llama_bench_exe(allow_build: bool) -> tuple[Path | None, str]:
    """The llama-bench binary: on PATH, in the cache, or built there once from the sdist's llama.cpp."""
    on_path = shutil.which("llama-bench")
    if on_path:
        return Path(on_path), f"`llama-bench` from PATH ({on_path})"
    exe = BENCH_CACHE / LLAMA_CPP_VERSION / "llama-bench"
    if exe.is_file():
        return exe, f"`llama-bench` built from llama-cpp-python {LLAMA_CPP_VERSION}'s vendored llama.cpp ({exe})"
    if not allow_build:
        return None, ("`llama-bench` is not built (the llama-cpp-python wheel does not ship it): quick mode skips "
                      "the ~5-minute build; run the full bench, or set STICKER_BENCH_BUILD_LLAMA=1, to build it "
                      f"once into {exe.parent}.")
    try:
        return _build_llama_bench(exe), f"`llama-bench` built now from the vendored llama.cpp ({exe})"
    except (OSError, subprocess.SubprocessError, tarfile.TarError, RuntimeError) as exc:
        return None, f"building `llama-bench` failed, so no comparison with it: {exc}"


def _build_llama_bench(exe: Path) -> Path:
    """Same flags as the binding's wheel (INSTALL-FACTS: GGML_NATIVE=OFF, no BLAS, OpenMP), 2 jobs."""
    work = exe.parent
    work.mkdir(parents=True, exist_ok=True)
    sdist = work / f"llama_cpp_python-{LLAMA_CPP_VERSION}.tar.gz"
    if not sdist.is_file():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps", "-d",
                        str(work), f"llama-cpp-python=={LLAMA_CPP_VERSION}"], check=True, capture_output=True,
                       timeout=600)
    src = work / "src"
    if not (src / "CMakeLists.txt").is_file():
        prefix = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/"
        with tarfile.open(sdist) as tf:
            members = [m for m in tf.getmembers() if m.name.startswith(prefix) and len(m.name) > len(prefix)]
            for m in members:
                m.name = m.name[len(prefix):]
            tf.extractall(src, members=members, filter="data")
    build = work / "build"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(["cmake", "-S", str(src), "-B", str(build), *gen, "-DCMAKE_BUILD_TYPE=Release",
                    "-DGGML_NATIVE=OFF", "-DGGML_BLAS=OFF", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF",
                    "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DBUILD_SHARED_LIBS=OFF"],
                   check=True, capture_output=True, timeout=600)
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-bench", "-j2"], check=True,
                   capture_output=True, timeout=1800)
    built = next((p for p in [build / "bin" / "llama-bench", *build.rglob("llama-bench")] if p.is_file()), None)
    if built is None:
        raise RuntimeError(f"the build finished without a llama-bench binary under {build}")
    shutil.copy2(built, exe)
    return exe


def _binding_pp_tg(llm, n_prompt: int, n_gen: int, reps: int) -> tuple[list[float], list[float]]:
    """The binding measured the way llama-bench measures: a batch of prompt tokens, then single tokens."""
    llama = llm.llama
    toks = llama.tokenize(Path(__file__).read_text(encoding="utf-8").encode("utf-8"), add_bos=True)
    toks = (toks * (n_prompt // max(1, len(toks)) + 1))[:n_prompt]
    pp, tg = [], []
    for _ in range(reps):
        llama.reset()
        t0 = time.perf_counter()
        llama.eval(toks)
        pp.append(n_prompt / (time.perf_counter() - t0))
        llama.reset()
        t0 = time.perf_counter()
        for t in toks[:n_gen]:
            llama.eval([t])
        tg.append(n_gen / (time.perf_counter() - t0))
    llama.reset()
    return pp, tg


def _llama_bench_section(model: Path, llm, threads: int, allow_build: bool, reps: int) -> list[str]:
    exe, what = _llama_bench_exe(allow_build)
    if exe is None:
        return [what]
    n_prompt, n_gen = 512, 64
    try:
        out = subprocess.run([str(exe), "-m", str(model), "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen),
                              "-r", str(reps), "-o", "json"], capture_output=True, text=True, timeout=600,
                             check=True).stdout
        rows = json.loads(out)
    except (subprocess.SubprocessError, ValueError, OSError) as exc:
        return [f"{what} failed: {exc}"]
    ref = {("pp" if r.get("n_prompt") else "tg"): (r.get("avg_ts", 0.0), r.get("stddev_ts", 0.0)) for r in rows}
    pp, tg = _binding_pp_tg(llm, n_prompt, n_gen, reps)
    lines = [f"{what}, {threads} threads, {reps} repetition(s) each; both sides spin-wait alike, so on a busy "
             "machine the ratio is noise-bound:", "",
             "| test | llama-bench tok/s (± sd) | llama-cpp-python tok/s | binding / llama-bench |", "|---|---|---|---|"]
    for key, label, ours in (("pp", f"pp{n_prompt}", pp), ("tg", f"tg{n_gen}", tg)):
        if key in ref:
            avg, sd = ref[key]
            ratio = statistics.median(ours) / avg if avg else float("nan")
            lines.append(f"| {label} | {avg:.1f} ± {sd:.1f} | {_med(ours)} | {ratio:.2f} |")
    return lines


def _load() -> str:
    try:
        a, b, c = os.getloadavg()
        return f"{a:.1f} / {b:.1f} / {c:.1f}"
    except OSError:
        return "unknown"


def run(quick: bool) -> str:
    from assistant.config import default_models_dir
    from assistant.ml.llm import LlamaCppLLM, gpu_offload_supported, idle_cores
    from assistant.ml.registry import installed_path

    out = ["### Memory-bank summarizer (llama.cpp)", ""]
    model = installed_path("summarizer", default_models_dir())
    if model is None:
        return "\n".join(out + ["The summarizer GGUF is not installed (`sticker-assistant models install "
                                "summarizer`); nothing measured."])
    rounds = 1 if quick else 3
    load_before, idle = _load(), idle_cores(0.5)
    t0 = time.perf_counter()
    old = LlamaCppLLM(model, n_threads=2, n_gpu_layers=0)
    _ = old.llama
    load_s = time.perf_counter() - t0
    new = LlamaCppLLM(model, n_gpu_layers=0)  # the default: threads chosen per call
    extra = [] if quick else [("new-2t", LlamaCppLLM(model, n_threads=2, n_gpu_layers=0))]
    # quick mode measures the default only (the goal line); the peer rows and llama-bench are full-mode
    configs = ([] if quick else [("old", old)]) + [("new", new)] + extra
    res = _measure(configs, rounds)
    load_after = _load()

    labels = {"old": "previous (peer): old prompt, 2 threads", "new": "default: compact prompt, adaptive threads",
              "new-2t": "compact prompt, fixed 2 threads"}
    rows = []
    for kind in [k for k, _ in configs]:
        for cache in ("cold", "warm"):
            rows.append(_rows(f"{labels[kind]}, {cache} cache", res[(kind, cache)]))
    walls = {k: statistics.median(r[0] for r in v) for k, v in res.items()}
    met = max(walls[("new", "cold")], walls[("new", "warm")]) < 10.0
    peer = (f"; previous configuration {walls[('old', 'cold')]:.1f} / {walls[('old', 'warm')]:.1f} s: "
            f"{walls[('old', 'warm')] / walls[('new', 'warm')]:.2f}× faster warm") if ("old", "warm") in walls else \
        "; quick mode: the previous configuration (peer) and llama-bench run in the full bench"

    gpu_note = ""
    try:
        import torch

        cuda = torch.cuda.is_available()
        gpu_name = torch.cuda.get_device_name(0) if cuda else ""
    except Exception:  # noqa: BLE001
        cuda, gpu_name = False, ""
    if cuda and gpu_offload_supported():
        gpu = LlamaCppLLM(model, n_gpu_layers=-1)
        g = _measure([("new", gpu)], rounds)
        rows.append(_rows(f"default prompt, all layers on CUDA ({gpu_name}), warm cache", g[("new", "warm")]))
        gpu.close()
    elif cuda:
        gpu_note = (f"A CUDA GPU is present ({gpu_name}) but this llama-cpp-python build has no GPU offload "
                    "(built with GGML_CUDA off), so no CUDA figure.")
    else:
        gpu_note = "No CUDA GPU on this machine (torch.cuda unavailable): CPU figures only."

    allow_build = not quick or os.environ.get("STICKER_BENCH_BUILD_LLAMA") == "1"
    bench_lines = _llama_bench_section(model, old, 2, allow_build, reps=1 if quick else 3) if allow_build else []
    summary = res[("new", "warm")][-1][2]
    old_summary = res[("old", "warm")][-1][2] if ("old", "warm") in res else ""
    for llm in [old, new] + [m for _, m in extra]:
        llm.close()
    idle_txt = f"{idle:.1f} of {os.cpu_count()} CPUs idle at the start" if idle is not None else "idle CPUs unknown"
    out += [f"40-message English session with 4 stickers, {rounds} round(s) interleaved (median, min–max), model "
            f"load {load_s:.2f} s. Cold = empty KV cache (a build's first session); warm = another session "
            f"summarized just before (every later session of a build). Load average {load_before} before, "
            f"{load_after} after ({idle_txt}); other processes on these cores slow both sides alike, so read the "
            "ratios.", "",
            f"Goal < 10 s per session on 2 cores: **{'met' if met else 'not met'}** (cold "
            f"{walls[('new', 'cold')]:.1f} s, warm {walls[('new', 'warm')]:.1f} s{peer}).", "",
            "| configuration | s / session | prompt tok | evaluated (rest from cache) | prompt tok/s | generated tok | "
            "generation tok/s | threads |", "|---|---|---|---|---|---|---|---|", *rows, "", gpu_note, "",
            *bench_lines, "", f"Summary written (default): _{summary[:400]}_"]
    if old_summary:
        out += ["", f"Summary written (previous): _{old_summary[:300]}_"]
    return "\n".join(out)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
