"""Ingest of real stickers (140 JPEGs, Telegram WebP), every animated format, packs, and bad input."""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest
from PIL import Image

from assistant.jobs import CancelToken
from assistant.library import ingest, manage
from assistant.library.catalog import sticker_file
from tests.library.conftest import (animated_gif, animated_webp, apng, demo_dir, demo_files, telegram_sticker_files,
                                    tgs, webm)


def _sources(app, sticker_id):
    return [r[0] for r in app.catalog.conn.execute(
        "SELECT path FROM sticker_sources WHERE sticker_id=? ORDER BY path", (sticker_id,))]


def test_real_demo_stickers(app, tmp_path):
    report = ingest.add_folder(app, demo_dir())
    assert report.ok and not report.problems
    assert report.stickers_added == 140 == app.catalog.count("stickers")
    assert app.catalog.count("sticker_sources") == 140
    stickers = app.catalog.stickers(stickers_dir=app.config.stickers_dir)
    assert {s.fmt for s in stickers} == {"jpeg"}
    assert {s.pack for s in stickers} == {"stickerconv-demo"}
    for s in stickers[:20]:
        assert s.path.exists() and s.path == sticker_file(app.config.stickers_dir, s.sha256, "jpeg")
        thumb = ingest.thumb_path(app.config, s.sha256)
        with Image.open(thumb) as im:
            assert im.format == "PNG" and max(im.size) == 256
    row = app.catalog.conn.execute("SELECT phash, size_bytes, added_at FROM stickers LIMIT 1").fetchone()
    assert len(row["phash"]) == 16 and row["size_bytes"] > 0 and row["added_at"] > 0

    # A re-scan touches nothing; the same file under another name merges as an exact duplicate.
    again = ingest.add_folder(app, demo_dir())
    assert again.stickers_added == 0 and any("140 unchanged" in n for n in again.notes)
    src = demo_files()[0]
    copy = tmp_path / "renamed.png"  # wrong extension on purpose: the content decides
    shutil.copyfile(src, copy)
    res = ingest.add_file(app, copy, emoji="😀")
    assert not res.added and res.problem is None and app.catalog.count("stickers") == 140
    assert len(_sources(app, res.sticker_id)) == 2
    assert app.catalog.sticker(res.sticker_id).emoji == "😀"  # the duplicate filled the missing emoji

    # A re-encoded copy is a new sticker, offered as a near-duplicate, never merged silently.
    with Image.open(src) as im:
        buf = io.BytesIO()
        im.convert("RGB").resize((400, 400)).save(buf, "WEBP", quality=70)
    (tmp_path / "reencoded.webp").write_bytes(buf.getvalue())
    res2 = ingest.add_file(app, tmp_path / "reencoded.webp")
    assert res2.added and res2.sticker_id != res.sticker_id and app.catalog.count("stickers") == 141
    groups = manage.near_duplicates(app)
    assert any({res.sticker_id, res2.sticker_id} <= set(g) for g in groups)


def test_telegram_export_stickers(app):
    paths = telegram_sticker_files()
    results = [ingest.add_file(app, p, pack="telegram", emoji="👍") for p in paths]
    assert all(r.added and r.problem is None for r in results)
    assert app.catalog.count("stickers") == len(paths) == 6
    assert {r.fmt for r in results} == {"webp"}  # *_thumb.jpg files hold WebP bytes
    # Each sticker and its thumbnail are the same picture: three near-duplicate pairs.
    groups = manage.near_duplicates(app)
    assert len(groups) == 3 and all(len(g) == 2 for g in groups)
    big = app.catalog.conn.execute("SELECT width, height FROM stickers ORDER BY size_bytes DESC LIMIT 1").fetchone()
    assert (big["width"], big["height"]) == (382, 512)


@pytest.mark.parametrize("name, data, fmt", [
    ("a.webp", animated_webp(), "webp"), ("a.gif", animated_gif(), "gif"), ("a.png", apng(), "apng"),
    ("a.tgs", tgs(), "tgs"), ("a.webm", webm()[0], "webm"),
])
def test_animated_formats_ingest(app, write, name, data, fmt):
    res = ingest.add_file(app, write(name, data), emoji="🎉")
    assert res.added, res.problem
    row = app.catalog.conn.execute("SELECT * FROM stickers WHERE id=?", (res.sticker_id,)).fetchone()
    assert row["fmt"] == fmt and row["animated"] == 1 and row["frames"] > 1 and row["emoji"] == "🎉"
    assert sticker_file(app.config.stickers_dir, row["sha256"], fmt).read_bytes() == data
    assert ingest.thumb_path(app.config, row["sha256"]).exists()
    with Image.open(ingest.preview_path(app.config, row["sha256"])) as im:
        assert im.n_frames > 1


