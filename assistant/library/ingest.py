"""Adding sticker files to the library: one file (`add_file`, used by chat import too) or a whole folder
or pack (`add_folder`: recursive, incremental, resumable, cancellable; .zip/.wastickers packs read safely).

Each sticker's bytes are stored once under their SHA-256 (`catalog.sticker_file`); an exact duplicate
only gains a source (and fills a missing emoji or pack). Ingest stays cheap (decode, hash, thumbnail):
OCR and the image model run afterwards in `attributes.describe`, so a chat import never waits on them.
Each file is its own transaction: a crash or a bad file leaves every other sticker intact, and a second
run of the same folder resumes where the first stopped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from assistant.domain import ImportProblem, ImportReport
from assistant.jobs import CancelToken, Progress, no_progress
from assistant.library import files
from assistant.library.catalog import now, sticker_file
from assistant.zipsafe import UnsafeZip
from assistant.zipsafe import read_member as _read_member
from assistant.zipsafe import safe_members as _safe_members

log = logging.getLogger(__name__)

PACK_SUFFIXES = {".zip", ".wastickers"}
# Zip packs are untrusted: caps on what they may expand to.
ZIP_MAX_MEMBERS = 20_000
ZIP_MAX_TOTAL = 1024 * 1024 * 1024  # 1 GiB uncompressed in all
ZIP_MAX_RATIO = 100  # per member, for members over 1 MB
# Names that are pack metadata or system clutter, never stickers.
_SKIP_NAMES = {"title.txt", "author.txt", "contents.json", ".ds_store", "thumbs.db", "desktop.ini"}


@dataclass
class IngestResult:
    sticker_id: int | None
    added: bool  # False when an exact duplicate merged into an existing sticker (or on a problem)
    problem: ImportProblem | None = None
    fmt: str | None = None


def preview_path(config, sha256: str) -> Path:
    """Where an animated sticker's short looping preview lives (an animated WebP)."""
    return config.thumbs_dir / f"{sha256}.preview.webp"


def thumb_path(config, sha256: str) -> Path:
    return config.thumbs_dir / f"{sha256}.png"


# --- one file ------------------------------------------------------------------------------------
def add_file(app, path: Path | str, *, pack: str | None = None, emoji: str | None = None,
             source: str | None = None) -> IngestResult:
    """Add one sticker file. `source` (default: the file's absolute path) is recorded as where it came from."""
    path = Path(path)
    label = str(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise files.StickerFileError(label, "not a regular file")
        if st.st_size > files.MAX_FILE_BYTES:
            raise files.StickerFileError(label, f"file is {st.st_size / 1e6:.0f} MB; stickers over "
                                                f"{files.MAX_FILE_BYTES // 2**20} MB are not imported")
        data = path.read_bytes()
    except files.StickerFileError as exc:
        return IngestResult(None, False, ImportProblem(label, exc.problem))
    except OSError as exc:
        return IngestResult(None, False, ImportProblem(label, f"cannot read the file ({exc.strerror or exc})"))
    src = source if source is not None else str(path.resolve())
    return add_bytes(app, data, label=label, source=src, pack=pack, emoji=emoji,
                     size=st.st_size, mtime=st.st_mtime)


def add_bytes(app, data: bytes, *, label: str, source: str | None, pack: str | None = None,
              emoji: str | None = None, size: int | None = None, mtime: float | None = None) -> IngestResult:
    """Add a sticker from its bytes (files, zip members). Never raises for bad input: returns a problem."""
    sha = hashlib.sha256(data).hexdigest()
    catalog = app.catalog
    row = catalog.conn.execute("SELECT id FROM stickers WHERE sha256=?", (sha,)).fetchone()
    if row is not None:
        with catalog.transaction() as conn:
            _merge_into(conn, row["id"], source, pack, emoji, size, mtime)
        return IngestResult(row["id"], False)
    try:
        decoded = files.decode(label, data, name=label)
        phash = files.phash(decoded.image)
    except files.StickerFileError as exc:
        return IngestResult(None, False, ImportProblem(label, exc.problem), None)
    except Exception as exc:  # noqa: BLE001 - a decoder bug on one odd file must not stop an import
        log.exception("unexpected error decoding %s", label)
        return IngestResult(None, False, ImportProblem(label, f"could not decode the file ({exc})"))

    cfg = app.config
    dest = sticker_file(cfg.stickers_dir, sha, decoded.fmt)
    thumb = thumb_path(cfg, sha)
    preview = preview_path(cfg, sha)
    created: list[Path] = []
    try:
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, dest)
            created.append(dest)
        files.save_thumbnail(decoded, thumb)
        created.append(thumb)
        if files.save_preview(decoded, preview):
            created.append(preview)
        with catalog.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO stickers(sha256, fmt, width, height, animated, frames, size_bytes, phash, emoji,"
                " pack, added_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (sha, decoded.fmt, decoded.width, decoded.height, int(decoded.animated), decoded.frames,
                 len(data), phash, emoji or None, pack or None, now()))
            sticker_id = cur.lastrowid
            _upsert_source(conn, sticker_id, source, pack, size, mtime)
    except sqlite3.IntegrityError:
        # Another thread stored the same bytes between our check and our insert: merge instead.
        row = catalog.conn.execute("SELECT id FROM stickers WHERE sha256=?", (sha,)).fetchone()
        if row is None:
            raise
        with catalog.transaction() as conn:
            _merge_into(conn, row["id"], source, pack, emoji, size, mtime)
        return IngestResult(row["id"], False, None, decoded.fmt)
    except OSError as exc:
        for p in created:
            p.unlink(missing_ok=True)
        return IngestResult(None, False, ImportProblem(label, f"cannot write to the library ({exc})"))
    except BaseException:
        for p in created:
            p.unlink(missing_ok=True)
        raise
    return IngestResult(sticker_id, True, None, decoded.fmt)


