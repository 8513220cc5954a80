"""Backup and restore of a whole data dir (catalog, stickers, thumbnails, memories, trained heads).

A backup is one versioned .zip: `manifest.json` (format version, app version, schema version, file
list with SHA-256) plus the files. The catalog goes in through SQLite's online backup API, so a
backup taken while the app runs is consistent. Chroma is not copied: it is rebuilt from the catalog
on restore (`reindex`), which also makes backups portable across Chroma versions and machines.
Restore unpacks into a fresh directory, checks every hash, and only then swaps it into place.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath

from assistant import __version__
from assistant.hashing import sha256_file
from assistant.library.catalog import SCHEMA_VERSION, Catalog

FORMAT_VERSION = 1
INCLUDE_DIRS = ("stickers", "thumbs", "heads")
INCLUDE_FILES = ("settings.json",)


class BackupError(RuntimeError):
    pass


def backup(data_dir: Path, target: Path) -> dict:
    data_dir = Path(data_dir)
    target = Path(target)
    if target.suffix != ".zip":
        target = target.with_suffix(".zip")
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="sa-backup-") as td:
        snap = Path(td) / "catalog.sqlite3"
        src = sqlite3.connect(data_dir / "catalog.sqlite3")
        dst = sqlite3.connect(snap)
        with dst:
            src.backup(dst)
        schema = dst.execute("PRAGMA user_version").fetchone()[0]
        src.close()
        dst.close()
        tmp_target = target.with_suffix(".zip.part")
        with zipfile.ZipFile(tmp_target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.write(snap, "catalog.sqlite3")
            files["catalog.sqlite3"] = sha256_file(snap)
            for name in INCLUDE_FILES:
                p = data_dir / name
                if p.is_file():
                    zf.write(p, name)
                    files[name] = sha256_file(p)
            for d in INCLUDE_DIRS:
                root = data_dir / d
                if not root.is_dir():
                    continue
                for p in sorted(root.rglob("*")):
                    if p.is_file() and not p.is_symlink():
                        arc = p.relative_to(data_dir).as_posix()
                        # stickers are already compressed images: store, don't deflate again
                        zf.write(p, arc, compress_type=zipfile.ZIP_STORED)
                        files[arc] = sha256_file(p)
            manifest = {"format": FORMAT_VERSION, "app_version": __version__, "schema": schema,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}
            zf.writestr("manifest.json", json.dumps(manifest, indent=1))
        os.replace(tmp_target, target)
    return manifest


def restore(source: Path, data_dir: Path, *, overwrite: bool = False) -> dict:
    source = Path(source)
    data_dir = Path(data_dir)
    if data_dir.exists() and any(data_dir.iterdir()) and not overwrite:
        raise BackupError(f"{data_dir} is not empty; pass overwrite to replace it (the old one is kept "
                          f"beside it as {data_dir.name}.before-restore)")
    try:
        zf = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BackupError(f"{source}: not a Sticker Assistant backup ({exc})") from None
    with zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except (KeyError, ValueError):
            raise BackupError(f"{source}: no valid manifest.json; not a Sticker Assistant backup") from None
        if manifest.get("format", 0) > FORMAT_VERSION:
            raise BackupError(f"{source}: backup format {manifest.get('format')} is newer than this app knows")
        if manifest.get("schema", 0) > SCHEMA_VERSION:
            raise BackupError(f"{source}: catalog schema {manifest['schema']} is newer than this app knows "
                              f"({SCHEMA_VERSION}); update the app first")
        staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir.parent if data_dir.parent.exists()
                                        else None))
        try:
            for arc, digest in manifest["files"].items():
                rel = PurePosixPath(arc)
                if rel.is_absolute() or ".." in rel.parts:
                    raise BackupError(f"{source}: unsafe path {arc!r} in backup")
                out = staging.joinpath(*rel.parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(arc) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                if sha256_file(out) != digest:
                    raise BackupError(f"{source}: {arc} is corrupt (checksum mismatch)")
            Catalog(staging / "catalog.sqlite3").close()  # migrates an older schema forward
            if os.name == "posix":
                os.chmod(staging, 0o700)
            if data_dir.exists():
                old = data_dir.with_name(data_dir.name + ".before-restore")
                if old.exists():
                    shutil.rmtree(old)
                os.replace(data_dir, old)
            os.replace(staging, data_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return manifest