def test_bad_files_reported_rest_imported(app, write):
    good = demo_files()[:3]
    for p in good:
        write(p.name, p.read_bytes())
    write("empty.png", b"")
    write("notes.png", b"just text\n")
    write("cut.jpg", good[0].read_bytes()[:3000])
    write("readme.txt", b"not a sticker, not named like one: skipped quietly")
    report = ingest.add_folder(app, write.folder)
    assert report.stickers_added == 3
    problems = {p.file.rsplit("/", 1)[-1]: p.message for p in report.problems}
    assert set(problems) == {"empty.png", "notes.png", "cut.jpg"}
    assert "empty" in problems["empty.png"]
    assert "not a sticker image" in problems["notes.png"]
    assert "truncated" in problems["cut.jpg"]
    assert not any(ingest.thumb_path(app.config, "x").parent.glob("*.tmp"))


def test_incremental_rescan_changed_and_removed(app, write):
    files_ = demo_files()[:4]
    for p in files_:
        write(p.name, p.read_bytes())
    assert ingest.add_folder(app, write.folder).stickers_added == 4
    # change one file, remove another, add a new one
    write(files_[0].name, demo_files()[10].read_bytes())
    (write.folder / files_[1].name).unlink()
    write("sub/new.jpg", demo_files()[11].read_bytes())
    report = ingest.add_folder(app, write.folder)
    assert report.stickers_added == 2  # the changed file's new bytes, and the new file
    assert report.stickers_with_files == 2  # the two unchanged files were not read
    assert any("1 files imported before are gone" in n for n in report.notes)
    missing = app.catalog.conn.execute("SELECT path FROM sticker_sources WHERE missing=1").fetchall()
    assert [r[0].rsplit("/", 1)[-1] for r in missing] == [files_[1].name]
    pack = app.catalog.conn.execute("SELECT s.pack FROM stickers s JOIN sticker_sources o ON o.sticker_id=s.id "
                                    "WHERE o.path LIKE '%new.jpg'").fetchone()[0]
    assert pack == "sub"


def test_cancel_then_resume(app, write):
    for p in demo_files()[:8]:
        write(p.name, p.read_bytes())
    token = CancelToken()
    seen = []

    def progress(done, total, what):
        seen.append(done)
        if done == 3:
            token.cancel()

    first = ingest.add_folder(app, write.folder, progress=progress, cancel=token)
    assert first.cancelled and first.stickers_added == 3
    second = ingest.add_folder(app, write.folder)
    assert second.stickers_added == 5 and app.catalog.count("stickers") == 8


def _zip(path, entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def test_wastickers_pack(app, tmp_path):
    webps = [p for p in telegram_sticker_files() if p.suffix == ".webp"]
    entries = {"title.txt": b"My Pack", "author.txt": b"me", "tray.png": webps[0].read_bytes()}
    entries.update({f"{i}.webp": p.read_bytes() for i, p in enumerate(webps)})
    pack = _zip(tmp_path / "mine.wastickers", entries)
    report = ingest.add_folder(app, pack)
    assert report.ok and report.stickers_added == len(webps) and not report.problems
    assert {s.pack for s in app.catalog.stickers()} == {"My Pack"}
    assert app.catalog.count("sticker_sources") == len(webps) + 1  # the tray is a duplicate source
    again = ingest.add_folder(app, pack)
    assert again.stickers_added == 0 and any("unchanged" in n for n in again.notes)


def test_unsafe_zips_refused(app, tmp_path):
    good = demo_files()[0].read_bytes()
    folder = tmp_path / "packs"
    folder.mkdir()
    _zip(folder / "escape.zip", {"../evil.jpg": good})
    _zip(folder / "absolute.zip", {"/etc/evil.jpg": good})
    link = zipfile.ZipInfo("link.jpg")
    link.external_attr = (0o120777 << 16)
    with zipfile.ZipFile(folder / "symlink.zip", "w") as zf:
        zf.writestr(link, "/etc/passwd")
    _zip(folder / "bomb.zip", {"bomb.png": b"\0" * (40 * 1024 * 1024)})
    _zip(folder / "fine.zip", {"ok.jpg": good})
    report = ingest.add_folder(app, folder)
    assert report.stickers_added == 1
    msgs = {p.file.rsplit("/", 1)[-1]: p.message for p in report.problems}
    assert "outside the pack" in msgs["escape.zip"] and "outside the pack" in msgs["absolute.zip"]
    assert "symbolic link" in msgs["symlink.zip"]
    assert "zip bomb" in msgs["bomb.zip"]
    assert not (tmp_path / "evil.jpg").exists()


def test_missing_folder_is_fatal_problem(app, tmp_path):
    report = ingest.add_folder(app, tmp_path / "nope")
    assert not report.ok and "no such file" in report.problems[0].message
