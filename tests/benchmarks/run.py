"""`make bench`: run every tests/benchmarks/bench_*.py and write a dated BENCHMARKS.md.

Each bench module exposes `run(quick: bool) -> str` (Markdown). Comparisons inside a module run both
sides in the same process and report medians with spread; absolute numbers drift between sessions on
shared machines, ratios measured in one run do not.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001
        pass
    return f"{cpu}, {os.cpu_count()} logical cores{mem}, {gpu}; Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short pass (under 3 minutes)")
    ap.add_argument("--only", nargs="*", help="bench module names, e.g. bench_search")
    ap.add_argument("--out", default=str(REPO / "BENCHMARKS.md"))
    args = ap.parse_args(argv)
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n in args.only or n.removeprefix("bench_") in args.only]
    sections = []
    failed = 0
    t_all = time.perf_counter()
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(f"tests.benchmarks.{name}")
            text = mod.run(quick=args.quick)
        except Exception:  # noqa: BLE001 - one broken bench must not hide the others
            failed += 1
            text = f"### {name}\n\nFAILED:\n\n```\n{traceback.format_exc()[-2000:]}\n```\n"
        dt = time.perf_counter() - t0
        print(text, flush=True)
        sections.append(f"{text.rstrip()}\n\n_{name}: {dt:.0f} s_\n")
    header = (f"# Benchmarks\n\nRun {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with "
              f"`make bench{'-quick' if args.quick else ''}` on: {machine()}.\n"
              f"Total {time.perf_counter() - t_all:.0f} s. Ratios are measured in the same run; "
              f"absolute numbers drift 6–10% between sessions on shared machines.\n\n")
    Path(args.out).write_text(header + "\n".join(sections), encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
