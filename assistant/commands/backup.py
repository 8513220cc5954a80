"""`sticker-assistant backup PATH` / `restore PATH`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("backup", help="write the whole data dir (catalog, stickers, memories, heads) to a .zip")
    b.add_argument("path", type=Path)
    b.set_defaults(handler=_backup)
    r = sub.add_parser("restore", help="restore a backup .zip into the data dir (vectors are rebuilt)")
    r.add_argument("path", type=Path)
    r.add_argument("--overwrite", action="store_true", help="replace a non-empty data dir "
                   "(the old one is kept beside it)")
    r.set_defaults(handler=_restore, no_app=True)


def _backup(app, args) -> int:
    from assistant.backup import backup

    manifest = backup(app.config.data_dir, args.path)
    print(f"backed up {len(manifest['files'])} files (schema {manifest['schema']}) to {args.path}")
    return 0


def _restore(app, args) -> int:  # noqa: ARG001 - runs before any App opens the data dir
    from assistant.app import App
    from assistant.backup import BackupError, restore
    from assistant.config import default_data_dir

    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    try:
        manifest = restore(args.path, data_dir, overwrite=args.overwrite)
    except BackupError as exc:
        print(f"error: {exc}")
        return 1
    print(f"restored {len(manifest['files'])} files into {data_dir}; rebuilding vectors…")
    restored = App(data_dir=data_dir, chroma_url=args.chroma_url)
    try:
        from assistant.library import index
        from assistant.memory import memories

        index.rebuild(restored)
        memories.reindex(restored)
    except (ImportError, AttributeError) as exc:
        print(f"note: vectors not rebuilt ({exc}); run `sticker-assistant library reindex`")
    finally:
        restored.close()
    print("done")
    return 0
