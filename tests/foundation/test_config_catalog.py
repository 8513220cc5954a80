import os
import sqlite3
import stat

import pytest

from assistant.config import Config, Settings
from assistant.library.catalog import SCHEMA_VERSION, Catalog, CatalogError


def test_data_dir_layout_is_user_only(tmp_path):
    cfg = Config(tmp_path / "d")
    for d in (cfg.data_dir, cfg.stickers_dir, cfg.thumbs_dir, cfg.logs_dir, cfg.heads_dir):
        assert d.is_dir()
        if os.name == "posix":
            assert stat.S_IMODE(d.stat().st_mode) == 0o700


def test_settings_round_trip_keeps_unknown_keys(tmp_path):
    cfg = Config(tmp_path)
    cfg.settings.session_gap_minutes = 45
    cfg.settings.extra["future_option"] = [1, 2]
    cfg.save_settings()
    again = Config(tmp_path)
    assert again.settings.session_gap_minutes == 45
    assert again.settings.extra["future_option"] == [1, 2]


def test_corrupt_settings_fall_back_to_defaults(tmp_path):
    (tmp_path / "settings.json").write_text("{not json")
    assert Config(tmp_path).settings == Settings()


def test_catalog_migrates_and_is_wal(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite3")
    assert cat.schema_version() == SCHEMA_VERSION
    assert cat.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert cat.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert cat.integrity_check() == "ok"


def test_transaction_rolls_back_on_error(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite3")
    with pytest.raises(RuntimeError):
        with cat.transaction() as conn:
            conn.execute("INSERT INTO chats(platform, source_id, name, imported_at) VALUES('t','1','x',0)")
            raise RuntimeError("boom")
    assert cat.count("chats") == 0


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "c.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.close()
    with pytest.raises(CatalogError, match="newer Sticker Assistant"):
        Catalog(path)


def test_busy_catalog_says_so(tmp_path):
    path = tmp_path / "c.sqlite3"
    a = Catalog(path)
    b = Catalog(path, busy_timeout_s=0.2)
    a.conn.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(CatalogError, match="busy"):
            with b.transaction():
                pass
    finally:
        a.conn.execute("ROLLBACK")


def test_kv_round_trip(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite3")
    cat.set_kv("x", {"a": [1, "é"]})
    assert cat.get_kv("x") == {"a": [1, "é"]}
    assert cat.get_kv("missing", 3) == 3
