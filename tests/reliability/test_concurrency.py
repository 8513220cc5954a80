"""Two processes on one data dir: a CLI import while another process writes the catalog waits for it
or says "busy" (never corrupts it), two CLI imports at once both land, and a second GUI refuses.

Real processes throughout: SQLite's locking and Qt's lock file only mean something across them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from assistant.app import App
from assistant.cli import main

WA = "\n".join(f"12/01/2021, 10:{i:02d} - {'Ann' if i % 2 else 'Bob'}: line {i}" for i in range(40)) + "\n"
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}


def _chat(tmp_path: Path, name: str) -> Path:
    f = tmp_path / f"WhatsApp Chat with {name}.txt"
    f.write_text(WA.replace("line", f"{name} line"), encoding="utf-8")
    return f


def _holder(catalog: Path, seconds: float) -> subprocess.Popen:
    """Another process inside a write transaction (it also inserts a chat) for `seconds`."""
    code = textwrap.dedent(f"""
        import sqlite3, sys, time
        c = sqlite3.connect({str(catalog)!r}, isolation_level=None, timeout=30)
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO chats(platform, source_id, name, imported_at) VALUES('telegram','held','Held',1)")
        print("holding", flush=True)
        time.sleep({seconds})
        c.execute("COMMIT")
        print("released", flush=True)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "holding"
    return p


def _check(data_dir: Path, chats: int, messages: int) -> None:
    app = App(data_dir=data_dir)
    try:
        assert app.catalog.integrity_check() == "ok"
        assert app.catalog.count("chats") == chats and app.catalog.count("messages") == messages
        assert app.catalog.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        app.close()


def test_import_waits_for_a_short_writer(tmp_path, capsys):
    data = tmp_path / "data"
    App(data_dir=data).close()
    holder = _holder(data / "catalog.sqlite3", 1.5)
    rc = main(["--data-dir", str(data), "import", str(_chat(tmp_path, "Ann"))])
    assert holder.wait(30) == 0
    assert rc == 0, capsys.readouterr()
    _check(data, chats=2, messages=40)


def test_import_says_busy_when_the_writer_does_not_finish(tmp_path, capsys, monkeypatch):
    from assistant.library import catalog

    data = tmp_path / "data"
    App(data_dir=data).close()
    monkeypatch.setattr(catalog.Catalog.__init__, "__defaults__", (1.0,))  # wait 1 s, not 10
    holder = _holder(data / "catalog.sqlite3", 4)
    try:
        rc = main(["--data-dir", str(data), "import", str(_chat(tmp_path, "Ann"))])
        err = capsys.readouterr().err
        assert rc == 1 and "busy" in err and "another Sticker Assistant process" in err
        assert "Traceback" not in err
    finally:
        assert holder.wait(30) == 0
    _check(data, chats=1, messages=0)  # the holder's chat; nothing half-imported
    assert main(["--data-dir", str(data), "import", str(_chat(tmp_path, "Ann"))]) == 0  # then it works
    _check(data, chats=2, messages=40)


def test_two_cli_imports_at_once_both_land(tmp_path):
    data = tmp_path / "data"
    App(data_dir=data).close()
    procs = [subprocess.Popen([sys.executable, "-m", "assistant", "--data-dir", str(data), "import",
                               str(_chat(tmp_path, name))], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=ENV) for name in ("Ann", "Cat", "Dan")]
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, (out, err)
        assert "messages: 40 read, 40 new" in out
    _check(data, chats=3, messages=120)


def _gui_proc(data: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "assistant", "--data-dir", str(data), "gui"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def test_second_gui_on_the_same_data_dir_refuses_politely(tmp_path):
    data = tmp_path / "data"
    App(data_dir=data).close()
    first = _gui_proc(data)
    try:
        deadline = time.monotonic() + 120
        while not (data / "gui.lock").exists():
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first window never took the lock"
            time.sleep(0.2)
        second = _gui_proc(data)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 1
        assert "already open for the data folder" in err and str(data) in err and "--data-dir" in err
        assert f"process {first.pid}" in err
        assert "Traceback" not in err
        assert first.poll() is None  # the first window is untouched
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    # the killed window's lock is stale: the next one takes it over instead of refusing forever
    code = ("from assistant.gui.app import SingleInstance; import sys; "
            f"g = SingleInstance({str(data)!r}); sys.exit(0 if g.acquire() else 3)")
    assert subprocess.run([sys.executable, "-c", code], env=ENV, timeout=60).returncode == 0


def test_cli_works_while_a_gui_holds_its_lock(tmp_path):
    """The GUI's lock guards windows only: a CLI import beside an open window still works (SQLite locks)."""
    data = tmp_path / "data"
    App(data_dir=data).close()
    code = ("from assistant.gui.app import SingleInstance; import sys, time; "
            f"g = SingleInstance({str(data)!r}); assert g.acquire(); print('locked', flush=True); time.sleep(30)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert p.stdout.readline().strip() == "locked"
        assert main(["--data-dir", str(data), "import", str(_chat(tmp_path, "Ann"))]) == 0
    finally:
        p.kill()
        p.wait(30)
    _check(data, chats=1, messages=40)
