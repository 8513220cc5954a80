"""Memory-bank summarizer speed: seconds per 40-message session, prompt and generation tokens/s.

The default GGUF (Qwen2.5-Coder-0.5B-Instruct Q4_K_M) summarizes the 40-message English session of
tests/memory/conversations.py through the project's own Summarizer (JSON grammar, stickers as
attributes), on 2 CPU threads (the goal: under 10 s per session), then on CUDA when this machine has
a GPU and llama.cpp was built with offload. Peers in the same run: the same prompt without the JSON
grammar (what the grammar costs), and llama.cpp's own `llama-bench` when the binary is on PATH.
The KV cache is cleared before each run, so each figure includes the whole prompt.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.memory.conversations import CAMPING_EN  # noqa: E402


def _session():
    from datetime import datetime, timedelta

    from assistant.memory.summarizer import Line, Session, StickerInfo

    t0 = datetime(2024, 6, 1, 20, 0)
    lines = []
    for i, t in enumerate(CAMPING_EN):
        st = None
        if len(t) > 2:
            st = StickerInfo(emoji=t[2]["emoji"], words=t[2]["ocr_text"], description=t[2]["description"],
                             intent=t[2]["intent"])
        lines.append(Line(sender=t[0], text=t[1] or "", time=t0 + timedelta(minutes=i), sticker=st))
    return Session(1, 1, "Bob", lines, lines[0].time, lines[-1].time)


class _Recorder:
    """Passes calls to the model and keeps each Completion, clearing the KV cache first."""

    def __init__(self, llm, grammar: bool = True) -> None:
        self.llm = llm
        self.name = llm.name
        self.n_ctx = llm.n_ctx
        self.grammar = grammar
        self.completions = []

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)

    def chat(self, messages, **kw):
        if not self.grammar:
            kw["json_schema"] = None
        self.llm.llama.reset()
        out = self.llm.chat(messages, **kw)
        self.completions.append(out)
        return out


def _measure(llm, runs: int, grammar: bool = True) -> dict:
    from assistant.memory.summarizer import Summarizer, SummaryError

    rec = _Recorder(llm, grammar)
    summ = Summarizer(rec)
    walls, summary = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        try:
            summary = summ.summarize(_session()).summary
        except SummaryError as exc:  # the no-grammar peer may not produce JSON
            summary = f"(no usable JSON: {exc})"
        walls.append(time.perf_counter() - t0)
    cs = rec.completions
    p_tps = [c.prompt_evaluated / c.prompt_seconds for c in cs if c.prompt_seconds]
    g_tps = [c.completion_tokens / c.generation_seconds for c in cs if c.generation_seconds]
    return {"walls": walls, "prompt_tokens": statistics.median(c.prompt_tokens for c in cs),
            "gen_tokens": statistics.median(c.completion_tokens for c in cs), "p_tps": p_tps, "g_tps": g_tps,
            "calls": len(cs) / runs, "summary": summary}


def _med(xs: list[float], fmt: str = "{:.1f}") -> str:
    if not xs:
        return "–"
    m = statistics.median(xs)
    return fmt.format(m) + (f" ({fmt.format(min(xs))}–{fmt.format(max(xs))})" if len(xs) > 1 else "")


def _row(label: str, r: dict) -> str:
    return (f"| {label} | {_med(r['walls'])} | {r['prompt_tokens']:.0f} | {_med(r['p_tps'], '{:.0f}')} | "
            f"{r['gen_tokens']:.0f} | {_med(r['g_tps'], '{:.1f}')} |")


def _llama_bench(model: Path, threads: int) -> str:
    exe = shutil.which("llama-bench")
    if exe is None:
        return ("llama.cpp's `llama-bench` binary is not available here (the llama-cpp-python wheel does not "
                "ship it), so there is no comparison with it in this run.")
    try:
        out = subprocess.run([exe, "-m", str(model), "-t", str(threads), "-p", "512", "-n", "128", "-o", "json"],
                             capture_output=True, text=True, timeout=300, check=True).stdout
        rows = json.loads(out)
    except (subprocess.SubprocessError, ValueError, OSError) as exc:
        return f"`llama-bench` at {exe} failed: {exc}"
    lines = ["| llama-bench test | tokens/s |", "|---|---|"]
    for r in rows:
        kind = f"pp{r.get('n_prompt')}" if r.get("n_prompt") else f"tg{r.get('n_gen')}"
        lines.append(f"| {kind} | {r.get('avg_ts', 0):.1f} |")
    return "\n".join(lines)


def run(quick: bool) -> str:
    from assistant.config import default_models_dir
    from assistant.ml.llm import LlamaCppLLM, gpu_offload_supported
    from assistant.ml.registry import installed_path

    out = ["### Memory-bank summarizer (llama.cpp)", ""]
    model = installed_path("summarizer", default_models_dir())
    if model is None:
        return "\n".join(out + ["The summarizer GGUF is not installed (`sticker-assistant models install "
                                "summarizer`); nothing measured."])
    runs = 1 if quick else 3
    t0 = time.perf_counter()
    cpu = LlamaCppLLM(model, n_threads=2, n_gpu_layers=0)
    _ = cpu.llama
    load_s = time.perf_counter() - t0
    res = _measure(cpu, runs)
    rows = [_row("0.5B Q4_K_M, 2 CPU threads, JSON grammar (default)", res)]
    if not quick:
        rows.append(_row("same, no grammar (peer: what the grammar costs)", _measure(cpu, runs, grammar=False)))
    cpu.close()

    gpu_note = ""
    try:
        import torch

        cuda = torch.cuda.is_available()
        gpu_name = torch.cuda.get_device_name(0) if cuda else ""
    except Exception:  # noqa: BLE001
        cuda, gpu_name = False, ""
    if cuda and gpu_offload_supported():
        gpu = LlamaCppLLM(model, n_gpu_layers=-1)
        rows.append(_row(f"same, all layers on CUDA ({gpu_name})", _measure(gpu, runs)))
        gpu.close()
    elif cuda:
        gpu_note = (f"A CUDA GPU is present ({gpu_name}) but this llama-cpp-python build has no GPU offload "
                    "(built with GGML_CUDA off), so no CUDA figure.")
    else:
        gpu_note = "No CUDA GPU on this machine (torch.cuda unavailable): CPU figures only."

    met = statistics.median(res["walls"]) < 10.0
    try:
        load_avg = os.getloadavg()[0]
    except OSError:
        load_avg = float("nan")
    cores = os.cpu_count() or 1
    busy = (f" The machine was busy (load average {load_avg:.1f} on {cores} CPUs): llama.cpp's threads "
            "spin-wait for each other, so with other processes on the same cores these figures are far below "
            "what an idle machine gives; compare ratios within one run." if load_avg > cores else "")
    out += [f"40-message session (1 call per session: {res['calls']:.0f}), model load {load_s:.2f} s, "
            f"median of {runs} run(s) (min–max). Goal < 10 s per session on 2 cores: "
            f"**{'met' if met else 'not met'}**.{busy}", "",
            "| configuration | s / session | prompt tok | prompt tok/s | generated tok | generation tok/s |",
            "|---|---|---|---|---|---|", *rows, "", gpu_note, "", _llama_bench(model, 2), "",
            f"Summary written: _{res['summary'][:400]}_"]
    return "\n".join(out)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
