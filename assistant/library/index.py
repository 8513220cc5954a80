"""Sticker vectors in Chroma: a text vector of each sticker's words (embedder) and an image vector
(CLIP, when installed). Ids are the catalog ids as strings; metadata carries what suggestion filters
on (hidden, favourite, pack). The catalog is the truth: `check` compares, `rebuild` starts over.
"""

from __future__ import annotations

import logging

import numpy as np

from assistant.app import ModelUnavailable
from assistant.domain import Sticker
from assistant.jobs import CancelToken, Progress, no_progress
from assistant.library.catalog import now
from assistant.memory.bank import STICKER_IMAGES, STICKER_TEXTS

log = logging.getLogger(__name__)

BATCH = 256  # texts per embedder call: each call has a fixed cost, larger batches amortise it


def sticker_text(sticker: Sticker) -> str:
    """The sticker's text side, as one passage: words on it, emoji, pack, tags, description, intent."""
    parts = []
    if sticker.ocr_text.strip():
        parts.append(" ".join(sticker.ocr_text.split()))
    if sticker.emoji:
        parts.append(sticker.emoji)
    if sticker.description.strip():
        parts.append(sticker.description.strip())
    if sticker.tags:
        parts.append(", ".join(sticker.tags))
    if sticker.intent:
        parts.append(sticker.intent)
    if sticker.pack:
        parts.append(f"({sticker.pack})")
    return " · ".join(parts) or "sticker"


def metadata(sticker: Sticker) -> dict:
    return {"sticker_id": sticker.id, "hidden": sticker.hidden, "favourite": sticker.favourite,
            "pack": sticker.pack or ""}


def reindex(app, ids: list[int] | None = None, *, progress: Progress | None = None,
            cancel: CancelToken | None = None, image_vectors: dict[int, np.ndarray] | None = None) -> int:
    """(Re)write the vectors of these stickers (all when None). Image vectors are computed only for
    stickers that have none yet (the pixels never change; `image_vectors` hands in ones already
    computed); the others get fresh metadata."""
    progress = progress or no_progress
    stickers = app.catalog.stickers(ids, app.config.stickers_dir)
    clip = app.clip
    total, done = len(stickers), 0
    for i in range(0, total, BATCH):
        if cancel is not None:
            cancel.check()
        chunk = stickers[i:i + BATCH]
        texts = [sticker_text(s) for s in chunk]
        try:
            vecs = _embed_unique(app, texts)
        except ModelUnavailable as exc:
            # No text vectors without the embedder: leave indexed_at unset so `library reindex`
            # completes the index once the model works; catalog search and the rest go on.
            log.warning("sticker text index skipped: %s", exc)
            if clip is not None:
                have = set(app.bank.get(STICKER_IMAGES, ids=[str(s.id) for s in chunk])["ids"])
                _index_images(app, clip, chunk, have, image_vectors or {})
            done += len(chunk)
            progress(done, total, "indexing")
            continue
        app.bank.upsert(STICKER_TEXTS, [str(s.id) for s in chunk], vecs, [metadata(s) for s in chunk], texts)
        if clip is not None:
            have = set(app.bank.get(STICKER_IMAGES, ids=[str(s.id) for s in chunk])["ids"])
            _index_images(app, clip, chunk, have, image_vectors or {})
        with app.catalog.transaction() as conn:
            t = now()
            conn.executemany("UPDATE stickers SET indexed_at=? WHERE id=?", [(t, s.id) for s in chunk])
        done += len(chunk)
        progress(done, total, "indexing")
    return done


def _embed_unique(app, texts: list[str]) -> np.ndarray:
    """Embed each distinct text once: stickers without words often share the same text side."""
    unique = list(dict.fromkeys(texts))
    vecs = app.embedder.passage(unique)
    row = {t: i for i, t in enumerate(unique)}
    return vecs[[row[t] for t in texts]]


def _index_images(app, clip, chunk: list[Sticker], have: set[str], given: dict[int, np.ndarray]) -> None:
    ready = [s for s in chunk if s.id in given]
    if ready:
        app.bank.upsert(STICKER_IMAGES, [str(s.id) for s in ready],
                        np.asarray([given[s.id] for s in ready], dtype=np.float32), [metadata(s) for s in ready])
    old = [s for s in chunk if str(s.id) in have and s.id not in given]
    new = [s for s in chunk if str(s.id) not in have and s.id not in given]
    if old:
        got = app.bank.get(STICKER_IMAGES, ids=[str(s.id) for s in old], include_embeddings=True)
        by_id = {i: e for i, e in zip(got["ids"], got["embeddings"])}
        keep = [s for s in old if str(s.id) in by_id]
        if keep:
            app.bank.upsert(STICKER_IMAGES, [str(s.id) for s in keep],
                            np.asarray([by_id[str(s.id)] for s in keep], dtype=np.float32),
                            [metadata(s) for s in keep])
    if new:
        images, ok = [], []
        for s in new:
            im = load_image(app, s)
            if im is not None:
                images.append(im)
                ok.append(s)
        if ok:
            vecs = clip.encode_images(images)
            app.bank.upsert(STICKER_IMAGES, [str(s.id) for s in ok], vecs, [metadata(s) for s in ok])


def load_image(app, sticker: Sticker):
    """The sticker's representative frame flattened on white (None when its file is gone or unreadable)."""
    from assistant.library import files

    if sticker.path is None or not sticker.path.exists():
        return None
    try:
        return files.flatten(files.decode(sticker.path).image)
    except files.StickerFileError as exc:
        log.warning("cannot index the image of sticker %s: %s", sticker.id, exc)
        return None


def remove(app, ids: list[int]) -> None:
    keys = [str(i) for i in ids]
    if not keys:
        return
    app.bank.delete(STICKER_TEXTS, keys)
    app.bank.delete(STICKER_IMAGES, keys)


def rebuild(app, *, progress: Progress | None = None, cancel: CancelToken | None = None) -> int:
    """Drop both sticker collections and index every sticker again from the catalog."""
    app.bank.drop(STICKER_TEXTS)
    app.bank.drop(STICKER_IMAGES)
    return reindex(app, None, progress=progress, cancel=cancel)


def check(app) -> tuple[set[int], set[int]]:
    """(catalog stickers without vectors, vectors without a catalog sticker) over the text collection,
    and the image collection too when CLIP is installed."""
    catalog_ids = {r[0] for r in app.catalog.conn.execute("SELECT id FROM stickers")}
    missing: set[int] = set()
    extra: set[int] = set()
    names = [STICKER_TEXTS] + ([STICKER_IMAGES] if app.clip is not None else [])
    for name in names:
        in_chroma = {int(i) for i in app.bank.ids(name)}
        missing |= catalog_ids - in_chroma
        extra |= in_chroma - catalog_ids
    return missing, extra
