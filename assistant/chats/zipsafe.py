"""Safe extraction of exported .zip files (WhatsApp "with media", zipped Telegram/Discord folders).

A dropped zip is untrusted input: entries may point outside the target folder (`../`, absolute
paths, drive letters), be symlinks, or decompress to far more than they claim (zip bombs). Every
entry is checked before anything is written, and sizes are re-checked while writing, because a
zip's declared sizes can lie.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from assistant.chats.base import ParseError

MAX_TOTAL_BYTES = 4 * 1024**3  # 4 GiB uncompressed in all
MAX_RATIO = 200  # uncompressed/compressed per entry; text compresses ~10x, media ~1x
MAX_ENTRIES = 200_000
_CHUNK = 1 << 20


def check_entries(zf: zipfile.ZipFile, zip_path: Path, max_total: int = MAX_TOTAL_BYTES,
                  max_ratio: float = MAX_RATIO) -> list[zipfile.ZipInfo]:
    """Return the regular-file entries, or raise ParseError naming the first unsafe one."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ParseError(zip_path, f"the zip holds {len(infos)} entries (more than {MAX_ENTRIES}); "
                         "refusing it as a possible zip bomb")
    total = 0
    files = []
    for info in infos:
        name = info.filename
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ParseError(zip_path, "the zip contains a symbolic link; refusing to extract it",
                             f"entry {name!r}")
        p = PurePosixPath(name.replace("\\", "/"))
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in p.parts:
            raise ParseError(zip_path, "the zip has an entry that points outside its folder "
                             "(absolute path or '..'); refusing to extract it", f"entry {name!r}")
        if info.is_dir():
            continue
        total += info.file_size
        if total > max_total:
            raise ParseError(zip_path, f"the zip would expand to more than {max_total // 1024**2} MiB; "
                             "refusing it as a possible zip bomb", f"entry {name!r}")
        if info.file_size > 1_000_000 and info.file_size > max_ratio * max(info.compress_size, 1):
            raise ParseError(zip_path, f"entry compresses {info.file_size / max(info.compress_size, 1):.0f}:1 "
                             f"(limit {max_ratio}:1); refusing it as a possible zip bomb", f"entry {name!r}")
        files.append(info)
    return files


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
