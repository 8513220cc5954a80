"""Bad input names the file and the problem, imports what it can with partial=True, and never
changes the catalog when an import fails."""

from __future__ import annotations

import json
import zipfile

import pytest

from assistant.chats.store import import_path
from assistant.commands.importing import format_report
from tests.conftest import shared_path

TG = ("fixtures", "exports", "frozenspider__chat-history-manager", "telegram_2020-01", "result.json")
WA = ("fixtures", "exports", "starkdmi__whats_json", "languages", "english_android_media.txt")


def counts(app):
    return {t: app.catalog.count(t) for t in ("chats", "messages", "sessions", "sticker_refs", "participants")}


@pytest.fixture
def seeded(app):
    """A catalog that already holds a chat, so 'unchanged' is a real check."""
    import_path(app, shared_path(*WA))
    return app


def _fatal(report, name):
    assert not report.ok
    bad = [p for p in report.problems if p.fatal]
    assert bad and name in bad[0].file, [str(p) for p in report.problems]
    return bad[0]


@pytest.mark.parametrize("src", [TG, ("fixtures", "exports", "mlomb__chat-analytics", "tests", "samples",
                                        "telegram", "DM_2A_7M.json")], ids=["export-all", "single-chat"])
def test_truncated_telegram_json(seeded, tmp_path, src):
    raw = shared_path(*src).read_bytes()
    f = tmp_path / "result.json"
    f.write_bytes(raw[: len(raw) * 2 // 3])
    before = counts(seeded)
    rep = import_path(seeded, f)
    p = _fatal(rep, "result.json")
    assert "truncated" in p.message and p.location and p.location.startswith("message")
    assert counts(seeded) == before
    part = import_path(seeded, f, partial=True)
    assert part.messages > 0 and part.chats >= 1
    assert any("ends early" in p.message for p in part.problems)
    assert seeded.catalog.integrity_check() == "ok"


def test_invalid_json_and_renamed_files(seeded, tmp_path):
    before = counts(seeded)
    bad = tmp_path / "export.json"
    bad.write_text('{"name": "x", "messages": [ {"id": 1, "type": "message", "date": "2020-01-01T00:00:00",,]}')
    _fatal(import_path(seeded, bad), "export.json")
    png = tmp_path / "chat.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    p = _fatal(import_path(seeded, png), "chat.txt")
    assert "PNG" in p.message
    other = tmp_path / "target.json"
    other.write_text(json.dumps([{"timestamp": "2020-01-01", "author": "a", "message": "b"}]))
    assert "not a chat export" in _fatal(import_path(seeded, other), "target.json").message
    # a WhatsApp text under a .json name still imports: content decides
    wa = tmp_path / "renamed.json"
    wa.write_bytes(shared_path(*WA).read_bytes())
    assert import_path(seeded, wa).messages == 60
    assert counts(seeded)["messages"] == before["messages"] + 60


def test_empty_and_missing(seeded, tmp_path):
    before = counts(seeded)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert "empty" in _fatal(import_path(seeded, empty), "empty.txt").message
    assert "no such" in _fatal(import_path(seeded, tmp_path / "nope.txt"), "nope.txt").message
    assert counts(seeded) == before


def test_wrong_encoding_names_the_line(seeded, tmp_path):
    text = shared_path(*WA).read_text(encoding="utf-8")
    f = tmp_path / "WhatsApp Chat with Latin.txt"
    lines = text.split("\n")
    lines[4] = lines[4] + " caf\xe9"
    f.write_bytes("\n".join(lines).encode("cp1252", "replace"))
    before = counts(seeded)
    p = _fatal(import_path(seeded, f), "Latin")
    assert p.location == "line 5" and "UTF-8" in p.message
    assert counts(seeded) == before
    part = import_path(seeded, f, partial=True)
    assert part.messages == 60 and any(x.location == "line 5" for x in part.problems)


def test_zip_with_parent_paths_and_symlink_and_bomb(seeded, tmp_path):
    before = counts(seeded)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("_chat.txt", "1/1/21, 12:00 - A: Hi\n")
        z.writestr("../../outside.txt", "x")
    p = _fatal(import_path(seeded, evil), "evil.zip")
    assert "outside" in p.message and "../../outside.txt" in (p.location or "")
    assert not (tmp_path.parent / "outside.txt").exists()
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo("_chat.txt")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    assert "symbolic link" in _fatal(import_path(seeded, link), "link.zip").message
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("_chat.txt", b"\x00" * (50 * 1024 * 1024))
    assert "zip bomb" in _fatal(import_path(seeded, bomb), "bomb.zip").message
    assert counts(seeded) == before


def test_huge_file_is_rejected_fast(seeded, tmp_path):
    """A 2 GB file of another kind (sparse zeros here) is refused from its head, not read whole."""
    f = tmp_path / "WhatsApp Chat with Huge.txt"
    with open(f, "wb") as fh:
        fh.truncate(2 * 1024**3)
    before = counts(seeded)
    p = _fatal(import_path(seeded, f), "Huge")
    assert "binary" in p.message
    assert counts(seeded) == before


def test_report_text_lists_problems(seeded, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("")
    text = format_report(import_path(seeded, empty))
    assert "empty.json" in text and "the file is empty" in text and "[not imported]" in text
    text = format_report(import_path(seeded, shared_path(*WA)))
    assert "Android exports without media cannot show stickers" in text


def test_cli_import(tmp_path, capsys):
    from assistant.cli import main

    rc = main(["--data-dir", str(tmp_path / "d"), "import", str(shared_path(*TG).parent)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "chats: 4" in out and "messages: 50 read, 50 new" in out and "stickers found: 3 (with files: 3" in out


def test_many_bad_lines_are_counted_not_listed(app, tmp_path):
    f = tmp_path / "WhatsApp Chat with Dates.txt"
    good = [f"13/01/2020, 10:{i % 60:02d} - A: ok {i}" for i in range(50)]
    bad = [f"31/02/2020, 10:{i % 60:02d} - A: no such day {i}" for i in range(300)]
    f.write_text("\n".join(good + bad) + "\n", encoding="utf-8")
    before = counts(app)
    p = _fatal(import_path(app, f), "Dates")
    assert "unreadable date" in p.message and p.location == "line 51"
    assert counts(app) == before
    rep = import_path(app, f, partial=True)
    assert rep.messages == 350
    assert len([p for p in rep.problems if "unreadable date" in p.message]) == 200
    assert any("100 more problems" in p.message for p in rep.problems)


def test_cancel_mid_chat_rolls_that_chat_back(seeded, tmp_path):
    from assistant.jobs import CancelToken

    f = tmp_path / "WhatsApp Chat with Long.txt"
    f.write_text("\n".join(f"13/01/2020, {i // 60 % 24:02d}:{i % 60:02d} - A: line {i}" for i in range(5000)) + "\n",
                 encoding="utf-8")
    token = CancelToken()
    seen = []

    def progress(done, total, what):
        seen.append((done, total))
        token.cancel()

    before = counts(seeded)
    rep = import_path(seeded, f, progress=progress, cancel=token)
    assert rep.cancelled and not rep.ok and seen and seen[0][1] == f.stat().st_size
    assert counts(seeded) == before
