"""One set of checks for every untrusted .zip the app opens (chat exports, sticker packs).

Entries may point outside the target (`../`, absolute paths, drive letters), be symlinks, or
decompress to far more than they claim (zip bombs). Callers pass their own limits and turn
`UnsafeZip` into their own error type; readers also re-check sizes while reading, because a zip's
declared sizes can lie.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import PurePosixPath


class UnsafeZip(ValueError):
    """A zip refused before anything was extracted; `entry` names the offending member, if any."""

    def __init__(self, message: str, entry: str | None = None) -> None:
        super().__init__(message)
        self.entry = entry


def safe_members(zf: zipfile.ZipFile, *, max_entries: int, max_total: int, max_ratio: float,
                 inside: str = "the zip") -> list[zipfile.ZipInfo]:
    """The regular-file members, or UnsafeZip naming the first unsafe entry."""
    infos = zf.infolist()
    if len(infos) > max_entries:
        raise UnsafeZip(f"holds {len(infos):,} entries (more than {max_entries:,}); refused as a possible zip bomb")
    total, out = 0, []
    for info in infos:
        name = info.filename
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeZip(f"entry {name!r} is a symbolic link; refused", name)
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise UnsafeZip(f"entry {name!r} points outside {inside} (absolute path or '..'); refused", name)
        if info.is_dir():
            continue
        total += info.file_size
        if total > max_total:
            raise UnsafeZip(f"would expand to more than {max_total // 2**20} MiB; refused as a possible zip bomb",
                            name)
        if info.file_size > 1_000_000 and info.file_size > max_ratio * max(info.compress_size, 1):
            raise UnsafeZip(f"entry {name!r} compresses {info.file_size // max(info.compress_size, 1)}:1 "
                            f"(limit {max_ratio:.0f}:1); refused as a possible zip bomb", name)
        out.append(info)
    return out


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """Read one member, never more than its declared size (declared sizes can lie) nor `limit`."""
    cap = min(info.file_size, limit)
    with zf.open(info) as fh:
        data = fh.read(cap + 1)
    if len(data) > cap:
        raise UnsafeZip(f"entry {info.filename!r} expands beyond its declared size or {limit // 2**20} MB",
                        info.filename)
    return data
