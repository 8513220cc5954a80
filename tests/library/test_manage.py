"""Managing the library: search and filters, tags, favourite, hide, delete, export, merge, CLI."""

from __future__ import annotations

import zipfile

import pytest

from assistant.cli import main
from assistant.library import ingest, manage
from assistant.library.catalog import now
from tests.library.conftest import demo_files


@pytest.fixture
def stocked(app):
    """Six real stickers in two packs, with words and emoji set by hand (no OCR needed)."""
    paths = demo_files()[:6]
    ids = []
    for i, p in enumerate(paths):
        res = ingest.add_file(app, p, pack="cats" if i < 3 else "dogs", emoji="😂" if i % 2 else "😢")
        ids.append(res.sticker_id)
    manage.set_attribute(app, ids[0], "ocr_text", "good morning 早上好")
    manage.set_attribute(app, ids[1], "description", "a cat saying thanks")
    manage.set_attribute(app, ids[2], "intent", "gratitude")
    manage.set_attribute(app, ids[3], "style", "real")
    return app, ids


def _use(app, sticker_id):
    """One imported chat message that sent this sticker."""
    with app.catalog.transaction() as c:
        chat = c.execute("INSERT INTO chats(platform, source_id, name, imported_at) VALUES('t','c','c',?)",
                         (now(),)).lastrowid
        ref = c.execute("INSERT INTO sticker_refs(platform, key, id_kind, sticker_id) VALUES('t','k','platform',?)",
                        (sticker_id,)).lastrowid
        c.execute("INSERT INTO messages(chat_id, dedupe_key, sender, sticker_ref_id) VALUES(?,?,?,?)",
                  (chat, "m1", "me", ref))


def test_search_and_filters(stocked):
    app, ids = stocked
    ids_of = lambda rows: [s.id for s in rows]  # noqa: E731
    assert ids_of(manage.search(app, "morning")) == [ids[0]]
    assert ids_of(manage.search(app, "早上")) == [ids[0]]
    assert ids_of(manage.search(app, "cat thanks")) == [ids[1]]  # every word must match
    assert ids_of(manage.search(app, "dogs")) == ids[3:]  # pack name
    assert ids_of(manage.search(app, pack="cats")) == ids[:3]
    assert ids_of(manage.search(app, emoji="😂")) == [ids[1], ids[3], ids[5]]
    assert ids_of(manage.search(app, intent="gratitude")) == [ids[2]]
    assert ids_of(manage.search(app, style="real")) == [ids[3]]
    assert ids_of(manage.search(app, "100%_no_match")) == []  # LIKE wildcards are escaped
    assert len(manage.search(app, limit=2, offset=1)) == 2

    manage.set_tags(app, ids[4], ["wave", "hello"])
    assert manage.get(app, ids[4]).tags == ["hello", "wave"]
    assert ids_of(manage.search(app, tag="wave")) == [ids[4]]
    assert ids_of(manage.search(app, "hello")) == [ids[4]]
    assert manage.set_tags(app, ids[4], ["bye"], replace=False, remove=["wave"]) == ["bye", "hello"]

    manage.set_favourite(app, ids[5])
    assert ids_of(manage.search(app, favourite=True)) == [ids[5]]
    assert manage.search(app)[0].id == ids[5]  # favourites first
    manage.set_hidden(app, ids[0])
    assert ids[0] not in ids_of(manage.search(app))
    assert ids_of(manage.search(app, hidden=True)) == [ids[0]]
    assert len(manage.search(app, hidden=None)) == 6

    _use(app, ids[2])
    assert ids_of(manage.search(app, used=True)) == [ids[2]]
    assert ids[2] not in ids_of(manage.search(app, used=False))
    assert manage.get(app, ids[2]).use_count == 1


def test_edit_errors_are_clear(stocked):
    app, ids = stocked
    with pytest.raises(manage.LibraryError, match="unknown attribute 'colour'"):
        manage.set_attribute(app, ids[0], "colour", "red")
    with pytest.raises(manage.LibraryError, match="no sticker with id 999"):
        manage.set_favourite(app, 999)


