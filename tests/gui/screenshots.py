"""Screenshots of every surface for docs/screenshots/ (and the README), from a seeded data dir.

Run under a real X server (Xvfb) so fonts, styles and scaling are what users see:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m tests.gui.screenshots --seed
    QT_SCALE_FACTOR=2 xvfb-run -a -s "-screen 0 2600x1800x24" .venv/bin/python -m tests.gui.screenshots --scaled

--seed fills the data dir once: the project's demo pack and demo chat (with memory summaries from the
real summarizer), the 140 stickers of ../shared/fixtures/stickers/stickerconv-demo (read with OCR),
and a real Telegram export dropped on the window. PNGs larger than 300 KB are palette-quantised.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
STICKERS = SHARED / "fixtures" / "stickers" / "stickerconv-demo"
TELEGRAM = SHARED / "fixtures" / "exports" / "frozenspider__chat-history-manager" / "telegram_2020-01" / "result.json"
MAX_BYTES = 300_000
SUMMARIES = 4


def seed(app) -> None:
    from assistant.demo import seed_demo
    from assistant.jobs import TerminalProgress
    from assistant.library.attributes import describe
    from assistant.library.ingest import add_folder

    t0 = time.time()
    report = seed_demo(app, memories=False, progress=TerminalProgress("demo", force=True))  # once per data dir
    print(f"demo in {time.time() - t0:.0f}s: {report}", file=sys.stderr)
    print(add_folder(app, STICKERS, pack="stickerconv-demo").notes, file=sys.stderr)  # incremental
    print("described", describe(app, progress=TerminalProgress("describe", force=True)), file=sys.stderr)
    if app.catalog.count("memories") == 0:
        # A few real summaries are enough for the picture; the summarizer takes seconds per session.
        from assistant.jobs import CancelToken
        from assistant.memory import memories

        cancel = CancelToken()

        def progress(done, total, what):
            if done >= SUMMARIES:
                cancel.cancel()
        print(memories.build(app, progress=progress, cancel=cancel).line(), file=sys.stderr)


def save(widget, path: Path) -> None:
    from PIL import Image

    image = widget.grab().toImage()
    image.save(str(path))
    if path.stat().st_size > MAX_BYTES:
        with Image.open(path) as im:
            im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path.name}: {image.width()}x{image.height()}, {path.stat().st_size // 1024} KB", file=sys.stderr)


def pump(seconds: float) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.time() + seconds
    while time.time() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def wait_for(cond, timeout: float = 600) -> bool:
    from PySide6.QtWidgets import QApplication

    end = time.time() + timeout
    while time.time() < end:
        QApplication.processEvents()
        if cond():
            return True
        time.sleep(0.02)
    return False


def conversation() -> str:
    from assistant.demo import demo_conversation

    return demo_conversation()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default="/tmp/sticker-assistant-shots")
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    ap.add_argument("--seed", action="store_true", help="seed the data dir first (slow once)")
    ap.add_argument("--scaled", action="store_true", help="only the 200%% shot (run with QT_SCALE_FACTOR=2)")
    ap.add_argument("--only", default="", help="comma-separated shots to retake (import, suggest, library, "
                                               "memory, settings, compact, suggest-dark, suggest-trained); "
                                               "default: all")
    args = ap.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()}

    def want(name: str) -> bool:
        return not only or name in only

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from assistant.app import App
    from assistant.config import Config
    from assistant.gui.app import ensure_qapp
    from assistant.gui.main_window import MainWindow

    qapp = ensure_qapp()  # kept alive for the whole run
    qapp.setQuitOnLastWindowClosed(False)
    config = Config(args.data_dir)
    config.settings.me_names = ["Sam"]
    app = App(config)
    if args.seed:
        seed(app)

    if args.scaled:
        w = MainWindow(app, palette="light")
        w.resize(1000, 640)
        w.show()
        w.tabs.setCurrentWidget(w.suggest_panel)
        w.suggest_panel.paste.setPlainText(conversation())
        w.suggest_panel.suggest_now()
        wait_for(lambda: w.suggest_panel.grid.count() > 0, 900)
        pump(1.5)
        save(w, out / "suggest-200pct.png")
        w.close()
        return 0

    w = MainWindow(app, palette="light")
    w.import_view.background_after_import = False
    w.resize(1200, 760)
    w.show()
    pump(1.0)
    wait_for(lambda: "Checking" not in w.features_label.text(), 60)

    # Import: a real export dropped on the window (already-imported parts show as "nothing new")
    if want("import"):
        w.import_dropped([TELEGRAM])
        wait_for(lambda: not w.runner.active, 300)
        row = w.import_view.rows[-1]
        if row.details_btn.isVisible():
            row.details_btn.setChecked(True)
        pump(0.5)
        save(w, out / "import.png")

    # Suggest: the demo conversation
    w.tabs.setCurrentWidget(w.suggest_panel)
    panel = w.suggest_panel
    if want("suggest") or want("suggest-dark"):
        panel.paste.setPlainText(conversation())
        panel.suggest_now()
        ok = wait_for(lambda: panel.grid.count() > 0, 900)
        print("suggestions:", panel.grid.count(), panel.status.text(), file=sys.stderr)
        pump(1.5)
        if ok:
            panel.grid.setFocus()
            panel.grid.setCurrentRow(0)
    if want("suggest"):
        save(w, out / "suggest.png")

    if want("library"):
        shoot_library(w, out)
    if want("memory"):
        shoot_memory(w, out)
    if want("settings"):
        shoot_settings(app, w, out)
    if want("compact"):
        shoot_compact(w, out)

    # Dark palette
    if want("suggest-dark"):
        w.set_palette("dark")
        w.tabs.setCurrentWidget(w.suggest_panel)
        pump(1.0)
        save(w, out / "suggest-dark.png")
        w.set_palette("system")
    if want("suggest-trained"):
        shoot_trained(w, app, out)
    w.close()
    return 0


def shoot_trained(w, app, out: Path) -> None:
    """Suggest after "Learn from my chats": the report row and the trained head's list. Last, and the
    head files it wrote are removed afterwards, so every other shot stays the first-run state."""
    heads = Path(app.config.heads_dir)
    before = set(heads.iterdir()) if heads.exists() else set()
    panel = w.suggest_panel
    w.tabs.setCurrentWidget(panel)
    panel.paste.setPlainText(conversation())
    panel.grid.clear()
    panel.trainer.start()
    wait_for(lambda: panel.trainer.job is None, 900)
    wait_for(lambda: panel.grid.count() > 0 and not w.runner.active, 900)
    pump(1.5)
    panel.grid.setFocus()
    panel.grid.setCurrentRow(0)
    save(w, out / "suggest-trained.png")
    for p in set(heads.iterdir()) - before:
        p.unlink()


def shoot_library(w, out: Path) -> None:
    """The grid with a sticker selected."""
    w.tabs.setCurrentWidget(w.library_view)
    lib = w.library_view
    wait_for(lambda: lib.model.rowCount() > 0, 60)
    pump(2.0)
    from PySide6.QtCore import QItemSelectionModel

    with_words = next((i for i, s in enumerate(lib.model.rows) if s.ocr_text and s.use_count), 0)
    lib.grid.selectionModel().setCurrentIndex(lib.model.index(with_words),
                                              QItemSelectionModel.SelectionFlag.ClearAndSelect)
    pump(1.0)
    save(w, out / "library.png")


def shoot_memory(w, out: Path) -> None:
    """Sessions with summaries."""
    w.tabs.setCurrentWidget(w.memory_view)
    mem = w.memory_view
    wait_for(lambda: mem.sessions.topLevelItemCount() > 0, 30)
    for i in range(mem.sessions.topLevelItemCount()):
        item = mem.sessions.topLevelItem(i)
        if (item.data(0, 0x0100) or {}).get("summary"):
            mem.sessions.setCurrentItem(item)
            break
    pump(0.5)
    save(w, out / "memory.png")


def shoot_settings(app, w, out: Path) -> None:
    """The settings dialog, once the model check and the global shortcut's start have reported."""
    from assistant.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(app, w.runner, w, hotkey=w.hotkey)
    dialog.show()
    wait_for(lambda: dialog.models.topLevelItemCount() > 0, 60)
    wait_for(lambda: "starting" not in dialog.shortcut_status.text(), 10)
    pump(0.5)
    save(dialog, out / "settings.png")
    dialog.close()


def shoot_compact(w, out: Path) -> None:
    """The compact always-on-top panel."""
    w.show_compact_panel()
    compact = w.compact
    compact.resize(440, 380)
    compact.panel.paste.setPlainText(conversation())
    compact.panel.suggest_now()
    wait_for(lambda: compact.panel.grid.count() > 0, 300)
    pump(1.0)
    save(compact, out / "compact.png")
    compact.close()


if __name__ == "__main__":
    raise SystemExit(main())
