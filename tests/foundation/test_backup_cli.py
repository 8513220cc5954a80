import zipfile

import pytest

from assistant.backup import BackupError, backup, restore
from assistant.cli import build_parser, main


def test_backup_restore_round_trip(app, tmp_path):
    with app.catalog.transaction() as conn:
        conn.execute("INSERT INTO chats(platform, source_id, name, imported_at) VALUES('telegram','1','Bob',0)")
    (app.config.stickers_dir / "ab").mkdir()
    (app.config.stickers_dir / "ab" / "abc.png").write_bytes(b"\x89PNG fake")
    target = tmp_path / "b.zip"
    manifest = backup(app.config.data_dir, target)
    assert "catalog.sqlite3" in manifest["files"]
    out = tmp_path / "restored"
    restore(target, out)
    from assistant.library.catalog import Catalog

    assert Catalog(out / "catalog.sqlite3").count("chats") == 1
    assert (out / "stickers" / "ab" / "abc.png").read_bytes() == b"\x89PNG fake"


def test_restore_refuses_corrupt_and_unsafe_backups(app, tmp_path):
    target = tmp_path / "b.zip"
    backup(app.config.data_dir, target)
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(target) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data if item.filename != "catalog.sqlite3" else data[:-10] + b"0" * 10)
    with pytest.raises(BackupError, match="corrupt"):
        restore(bad, tmp_path / "r1")
    assert not (tmp_path / "r1").exists()
    (tmp_path / "nota.zip").write_bytes(b"hello")
    with pytest.raises(BackupError, match="not a Sticker Assistant backup"):
        restore(tmp_path / "nota.zip", tmp_path / "r2")


def test_restore_keeps_existing_data_unless_asked(app, tmp_path):
    target = tmp_path / "b.zip"
    backup(app.config.data_dir, target)
    with pytest.raises(BackupError, match="not empty"):
        restore(target, app.config.data_dir)


def test_every_subcommand_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"models", "launch", "backup", "restore"} <= set(sub.choices)
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage:" in capsys.readouterr().out


def test_models_verify_cli(tmp_path, capsys):
    rc = main(["--data-dir", str(tmp_path / "d"), "--models-dir", str(tmp_path / "m"), "models", "verify"])
    out = capsys.readouterr().out
    assert rc == 1 and "summarizer" in out and "missing" in out and "embedder" in out
