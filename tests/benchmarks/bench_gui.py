"""Desktop-app responsiveness: window start-up, UI-thread stalls during an import, and scrolling a
20,000-sticker library grid. Offscreen Qt, real catalog, real sticker files from ../shared.

Peers in the same run: the same import run on the UI thread (what the workers exist to avoid), and
start-up with the embedder loaded eagerly (what lazy model loading avoids).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.benchmarks.common import med, percentile, run_isolated, spread, table  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("STICKER_ASSISTANT_SHARED", REPO.parent / "shared"))
STICKERS = SHARED / "fixtures" / "stickers" / "stickerconv-demo"

_OPEN = """
import time, tempfile, json
t0 = time.perf_counter()
from assistant.app import App
from assistant.gui.app import ensure_qapp
from assistant.gui.main_window import MainWindow
qapp = ensure_qapp()
core = App(data_dir=tempfile.mkdtemp())
{eager}
w = MainWindow(core)
w.show()
qapp.processEvents()
t1 = time.perf_counter()
w.close()
print(json.dumps({{"open_s": t1 - t0}}))
"""


def _open_times(n: int, eager: bool) -> list[float]:
    code = _OPEN.format(eager="core.embedder.query(['warm up'])" if eager else "")
    return [run_isolated(code, timeout=300)["open_s"] for _ in range(n)]


def _stall(n_files: int, on_ui_thread: bool, warm: bool = True) -> dict:
    """Import n sticker files while a 10 ms QTimer ticks; the gaps between ticks are the stalls.
    warm: the import stack was pre-imported in a worker first, as the window does after start-up."""

    from assistant.app import App
    from assistant.gui.app import ensure_qapp
    from assistant.gui.workers import JobRunner, prewarm
    from assistant.jobs import CancelToken

    qapp = ensure_qapp()
    if warm:
        prewarm()
    from assistant.library.ingest import add_folder

    tmp = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    folder = tmp / "in"
    folder.mkdir()
    for p in sorted(STICKERS.glob("*.jpg"))[:n_files]:
        shutil.copy(p, folder / p.name)
    core = App(data_dir=tmp / "data")
    from tests.gui.ticks import TickGaps

    ticks = TickGaps()
    ticks.start()
    t0 = time.perf_counter()
    if on_ui_thread:
        qapp.processEvents()
        ticks.restart_clock()
        add_folder(core, folder, progress=lambda *a: None, cancel=CancelToken())
        qapp.processEvents()  # the overdue tick records the whole import as one gap
    else:
        runner = JobRunner()
        job = runner.start("import", lambda progress, cancel: add_folder(core, folder, progress=progress,
                                                                          cancel=cancel))
        while not job.is_done or runner.active:
            qapp.processEvents()
            time.sleep(0.001)
    elapsed = time.perf_counter() - t0
    ticks.stop()
    core.close()
    shutil.rmtree(tmp, ignore_errors=True)
    gaps = ticks.gaps
    return {"elapsed": elapsed, "worst": max(gaps), "p99": percentile(gaps, 99), "ticks": len(gaps)}


def _grid(n_rows: int, steps: int) -> dict:
    """A library grid with n_rows distinct stickers (thumbnail files are symlinks to real ones, so
    every row decodes its own file), scrolled top to bottom; each step is one synchronous repaint."""
    from PySide6.QtWidgets import QApplication

    from assistant.app import App
    from assistant.domain import Sticker
    from assistant.gui.app import ensure_qapp
    from assistant.gui.library_view import LibraryView
    from assistant.gui.workers import JobRunner
    from assistant.library.ingest import add_folder

    qapp = ensure_qapp()
    tmp = Path(tempfile.mkdtemp(prefix="bench-grid-"))
    core = App(data_dir=tmp / "data")
    add_folder(core, STICKERS)
    real = [p for p in sorted(core.config.thumbs_dir.glob("*.png"))]
    rows = []
    for i in range(n_rows):
        sha = f"{i:064x}"
        os.symlink(real[i % len(real)], core.config.thumbs_dir / f"{sha}.png")
        rows.append(Sticker(id=i + 1, sha256=sha, path=None, fmt="png", emoji="🙂", pack=f"pack{i % 50}"))
    view = LibraryView(core, JobRunner())
    view.resize(1200, 800)
    view.show()
    QApplication.processEvents()
    t0 = time.perf_counter()
    view.model.set_rows(rows)
    QApplication.processEvents()
    set_rows = time.perf_counter() - t0
    bar = view.grid.verticalScrollBar()
    frames = []
    for k in range(steps + 1):
        bar.setValue(int(bar.maximum() * k / steps))
        t = time.perf_counter()
        view.grid.viewport().repaint()
        frames.append(time.perf_counter() - t)
        qapp.processEvents()
    # let the loader catch up with the last screen, then measure warm repaints
    deadline = time.perf_counter() + 5
    while time.perf_counter() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    warm = []
    for _ in range(20):
        t = time.perf_counter()
        view.grid.viewport().repaint()
        warm.append(time.perf_counter() - t)
    view.thumbs.close()
    view.close()
    core.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return {"set_rows": set_rows, "frames": frames, "warm": warm}


def run(quick: bool) -> str:
    if not STICKERS.is_dir():
        return "### Desktop app responsiveness\n\nskipped: ../shared fixtures absent"
    n_open = 3 if quick else 5
    n_files = 40 if quick else 140
    lazy = _open_times(n_open, eager=False)
    eager = _open_times(max(2, n_open - 2), eager=True)
    worker = [_stall(n_files, False) for _ in range(1 if quick else 3)]
    blocking = _stall(n_files, True)
    grid = _grid(20_000, 40 if quick else 100)

    out = ["### Desktop app responsiveness", ""]
    out.append("Window start-up, fresh process each run (import + App + window shown), median ± IQR/2:")
    out.append("")
    out.append(table(["start-up", "seconds", "runs", "target"], [
        ["lazy models (the app)", spread(lazy), n_open, "< 2 s"],
        ["embedder loaded eagerly (peer)", spread(eager), len(eager), ""],
        ["ratio eager / lazy", f"{med(eager) / med(lazy):.1f}×", "", ""]]))
    out.append("")
    out.append(f"UI-thread stall while importing {n_files} real sticker files (a 10 ms QTimer ticks; a gap is "
               "how long the UI could not respond):")
    out.append("")
    rows = []
    for i, r in enumerate(worker):
        rows.append([f"worker thread (run {i + 1})", f"{r['elapsed']:.1f}", f"{r['worst'] * 1000:.0f}",
                     f"{r['p99'] * 1000:.0f}", r["ticks"], "PASS" if r["worst"] < 0.05 else "over 50 ms"])
    rows.append(["on the UI thread (peer)", f"{blocking['elapsed']:.1f}", f"{blocking['worst'] * 1000:.0f}",
                 f"{blocking['p99'] * 1000:.0f}", blocking["ticks"], ""])
    out.append(table(["import runs", "import s", "worst gap ms", "p99 gap ms", "ticks", "target < 50 ms"], rows))
    out.append("")
    frames_ms = [f * 1000 for f in grid["frames"]]
    warm_ms = [f * 1000 for f in grid["warm"]]
    out.append("Library grid with 20,000 stickers (each with its own thumbnail file), scrolled top to bottom:")
    out.append("")
    out.append(table(["measure", "ms"], [
        ["load 20,000 rows into the model", f"{grid['set_rows'] * 1000:.0f}"],
        [f"repaint per scroll step, median ({len(frames_ms)} steps)", f"{med(frames_ms):.1f}"],
        ["repaint per scroll step, p95 / worst", f"{percentile(frames_ms, 95):.1f} / {max(frames_ms):.1f}"],
        ["repaint once thumbnails are cached, median", f"{med(warm_ms):.1f}"]]))
    return "\n".join(out)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
