"""Schema migrations: a catalog written at every earlier schema version opens at the current one with
its data intact, and a backup taken at an older schema restores (restore migrates it forward).

The old catalogs are built the way an old app version left them: MIGRATIONS[:k] applied to a fresh
file and `PRAGMA user_version=k`, plus a little data in every table that exists at that version.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile

import pytest

from assistant.backup import backup, restore
from assistant.library.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog, CatalogError, _split_sql


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _old_catalog(path, k: int) -> dict[str, int]:
    """A catalog at schema k with one row per table the schema has (returns the row counts)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for version in range(k):
        for statement in _split_sql(MIGRATIONS[version]):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version={k}")
    tables = _tables(conn)
    seeds = [
        ("chats", "INSERT INTO chats(id, platform, source_id, name, imported_at) VALUES(1,'telegram','7','Bob',1)"),
        ("participants", "INSERT INTO participants(chat_id, name, is_me) VALUES(1,'Bob',0)"),
        ("sessions", "INSERT INTO sessions(id, chat_id, start, end, n_messages) VALUES(1,1,0,60,1)"),
        ("stickers", "INSERT INTO stickers(id, sha256, fmt, pack, added_at) VALUES(1,'ab'||hex(randomblob(8)),"
                     "'png','cats',1)"),
        ("sticker_tags", "INSERT INTO sticker_tags(sticker_id, tag) VALUES(1,'happy')"),
        ("sticker_refs", "INSERT INTO sticker_refs(id, platform, key, id_kind, sticker_id) "
                         "VALUES(1,'telegram','k','file',1)"),
        ("messages", "INSERT INTO messages(chat_id, session_id, dedupe_key, time, sender, text, sticker_ref_id) "
                     "VALUES(1,1,'d1',5,'Bob','hello <b>there</b>',1)"),
        ("memories", "INSERT INTO memories(session_id, chat_id, summary, created_at) VALUES(1,1,'they met',1)"),
        ("kv", "INSERT INTO kv(key, value) VALUES('probe','\"kept\"')"),
    ]
    counts = {}
    for table, sql in seeds:
        if table in tables:
            conn.execute(sql)
            if table != "kv":
                counts[table] = 1
    conn.close()
    return counts


@pytest.mark.parametrize("k", range(SCHEMA_VERSION + 1))
def test_every_older_schema_migrates_with_data_intact(tmp_path, k):
    path = tmp_path / "catalog.sqlite3"
    counts = _old_catalog(path, k)
    cat = Catalog(path)
    try:
        assert cat.schema_version() == SCHEMA_VERSION
        assert cat.integrity_check() == "ok"
        for table, n in counts.items():
            assert cat.count(table) == n, table
        if "messages" in counts:
            assert cat.conn.execute("SELECT text FROM messages").fetchone()[0] == "hello <b>there</b>"
            assert cat.get_kv("probe") == "kept"
        # the migrated catalog is a working one: a write after migration lands
        with cat.transaction() as conn:
            conn.execute("INSERT INTO chats(platform, source_id, name, imported_at) VALUES('whatsapp','x','A',2)")
        assert cat.count("chats") == counts.get("chats", 0) + 1
        # the full current schema is there, whatever version it started from
        fresh = Catalog(tmp_path / "fresh.sqlite3")
        assert _tables(cat.conn) == _tables(fresh.conn)
        fresh.close()
    finally:
        cat.close()
    # opening again is a no-op (migrations are not re-applied)
    again = Catalog(path)
    assert again.schema_version() == SCHEMA_VERSION and again.count("chats") == counts.get("chats", 0) + 1
    again.close()


def test_newer_schema_is_refused_not_touched(tmp_path):
    path = tmp_path / "catalog.sqlite3"
    _old_catalog(path, SCHEMA_VERSION)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogError, match="newer Sticker Assistant"):
        Catalog(path).schema_version()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert raw.execute("SELECT count(*) FROM messages").fetchone()[0] == 1
    raw.close()


@pytest.mark.parametrize("k", [v for v in range(SCHEMA_VERSION) if v >= 0])
def test_backup_from_older_schema_restores_migrated(tmp_path, k):
    data = tmp_path / "old-data"
    data.mkdir()
    counts = _old_catalog(data / "catalog.sqlite3", k)
    (data / "stickers" / "ab").mkdir(parents=True)
    (data / "stickers" / "ab" / "ab12.png").write_bytes(b"\x89PNG old")
    target = tmp_path / "old.zip"
    manifest = backup(data, target)
    assert manifest["schema"] == k
    with zipfile.ZipFile(target) as zf:
        assert json.loads(zf.read("manifest.json"))["schema"] == k
    out = tmp_path / "restored"
    restore(target, out)
    cat = Catalog(out / "catalog.sqlite3")
    try:
        assert cat.schema_version() == SCHEMA_VERSION and cat.integrity_check() == "ok"
        for table, n in counts.items():
            assert cat.count(table) == n, table
    finally:
        cat.close()
    assert (out / "stickers" / "ab" / "ab12.png").read_bytes() == b"\x89PNG old"
    # the restored file was migrated on disk, not only in memory
    raw = sqlite3.connect(out / "catalog.sqlite3")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


def test_backup_from_newer_schema_is_refused(tmp_path):
    data = tmp_path / "new-data"
    data.mkdir()
    _old_catalog(data / "catalog.sqlite3", SCHEMA_VERSION)
    conn = sqlite3.connect(data / "catalog.sqlite3")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    target = tmp_path / "new.zip"
    backup(data, target)
    from assistant.backup import BackupError

    with pytest.raises(BackupError, match="newer than this app"):
        restore(target, tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_chats_with_zoneless_times_are_marked_when_the_schema_learns_of_them(tmp_path):
    """Migration 1 -> 2 adds chats.local_times: WhatsApp and LINE exports never write a zone, so their
    chats already imported are marked; every other chat is left as it was (zoned)."""
    path = tmp_path / "catalog.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in _split_sql(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("PRAGMA user_version=1")
    for i, platform in enumerate(("whatsapp", "line", "telegram", "discord")):
        conn.execute("INSERT INTO chats(platform, source_id, name, imported_at) VALUES(?,?,?,1)", (platform, str(i), platform))
    conn.close()
    cat = Catalog(path)
    try:
        marked = dict(cat.conn.execute("SELECT platform, local_times FROM chats"))
        assert marked == {"whatsapp": 1, "line": 1, "telegram": 0, "discord": 0}
    finally:
        cat.close()
