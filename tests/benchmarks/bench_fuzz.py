"""Fuzzing, counted: the importer and paste-parser fuzzers of tests/reliability/test_fuzz.py with a
bigger budget, reporting executions run, crashes found and executions per second per target."""

from __future__ import annotations

import sys
import time

from tests.benchmarks.common import table
from tests.reliability.test_fuzz import TARGETS, run_target


def run(quick: bool = False) -> str:
    # quick: ~1,000 executions in all, well under a minute on a loaded 2-core machine
    budget = 80 if quick else 1500
    rows = []
    total_runs = total_crashes = 0
    for name in sorted(TARGETS):
        t0 = time.perf_counter()
        runs, crashes = run_target(name, budget // 2 if name == "import_path" else budget)
        dt = time.perf_counter() - t0
        total_runs += runs
        total_crashes += len(crashes)
        rows.append([name, runs, len(crashes), f"{runs / dt:,.0f}", "; ".join(crashes)[:240] or "none"])
    rows.append(["**all**", total_runs, total_crashes, "", ""])
    return ("### Fuzzing (hypothesis: raw bytes, damaged valid exports, structured JSON)\n\n"
            + table(["target", "executions", "distinct crashes", "exec/s", "crash sites"], rows)
            + "\n\nA crash is any exception other than the importer's own `ParseError` (or, for `import_path`, "
              "any exception at all: it must return a report). `plaintext` must never raise. Targets are each "
              "importer's `parse(path, ctx)` with its chats and messages consumed, strict and partial.\n")


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
