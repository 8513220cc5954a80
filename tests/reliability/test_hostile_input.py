"""Hostile input the per-area tests (tests/chats/test_bad_input.py, tests/library/test_files.py and
test_ingest.py) do not already cover: unsafe packs through both entry points as single files, deep and
huge-but-sparse JSON, mixed line endings, invalid UTF-8 in JSON formats, end-to-end image bombs,
control characters in file names (reports escape them) and markup in the GUI (shown as text).

Every file here is built by the test. Each case asserts the outcome (a clear refusal naming the file,
or a correct import) and that the catalog is unchanged or intact afterwards.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from assistant.chats.store import import_path
from assistant.commands.importing import format_report
from assistant.library import ingest

WA_LINES = ["12/01/2021, 10:00 - Ann: first", "12/01/2021, 10:01 - Bob: second", "12/01/2021, 10:02 - Ann: third",
            "12/01/2021, 10:03 - Bob: fourth"]


def counts(app):
    return {t: app.catalog.count(t) for t in ("chats", "messages", "sessions", "sticker_refs", "stickers",
                                              "sticker_sources")}


def _fatal(report, name):
    bad = [p for p in report.problems if p.fatal]
    assert not report.ok and bad, [str(p) for p in report.problems]
    assert name in bad[0].file, str(bad[0])
    return bad[0]


def _png_bytes(color=(200, 30, 30, 255), side=64) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (side, side), color).save(buf, "PNG")
    return buf.getvalue()


# --- unsafe archives through both entry points ---------------------------------------------------
def test_chat_zip_with_absolute_path_and_backslash_escape(app, tmp_path):
    before = counts(app)
    for name, entry in (("abs.zip", "/tmp/evil_chat.txt"), ("drive.zip", "C:/evil.txt"),
                        ("back.zip", "..\\..\\evil.txt")):
        z = tmp_path / name
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr("_chat.txt", "\n".join(WA_LINES) + "\n")
            zf.writestr(entry, "x")
        rep = import_path(app, z)
        if name == "back.zip":
            # a backslash is an ordinary character in a POSIX zip name: either refused or kept inside
            assert rep.ok or "outside" in _fatal(rep, name).message
        else:
            assert "outside" in _fatal(rep, name).message
    assert not Path("/tmp/evil_chat.txt").exists()
    assert not (tmp_path.parent / "evil.txt").exists()
    if counts(app)["messages"] != before["messages"]:
        assert counts(app)["messages"] == before["messages"] + 4  # only the backslash zip, imported inside


@pytest.mark.parametrize("suffix", [".wastickers", ".zip"])
def test_single_sticker_pack_unsafe_entries_refused(app, tmp_path, suffix):
    good = _png_bytes()
    cases = {
        "escape": {"1.png": good, "../../escaped.png": good},
        "absolute": {"1.png": good, "/tmp/abs_sticker.png": good},
        "bomb": {"1.png": good, "2.png": b"\0" * (40 * 1024 * 1024)},
    }
    before = counts(app)
    for label, entries in cases.items():
        pack = tmp_path / f"{label}{suffix}"
        with zipfile.ZipFile(pack, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for n, data in entries.items():
                zf.writestr(n, data)
        rep = ingest.add_folder(app, pack)
        assert rep.stickers_added == 0, label
        msg = " ".join(p.message for p in rep.problems)
        assert ("zip bomb" if label == "bomb" else "outside the pack") in msg, (label, msg)
        assert any(pack.name in p.file for p in rep.problems)
    link = tmp_path / f"link{suffix}"
    info = zipfile.ZipInfo("1.png")
    info.external_attr = 0o120777 << 16
    with zipfile.ZipFile(link, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    rep = ingest.add_folder(app, link)
    assert rep.stickers_added == 0 and "symbolic link" in " ".join(p.message for p in rep.problems)
    assert counts(app) == before
    assert not (tmp_path.parent / "escaped.png").exists() and not Path("/tmp/abs_sticker.png").exists()


def test_cli_library_add_refuses_bomb_pack(tmp_path, capsys):
    from assistant.cli import main

    pack = tmp_path / "bomb.wastickers"
    with zipfile.ZipFile(pack, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("1.png", b"\0" * (40 * 1024 * 1024))
    rc = main(["--data-dir", str(tmp_path / "d"), "library", "add", str(pack)])
    out = capsys.readouterr().out
    assert "zip bomb" in out and "bomb.wastickers" in out


# --- JSON: deep nesting and a multi-GB sparse file ------------------------------------------------
DEEP = 100_000


@pytest.mark.parametrize("name, doc", [
    ("result.json", '{"name": "Bob", "type": "personal_chat", "id": 1, "messages": [' + "[" * DEEP + "]" * DEEP + "]}"),
    ("result.json", '{"name": "Bob", "type": "personal_chat", "id": 1, "messages": [{"id": 1, "text": '
                    + "[" * DEEP + "]" * DEEP + "}]}"),
    ("result.json", '{"chats": {"list": [{"name": "B", "id": 2, "messages": [{"id": 1, "text": '
                    + '{"a":' * DEEP + "1" + "}" * DEEP + "}]}]}}"),
    ("result.json", '{"name": "B", "id": 3, "messages": [{"id": 1, "text": '
                    + '{"a_rather_long_key_name_here": ' * DEEP + "1" + "}" * DEEP + "}]}"),
    ("dc.json", '{"channel": {"id": "1"}, "messages": [' + "[" * DEEP + "]" * DEEP + "]}"),
    ("message_1.json", '{"participants": [], "messages": [' + "[" * DEEP + "]" * DEEP + "]}"),
    ("message_1.json", '{"participants": [], "messages": [{"content": ' + "[" * 900 + "]" * 900 + "}]}"),
], ids=["tg-array", "tg-text", "tg-all-object", "tg-long-keys", "discord", "messenger", "messenger-900"])
def test_deeply_nested_json_is_refused_or_read(app, tmp_path, name, doc):
    f = tmp_path / name
    f.write_text(doc)
    before = counts(app)
    for partial in (False, True):
        rep = import_path(app, f, partial=partial)  # a report, never a RecursionError
        assert rep.ok or any(p.fatal or not partial for p in rep.problems) or rep.problems
    assert app.catalog.integrity_check() == "ok"
    assert counts(app)["messages"] - before["messages"] <= 2


def _sparse(path: Path, head: bytes, size: int) -> None:
    with open(path, "wb") as fh:
        fh.write(head)
        fh.truncate(size)


@pytest.mark.parametrize("name", ["result.json", "dc.json", "message_1.json"])
def test_multi_gb_sparse_json_refused_from_its_head(app, tmp_path, name):
    """3 GB declared, a few bytes on disk: refused without reading it all (NULs after the head)."""
    f = tmp_path / name
    _sparse(f, b'{"name": "Bob", "channel": {"id": 1}, "messages": [', 3 * 1024**3)
    before = counts(app)
    rep = import_path(app, f)
    _fatal(rep, name)
    assert counts(app) == before


def test_sparse_json_after_real_messages_keeps_them_with_partial(app, tmp_path):
    msgs = [{"id": i, "type": "message", "date": f"2021-01-01T10:{i:02d}:00", "from": "Ann", "from_id": "user1",
             "text": f"m{i}"} for i in range(50)]
    head = json.dumps({"name": "Bob", "type": "personal_chat", "id": 5, "messages": msgs})[:-2].encode() + b",\n"
    head += b" " * (70 * 1024)  # past the sniffed head, so the file looks like JSON text at first
    f = tmp_path / "result.json"
    _sparse(f, head, 3 * 1024**3)
    before = counts(app)
    _fatal(import_path(app, f), "result.json")
    assert counts(app) == before
    rep = import_path(app, f, partial=True)
    assert rep.messages == 50 and rep.problems
    assert app.catalog.integrity_check() == "ok"


# --- text: mixed line endings and invalid UTF-8 ---------------------------------------------------
def test_whatsapp_mixed_crlf_lf_cr(app, tmp_path):
    f = tmp_path / "WhatsApp Chat with Bob.txt"
    body = (WA_LINES[0] + "\r\n" + WA_LINES[1] + "\n" + WA_LINES[2] + "\r\n" + "continued\r\n"
            + WA_LINES[3] + "\n")
    f.write_bytes(body.encode())
    rep = import_path(app, f)
    assert rep.ok and rep.messages == 4, format_report(rep)
    texts = [r[0] for r in app.catalog.conn.execute("SELECT text FROM messages ORDER BY time")]
    assert texts == ["first", "second", "third\ncontinued", "fourth"]
    assert not any("\r" in t for t in texts)


def test_old_mac_cr_only_line_endings(app, tmp_path):
    f = tmp_path / "WhatsApp Chat with Mac.txt"
    f.write_bytes(("\r".join(WA_LINES) + "\r").encode())
    rep = import_path(app, f)
    assert rep.ok or rep.problems  # read, or refused clearly; never a crash
    texts = [r[0] for r in app.catalog.conn.execute("SELECT text FROM messages")]
    assert not any("\r" in t for t in texts)
    if rep.ok:
        assert rep.messages == 4


@pytest.mark.parametrize("name, raw", [
    ("result.json", b'{"name": "Bob", "id": 1, "messages": [{"id": 1, "type": "message", "date": '
                    b'"2021-01-01T10:00:00", "from": "A\xff\xfe", "text": "caf\xe9"}]}'),
    ("dc.json", b'{"channel": {"id": "1"}, "messages": [{"id": "1", "content": "caf\xe9"}]}'),
    ("data.json", b'{"date": "2021-01-01 10:00:00", "sender": "A", "body": "caf\xe9"}\n'),
    ("[LINE] Chat with Bob.txt", b"[LINE] Chat history with Bob\n\n2024/01/15(Mon)\n10:00\tAnn\tcaf\xe9\n"),
])
def test_invalid_utf8_in_every_text_format(app, tmp_path, name, raw):
    f = tmp_path / name
    f.write_bytes(raw)
    before = counts(app)
    rep = import_path(app, f)
    if not rep.ok:
        p = _fatal(rep, name)
        assert "UTF-8" in p.message or "invalid" in p.message or "not" in p.message, str(p)
        assert counts(app) == before
    for t in (r[0] for r in app.catalog.conn.execute("SELECT text FROM messages")):
        t.encode("utf-8")  # whatever was stored is valid text
    assert app.catalog.integrity_check() == "ok"


# --- images: bombs and huge frame counts through `library add` ------------------------------------
def test_image_bombs_through_library_add(app, tmp_path):
    from tests.library.test_files import _gif_with_frames, _png_with_size

    folder = tmp_path / "bombs"
    folder.mkdir()
    (folder / "bomb.png").write_bytes(_png_with_size(16000, 16000))
    (folder / "frames.gif").write_bytes(_gif_with_frames(100_000))
    (folder / "fine.png").write_bytes(_png_bytes())
    rep = ingest.add_folder(app, folder)
    assert rep.stickers_added == 1
    msgs = {Path(p.file).name: p.message for p in rep.problems}
    assert "decompression bomb" in msgs["bomb.png"] and "frames" in msgs["frames.gif"]


# --- control characters in file names --------------------------------------------------------------
EVIL = "evil\n\x1b[31mred\r\x07.png"


def _no_raw_controls(text: str) -> None:
    bad = [c for c in text if (ord(c) < 32 and c not in "\n") or 0x7f <= ord(c) < 0xa0]
    assert not bad, f"raw control characters {bad!r} in {text!r}"


def test_control_characters_in_sticker_names_are_escaped(app, tmp_path, capsys):
    from assistant.cli import main

    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / EVIL).write_bytes(b"not an image at all")
    (folder / "ok.png").write_bytes(_png_bytes())
    rep = ingest.add_folder(app, folder)
    assert rep.stickers_added == 1 and len(rep.problems) == 1
    line = str(rep.problems[0])
    _no_raw_controls(line)
    assert "\n" not in line and "\\x1b" in line and "\\n" in line
    rc = main(["--data-dir", str(app.config.data_dir), "library", "add", str(folder)])
    out = capsys.readouterr().out
    _no_raw_controls(out)
    assert "\\x1b[31mred" in out and rc in (0, 1)


def test_control_characters_in_export_names_are_escaped(app, tmp_path, capsys):
    from assistant.cli import main

    f = tmp_path / "WhatsApp Chat with \x1b]0;pwned\x07Bob\n.txt"
    f.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    text = format_report(import_path(app, f))
    _no_raw_controls(text)
    assert "\\x1b]0;pwned\\x07Bob\\n" in text
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("chat\x1b[2J\n.txt", "\n".join(WA_LINES))
        zf.writestr("../\x1b[2Jx", "x")
    text = format_report(import_path(app, z))
    _no_raw_controls(text)
    main(["--data-dir", str(app.config.data_dir), "import", str(f)])
    _no_raw_controls(capsys.readouterr().out)
    assert os.path.exists(f)


# --- markup in the GUI: shown as typed, never rendered as rich text or live links -------------------
MARKUP = '<a href="http://evil.example/x">click</a><img src="file:///etc/passwd">'


def _markup_app(app, tmp_path):
    from assistant.domain import Memory
    from assistant.memory import memories

    f = tmp_path / "WhatsApp Chat with <b>Bob<b>.txt"  # no "/" in a file name
    f.write_text("\n".join([f"12/01/2021, 10:00 - Ann: {MARKUP}", f"12/01/2021, 10:01 - <i>Bob</i>: {MARKUP} too"])
                 + "\n", encoding="utf-8")
    assert import_path(app, f).ok
    folder = tmp_path / "pack"
    folder.mkdir()
    (folder / "a.png").write_bytes(_png_bytes())
    (folder / "b.png").write_bytes(_png_bytes((0, 0, 200, 255)))
    assert ingest.add_folder(app, folder, pack=MARKUP).stickers_added == 2
    with app.catalog.transaction() as conn:
        conn.execute("UPDATE stickers SET description=?, ocr_text=?, intent=?", (MARKUP, MARKUP, "<b>happy</b>"))
        conn.executemany("INSERT INTO sticker_tags(sticker_id, tag) VALUES(?, ?)",
                         [(r[0], MARKUP) for r in conn.execute("SELECT id FROM stickers").fetchall()])
        sid, cid = conn.execute("SELECT id, chat_id FROM sessions LIMIT 1").fetchone()
    memories.save(app, Memory(session_id=sid, chat_id=cid, summary=MARKUP, topics=[MARKUP], mood="<u>x</u>"))
    return app


def _raw(text: str) -> bool:
    return "<a href=" in text or "<img src=" in text or "<b>Bob" in text or "<i>Bob" in text


def test_markup_in_messages_tags_and_summaries_shows_as_text(app, tmp_path, qtbot):
    from PySide6.QtCore import QModelIndex, Qt
    from PySide6.QtWidgets import QAbstractItemView, QLabel, QListWidget, QTreeWidget, QWidget

    from assistant.gui.main_window import MainWindow

    _markup_app(app, tmp_path)
    w = MainWindow(app, palette="light")
    w.import_view.background_after_import = False
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    try:
        lib = w.library_view
        w.tabs.setCurrentWidget(lib)
        qtbot.waitUntil(lambda: lib.model.rowCount() == 2, timeout=30_000)
        lib.grid.setCurrentIndex(lib.model.index(0, 0))
        qtbot.waitUntil(lambda: lib.details.description.toPlainText() == MARKUP, timeout=10_000)
        mem = w.memory_view
        w.tabs.setCurrentWidget(mem)
        qtbot.waitUntil(lambda: mem.sessions.topLevelItemCount() >= 1, timeout=30_000)
        mem.sessions.setCurrentItem(mem.sessions.topLevelItem(0))
        qtbot.wait(100)
        # shown literally where it is shown
        assert MARKUP in mem.detail.toPlainText()

        seen = 0
        for label in w.findChildren(QLabel):
            if _raw(label.text()):
                seen += 1
                assert label.textFormat() == Qt.TextFormat.PlainText, label.text()
                assert not label.openExternalLinks()
        for widget in [w, *w.findChildren(QWidget)]:
            assert not _raw(widget.toolTip()), (type(widget).__name__, widget.toolTip())
        for lw in w.findChildren(QListWidget):
            for i in range(lw.count()):
                assert not _raw(lw.item(i).toolTip()), lw.item(i).toolTip()
        for tw in w.findChildren(QTreeWidget):
            for i in range(tw.topLevelItemCount()):
                item = tw.topLevelItem(i)
                for c in range(tw.columnCount()):
                    assert not _raw(item.toolTip(c)), item.toolTip(c)
        for view in w.findChildren(QAbstractItemView):
            model = view.model()
            if model is None:
                continue
            for r in range(min(model.rowCount(QModelIndex()), 50)):
                tip = model.data(model.index(r, 0), Qt.ItemDataRole.ToolTipRole)
                if isinstance(tip, str):
                    assert not _raw(tip), tip
                    if "evil.example" in tip:
                        seen += 1  # the sticker tooltip carries the pack, escaped
        assert seen >= 1  # the sweep looked at the hostile text somewhere
    finally:
        w.runner.cancel_all()
        w.runner.wait(30_000)
