"""Safe extraction of exported .zip files (WhatsApp "with media", zipped Telegram/Discord folders).

A dropped zip is untrusted input: entries may point outside the target folder (`../`, absolute
paths, drive letters), be symlinks, or decompress to far more than they claim (zip bombs). Every
entry is checked before anything is written, and sizes are re-checked while writing, because a
zip's declared sizes can lie.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from assistant.chats.base import ParseError
from assistant.zipsafe import UnsafeZip, safe_members

MAX_TOTAL_BYTES = 4 * 1024**3  # 4 GiB uncompressed in all
MAX_RATIO = 200  # uncompressed/compressed per entry; text compresses ~10x, media ~1x
MAX_ENTRIES = 200_000
_CHUNK = 1 << 20


def check_entries(zf: zipfile.ZipFile, zip_path: Path, max_total: int = MAX_TOTAL_BYTES,
                  max_ratio: float = MAX_RATIO) -> list[zipfile.ZipInfo]:
    """Return the regular-file entries, or raise ParseError naming the first unsafe one."""
    try:
        return safe_members(zf, max_entries=MAX_ENTRIES, max_total=max_total, max_ratio=max_ratio,
                            inside="its folder")
    except UnsafeZip as exc:
        raise ParseError(zip_path, f"the zip {exc}", f"entry {exc.entry!r}" if exc.entry else None) from None


def safe_extract(zip_path: Path, dest: Path, max_total: int = MAX_TOTAL_BYTES,
                 max_ratio: float = MAX_RATIO) -> list[Path]:
    """Extract every regular file of `zip_path` under `dest`; raise ParseError on anything unsafe."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise ParseError(zip_path, f"not a readable zip file ({exc})") from exc
    except OSError as exc:
        raise ParseError(zip_path, f"cannot open: {exc}") from exc
    out = []
    dest = dest.resolve()
    with zf:
        written = 0
        for info in check_entries(zf, zip_path, max_total, max_ratio):
            target = (dest / info.filename.replace("\\", "/")).resolve()
            if not target.is_relative_to(dest):
                raise ParseError(zip_path, "entry escapes the extraction folder", f"entry {info.filename!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            limit = info.file_size
            got = 0
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(_CHUNK):
                        got += len(chunk)
                        written += len(chunk)
                        if got > limit or written > max_total:
                            raise ParseError(zip_path, "entry expands beyond its declared size; refusing "
                                             "it as a possible zip bomb", f"entry {info.filename!r}")
                        dst.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError) as exc:
                raise ParseError(zip_path, f"cannot extract ({exc})", f"entry {info.filename!r}") from exc
            out.append(target)
    return out