def test_delete_removes_files_thumbs_and_vectors(stocked):
    app, ids = stocked
    s = manage.get(app, ids[0])
    thumb = ingest.thumb_path(app.config, s.sha256)
    assert s.path.exists() and thumb.exists()
    assert manage.delete(app, [ids[0], 12345]) == 1
    assert not s.path.exists() and not thumb.exists()
    assert app.catalog.count("stickers") == 5
    assert str(ids[0]) not in app.bank.ids("sticker_texts")
    assert app.catalog.conn.execute("SELECT COUNT(*) FROM sticker_sources WHERE sticker_id=?",
                                    (ids[0],)).fetchone()[0] == 0


def test_export_folder_and_zip(stocked, tmp_path):
    app, ids = stocked
    assert manage.export_pack(app, tmp_path / "out", pack="cats") == 3
    exported = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert exported == [f"{i:05d}.jpg" for i in ids[:3]]
    assert (tmp_path / "out" / exported[0]).read_bytes() == demo_files()[0].read_bytes()
    assert manage.export_pack(app, tmp_path / "dogs.zip", pack="dogs") == 3
    with zipfile.ZipFile(tmp_path / "dogs.zip") as zf:
        assert zf.read("title.txt") == b"dogs" and len(zf.namelist()) == 4
    # An exported zip is a pack the library reads back (all exact duplicates here).
    report = ingest.add_folder(app, tmp_path / "dogs.zip")
    assert report.stickers_added == 0 and not report.problems
    with pytest.raises(manage.LibraryError, match="no stickers to export"):
        manage.export_pack(app, tmp_path / "none", pack="birds")


def test_merge_joins_sources_tags_and_usage(stocked):
    app, ids = stocked
    manage.set_tags(app, ids[4], ["a"])
    manage.set_tags(app, ids[5], ["b"])
    _use(app, ids[5])
    manage.set_favourite(app, ids[5])
    kept = manage.merge(app, ids[4], [ids[5]])
    assert kept.tags == ["a", "b"] and kept.use_count == 1 and kept.favourite
    assert len(manage.details(app, ids[4])["sources"]) == 2
    assert app.catalog.sticker(ids[5]) is None


def test_cli_round_trip(tmp_path, capsys):
    data = str(tmp_path / "data")
    folder = tmp_path / "pack"
    folder.mkdir()
    for p in demo_files()[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    assert main(["--data-dir", data, "library", "add", str(folder), "--no-describe"]) == 0
    assert "3 stickers added" in capsys.readouterr().out
    assert main(["--data-dir", data, "library", "tag", "1", "hello", "--set", "intent", "joy",
                 "--favourite", "on"]) == 0
    assert main(["--data-dir", data, "library", "search", "hello", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"intent": "joy"' in out and '"favourite": true' in out
    assert main(["--data-dir", data, "library", "show", "1"]) == 0
    assert "edited by you: intent" in capsys.readouterr().out
    assert main(["--data-dir", data, "library", "list", "--pack", "pack"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    assert main(["--data-dir", data, "library", "scan", "--no-describe"]) == 0
    assert "3 unchanged" in capsys.readouterr().out
    assert main(["--data-dir", data, "library", "export", str(tmp_path / "x.zip"), "--ids", "1", "2"]) == 0
    assert main(["--data-dir", data, "library", "dedupe"]) == 0
    assert main(["--data-dir", data, "library", "delete", "3"]) == 0
    # Sticker 2 was added without describe and never edited: it has no vectors until a reindex.
    assert main(["--data-dir", data, "library", "reindex", "--check"]) == 1
    assert "1 stickers without vectors" in capsys.readouterr().out
    assert main(["--data-dir", data, "library", "reindex"]) == 0
    assert main(["--data-dir", data, "library", "reindex", "--check"]) == 0
    assert "0 stickers without vectors, 0 vectors without a sticker" in capsys.readouterr().out
    assert main(["--data-dir", data, "library", "show", "3"]) == 1
