"""GUI fixtures: a main window over a fresh data dir, offscreen (QT_QPA_PLATFORM is set in tests/conftest.py)."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess

import pytest

TELEGRAM = ("fixtures", "exports", "frozenspider__chat-history-manager", "telegram_2020-01", "result.json")
STICKERS = ("fixtures", "stickers", "stickerconv-demo")


@contextlib.contextmanager
def shown_window(app, qtbot, wait_ms: int = 60_000):
    """A main window over `app`, shown; on the way out its jobs are cancelled and waited for."""
    from assistant.gui.main_window import MainWindow

    w = MainWindow(app, palette="light")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    try:
        yield w
    finally:
        w.runner.cancel_all()
        w.runner.wait(wait_ms)


@pytest.fixture
def window(app, qtbot):
    with shown_window(app, qtbot, 30_000) as w:
        w.import_view.background_after_import = False  # OCR/LLM passes have their own tests
        yield w


def wait_jobs(qtbot, window, timeout=60_000):
    """Until every background job of the window has ended and its signals were delivered."""
    qtbot.waitUntil(lambda: not window.runner.active, timeout=timeout)
    qtbot.wait(50)


@pytest.fixture(scope="session")
def stocked(tmp_path_factory):
    """The project's demo pack and chat, read with real OCR and indexed, shared by the tests that suggest
    (they do not change the library; each panel's first suggestion loads the models)."""
    from assistant.app import App
    from assistant.demo import seed_demo

    app = App(data_dir=tmp_path_factory.mktemp("suggest") / "data")
    report = seed_demo(app)
    assert report.stickers >= 10, report
    yield app
    app.close()


@pytest.fixture
def stocked_window(stocked, qtbot):
    """A main window over the seeded library."""
    with shown_window(stocked, qtbot) as w:
        yield w


@contextlib.contextmanager
def private_xvfb(*extra: str):
    """Start an Xvfb of our own and yield its display name (":N"); skip when none can start."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): no X server to test against")
    read_fd, write_fd = os.pipe()
    try:
        proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0", "800x600x24", "-nolisten", "tcp",
                                 *extra], pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        os.close(write_fd)
    number = b""
    try:
        while not number.endswith(b"\n"):
            ready, _, _ = select.select([read_fd], [], [], 20)
            chunk = os.read(read_fd, 16) if ready else b""
            if not chunk:
                break
            number += chunk
    finally:
        os.close(read_fd)
    if not number.strip().isdigit():
        proc.kill()
        proc.wait()
        pytest.skip(f"Xvfb did not start (exit code {proc.poll()}): no X server to test against")
    try:
        yield f":{number.strip().decode()}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def xvfb_display():
    """A private Xvfb server (":N") for tests that need a real X server, skipped when none can start."""
    with private_xvfb() as display:
        yield display