def _merge_into(conn, sticker_id: int, source: str | None, pack: str | None, emoji: str | None,
                size: int | None, mtime: float | None) -> None:
    """An exact duplicate: record where it was found too, and fill emoji/pack the sticker lacks."""
    if emoji:
        conn.execute("UPDATE stickers SET emoji=? WHERE id=? AND (emoji IS NULL OR emoji='') "
                     "AND user_edited NOT LIKE '%\"emoji\"%'", (emoji, sticker_id))
    if pack:
        conn.execute("UPDATE stickers SET pack=? WHERE id=? AND (pack IS NULL OR pack='') "
                     "AND user_edited NOT LIKE '%\"pack\"%'", (pack, sticker_id))
    _upsert_source(conn, sticker_id, source, pack, size, mtime)


def _upsert_source(conn, sticker_id: int, source: str | None, pack: str | None, size: int | None,
                   mtime: float | None) -> None:
    if not source:
        return
    conn.execute(
        "INSERT INTO sticker_sources(sticker_id, path, pack, size_bytes, mtime, missing) VALUES(?,?,?,?,?,0) "
        "ON CONFLICT(path) DO UPDATE SET sticker_id=excluded.sticker_id, pack=COALESCE(excluded.pack, pack), "
        "size_bytes=excluded.size_bytes, mtime=excluded.mtime, missing=0",
        (sticker_id, source, pack, size, mtime))


# --- folders and packs ---------------------------------------------------------------------------
def add_folder(app, folder: Path | str, *, pack: str | None = None, progress: Progress | None = None,
               cancel: CancelToken | None = None) -> ImportReport:
    """Import every sticker under `folder` (or one .zip/.wastickers pack, or one file).

    Incremental: a file whose path, size and mtime match its recorded source is not read again.
    Files recorded under this folder that are gone are marked missing and reported. Per-file problems
    go into the report and the rest goes on; a cancel keeps everything finished so far.
    """
    progress = progress or no_progress
    root = Path(folder).expanduser()
    report = ImportReport(source=str(root), format="sticker-folder")
    if not root.exists():
        report.problems.append(ImportProblem(str(root), "no such file or folder", fatal=True))
        return report
    root = root.resolve()
    if root.is_file():
        items = [root]
    else:
        items = _walk(root, report)
    counts = {"unchanged": 0, "duplicates": 0, "skipped": 0}
    seen: set[str] = set()
    known = _known_sources(app, root)
    total = len(items)
    for i, path in enumerate(items):
        progress(i, total, path.name)
        if cancel is not None and cancel.cancelled:
            report.cancelled = True
            break
        default_pack = pack or path.parent.name or None
        if path.suffix.lower() in PACK_SUFFIXES or (root.is_file() and _is_zip(path)):
            _add_zip(app, path, pack, report, counts, seen, known, cancel)
            continue
        key = str(path)
        seen.add(key)
        try:
            st = path.stat()
        except OSError as exc:
            report.problems.append(ImportProblem(key, f"cannot read the file ({exc.strerror or exc})"))
            continue
        prev = known.get(key)
        if prev is not None and prev[0] == st.st_size and prev[1] == st.st_mtime and not prev[2]:
            counts["unchanged"] += 1
            continue
        if not _looks_like_sticker(path):
            counts["skipped"] += 1
            continue
        report.stickers_with_files += 1
        res = add_file(app, path, pack=default_pack, source=key)
        _count(res, report, counts)
    else:
        progress(total, total, "")
    if not report.cancelled and root.is_dir():
        _mark_missing(app, root, seen, known, report)
    _notes(report, counts)
    _remember_folder(app, root)
    return report


def _count(res: IngestResult, report: ImportReport, counts: dict) -> None:
    if res.problem is not None:
        report.problems.append(res.problem)
    elif res.added:
        report.stickers_added += 1
    else:
        counts["duplicates"] += 1


