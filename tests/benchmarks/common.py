"""Small timing helpers shared by the benches: medians with spread, peak RSS in a subprocess."""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def timeit(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float]) -> str:
    """Median ± half the interquartile range, as a compact string."""
    if len(xs) < 2:
        return f"{xs[0]:.3g}"
    q = statistics.quantiles(xs, n=4)
    return f"{statistics.median(xs):.3g} ±{(q[2] - q[0]) / 2:.2g}"


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def run_isolated(code: str, timeout: float = 900) -> dict:
    """Run Python code in a fresh process; it must print one JSON object last. Adds peak RSS (MB)."""
    wrapper = code + "\n" + PEAK_RSS_SNIPPET + "\nprint('__RSS__', int(_peak_rss_mb() * 1024))"
    res = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
    rss_kb = int(next(ln for ln in lines if ln.startswith("__RSS__")).split()[1])
    data = json.loads(next(ln for ln in reversed(lines) if ln.startswith("{")))
    data["peak_rss_mb"] = rss_kb / 1024
    return data


# ru_maxrss survives fork+exec on Linux, so a child started by a big parent (the bench runner, with
# torch loaded) would report the parent's high-water mark; VmHWM belongs to the new process image.
PEAK_RSS_SNIPPET = """
def _peak_rss_mb():
    try:
        with open('/proc/self/status') as fh:
            for line in fh:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""


def self_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(headers: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def py() -> str:
    return sys.executable


def dumps(d: dict) -> str:
    return json.dumps(d)
