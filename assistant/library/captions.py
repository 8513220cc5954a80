"""One-line sticker descriptions written by the user's multimodal GGUF (the describer role).

Captioning costs seconds per sticker on a CPU, so it is its own job rather than part of `describe`:
it commits every sticker as it goes (a cancel or a crash keeps every caption already written), skips
stickers whose description the user edited, and re-indexes the text vectors in batches so the new
words reach suggestion and search.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from assistant.jobs import CancelToken, Progress, no_progress
from assistant.library import files, index
from assistant.library.catalog import sticker_file
from assistant.ml.describer import DescriberError, ImageDescriber, clean_caption

log = logging.getLogger(__name__)

INDEX_EVERY = 16  # captions per index update: the embedder call is cheap next to a caption


class CaptionsUnavailable(RuntimeError):
    """No describer is installed; the message says how to install one."""


@dataclass
class CaptionReport:
    written: int = 0
    kept_user_edits: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (sticker id, why)
    cancelled: bool = False


def describer_for(app) -> ImageDescriber:
    """The app's describer, or CaptionsUnavailable saying how to install one."""
    d = app.describer
    if d is None:
        from assistant.ml.registry import _DESCRIBER_FIX

        raise CaptionsUnavailable(f"no describer model is installed; to write descriptions: {_DESCRIBER_FIX}")
    return d


def pending_ids(app, redo: bool = False) -> list[int]:
    """Stickers to caption: those without a description (every one with redo), never user-edited ones."""
    where = "" if redo else "WHERE (description IS NULL OR description = '')"
    return [r[0] for r in app.catalog.conn.execute(f"SELECT id FROM stickers {where} ORDER BY id")]


def caption(app, sticker_ids: list[int] | None = None, *, redo: bool = False, progress: Progress | None = None,
            cancel: CancelToken | None = None) -> CaptionReport:
    """Write a one-line description for these stickers (default: every sticker without one)."""
    progress = progress or no_progress
    describer = describer_for(app)
    ids = list(sticker_ids) if sticker_ids is not None else pending_ids(app, redo)
    report = CaptionReport()
    pending: list[int] = []
    progress(0, len(ids), "writing descriptions")
    try:
        for n, sid in enumerate(ids, 1):
            if cancel is not None and cancel.cancelled:
                report.cancelled = True
                break
            row = app.catalog.conn.execute("SELECT id, sha256, fmt, user_edited FROM stickers WHERE id=?",
                                           (sid,)).fetchone()
            if row is None:
                report.failed.append((sid, "no such sticker"))
                continue
            if "description" in set(json.loads(row["user_edited"] or "[]")):
                report.kept_user_edits += 1
                continue
            text = _caption_one(app, row, describer, report)
            if text:
                with app.catalog.transaction() as tx:
                    # re-checked inside the write: the user may have edited it while the model ran
                    tx.execute("UPDATE stickers SET description=? WHERE id=? AND "
                               "user_edited NOT LIKE '%\"description\"%'", (text, sid))
                report.written += 1
                pending.append(sid)
            if len(pending) >= INDEX_EVERY:
                index.reindex(app, pending)
                pending = []
            progress(n, len(ids), "writing descriptions")
    finally:
        if pending:
            index.reindex(app, pending)
    return report


def _caption_one(app, row, describer: ImageDescriber, report: CaptionReport) -> str:
    path = sticker_file(app.config.stickers_dir, row["sha256"], row["fmt"])
    try:
        image = files.decode(path).image
    except files.StickerFileError as exc:
        report.failed.append((row["id"], str(exc)))
        return ""
    try:
        text = clean_caption(describer.describe(image) or "")
    except DescriberError:
        raise  # the model itself is unusable: stop, and say so once
    except Exception as exc:  # noqa: BLE001 - one image the model chokes on must not stop the job
        log.warning("describer failed on sticker %s: %s", row["id"], exc)
        report.failed.append((row["id"], f"{type(exc).__name__}: {exc}"))
        return ""
    if not text:
        report.failed.append((row["id"], "the model wrote nothing"))
    return text