def _notes(report: ImportReport, counts: dict) -> None:
    report.notes.append(f"{report.stickers_added} stickers added, {counts['duplicates']} exact duplicates "
                        f"merged, {counts['unchanged']} unchanged since the last scan, "
                        f"{len(report.problems)} problems")
    if counts["skipped"]:
        report.notes.append(f"{counts['skipped']} files that are not stickers (by name and content) skipped")


def _walk(root: Path, report: ImportReport) -> list[Path]:
    out: list[Path] = []

    def onerror(exc: OSError) -> None:
        report.problems.append(ImportProblem(str(exc.filename or root), f"cannot list the folder ({exc.strerror})"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or name.lower() in _SKIP_NAMES:
                continue
            out.append(Path(dirpath) / name)
    return out


def _is_zip(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _looks_like_sticker(path: Path) -> bool:
    """Image-like names are always tried (a bad one is reported); other names only when the bytes say so."""
    if path.suffix.lower() in files.IMAGE_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return True  # let add_file report why it cannot be read
    return files.sniff(head) is not None


def _known_sources(app, root: Path) -> dict[str, tuple]:
    prefix = str(root)
    rows = app.catalog.conn.execute(
        "SELECT path, size_bytes, mtime, missing FROM sticker_sources WHERE path = ? OR path LIKE ? ESCAPE '\\' "
        "OR path LIKE ? ESCAPE '\\'", (prefix, _like_prefix(prefix), _like_prefix(prefix, "!"))).fetchall()
    return {r["path"]: (r["size_bytes"], r["mtime"], r["missing"]) for r in rows}


def _like_prefix(prefix: str, sep: str = os.sep) -> str:
    esc = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return esc + sep.replace("\\", "\\\\") + "%"


def _mark_missing(app, root: Path, seen: set[str], known: dict, report: ImportReport) -> None:
    gone = [p for p, (_, _, missing) in known.items() if p not in seen and not missing]
    if not gone:
        return
    with app.catalog.transaction() as conn:
        conn.executemany("UPDATE sticker_sources SET missing=1 WHERE path=?", [(p,) for p in gone])
    report.notes.append(f"{len(gone)} files imported before are gone from {root} (marked missing; "
                        "their stickers stay in the library)")
    for p in gone[:50]:
        report.notes.append(f"removed: {p}")


def _remember_folder(app, root: Path) -> None:
    """`library scan` re-scans every folder added before."""
    folders = list(app.catalog.get_kv("library.folders", []) or [])
    if str(root) not in folders:
        folders.append(str(root))
        app.catalog.set_kv("library.folders", folders)


# --- zip packs -----------------------------------------------------------------------------------
def safe_members(zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The regular-file members of a sticker pack, or UnsafeZip naming the first unsafe entry."""
    return _safe_members(zf, max_entries=ZIP_MAX_MEMBERS, max_total=ZIP_MAX_TOTAL, max_ratio=ZIP_MAX_RATIO,
                         inside="the pack")


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int = files.MAX_FILE_BYTES) -> bytes:
    return _read_member(zf, info, limit)


def _add_zip(app, path: Path, pack: str | None, report: ImportReport, counts: dict, seen: set[str],
             known: dict, cancel: CancelToken | None) -> None:
    label = str(path)
    try:
        st = path.stat()
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.problems.append(ImportProblem(label, f"not a readable sticker pack (zip): {exc}"))
        return
    with zf:
        try:
            members = safe_members(zf)
        except UnsafeZip as exc:
            report.problems.append(ImportProblem(label, str(exc)))
            return
        names = {m.filename.lower(): m for m in members}
        pack_name = pack
        if pack_name is None and "title.txt" in names:
            try:
                pack_name = read_member(zf, names["title.txt"], 4096).decode("utf-8", "replace").strip() or None
            except (UnsafeZip, OSError, zipfile.BadZipFile, RuntimeError):
                pack_name = None
        pack_name = pack_name or path.stem
        for info in members:
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                return
            base = PurePosixPath(info.filename).name
            if base.lower() in _SKIP_NAMES or base.startswith("."):
                continue
            key = f"{path}!{info.filename}"
            seen.add(key)
            prev = known.get(key)
            if prev is not None and prev[0] == info.file_size and prev[1] == st.st_mtime and not prev[2]:
                counts["unchanged"] += 1
                continue
            suffix = PurePosixPath(base).suffix.lower()
            member_label = f"{path} → {info.filename}"
            try:
                data = read_member(zf, info)
            except UnsafeZip as exc:
                report.problems.append(ImportProblem(label, str(exc)))
                continue
            except (OSError, zipfile.BadZipFile, RuntimeError, EOFError, NotImplementedError) as exc:
                report.problems.append(ImportProblem(member_label, f"cannot read from the pack ({exc})"))
                continue
            if suffix not in files.IMAGE_SUFFIXES and files.sniff(data[:64]) is None:
                counts["skipped"] += 1
                continue
            report.stickers_with_files += 1
            res = add_bytes(app, data, label=member_label, source=key, pack=pack_name,
                            size=info.file_size, mtime=st.st_mtime)
            _count(res, report, counts)
