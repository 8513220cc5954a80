"""Describing stickers with the IGSR paper's attributes: the words on them (OCR), and — when the
image–text model is installed — zero-shot labels for facial expression, gesture, posture, style,
subject kind and intent (the 28 GoEmotions labels), each with a confidence.

Without CLIP, a sticker's intent comes from its emoji (`ml/emoji_intents.py`). Fields the user edited
(listed in stickers.user_edited) are never overwritten. Work goes in batches, each committed and
re-indexed on its own, so a cancel keeps every finished batch.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from assistant.jobs import CancelToken, Progress, no_progress
from assistant.library import files, index
from assistant.library.catalog import now, sticker_file
from assistant.ml.emoji_intents import intent_for_emoji
from assistant.ml.labels import label_sets, prompts

log = logging.getLogger(__name__)

BATCH = 32  # stickers per catalog transaction (and per CLIP batch)
INDEX_EVERY = 256  # described stickers per index update
OCR_WORKERS = max(1, min(4, os.cpu_count() or 2))  # OCR sessions are single-threaded: one per core
LOGIT_SCALE = 100.0  # CLIP's learned temperature, as the released models use it
TOP_K = 3


def describe(app, sticker_ids: list[int] | None = None, *, progress: Progress | None = None,
             cancel: CancelToken | None = None, ocr: bool = True) -> int:
    """Describe these stickers (default: every sticker not described yet); returns how many were done."""
    progress = progress or no_progress
    conn = app.catalog.conn
    if sticker_ids is None:
        ids = [r[0] for r in conn.execute("SELECT id FROM stickers WHERE described_at IS NULL ORDER BY id")]
    else:
        ids = list(sticker_ids)
    clip = app.clip
    reader = None
    if ocr:
        from assistant.ml.ocr import get_ocr

        try:
            reader = get_ocr()
        except Exception as exc:  # noqa: BLE001 - a broken OCR install must not stop the rest
            log.warning("OCR failed to load; describing without reading words: %s", exc)
            app.failed["ocr"] = f"failed to load ({type(exc).__name__}: {exc})"
    total, done = len(ids), 0
    progress(0, total, "describing")
    pending: list[int] = []  # described, not yet indexed: the embedder pays a fixed cost per call
    vectors: dict[int, np.ndarray] = {}
    try:
        with ThreadPoolExecutor(max_workers=OCR_WORKERS, thread_name_prefix="describe") as pool:
            for start in range(0, total, BATCH):
                if cancel is not None and cancel.cancelled:
                    break
                batch = ids[start:start + BATCH]
                rows = {r["id"]: r for r in conn.execute(
                    f"SELECT id, sha256, fmt, emoji, attrs, user_edited FROM stickers WHERE id IN "
                    f"({','.join('?' * len(batch))})", batch)}
                batch = [i for i in batch if i in rows]
                if reader is None and clip is None:  # nothing looks at the pixels: skip decoding
                    results = [(None, None) for _ in batch]
                else:
                    results = list(pool.map(lambda i: _read_one(app, rows[i], reader), batch))
                labels = None
                if clip is not None:
                    labels, batch_vectors = _zero_shot(clip, [img for img, _ in results], batch)
                    vectors.update(batch_vectors)
                with app.catalog.transaction() as tx:
                    for k, sid in enumerate(batch):
                        image, ocr_result = results[k]
                        _store(tx, rows[sid], ocr_result, labels[k] if labels is not None and image is not None
                               else None)
                pending.extend(batch)
                if len(pending) >= INDEX_EVERY:
                    index.reindex(app, pending, image_vectors=vectors)
                    pending, vectors = [], {}
                done += len(batch)
                progress(done, total, "describing")
    finally:
        # Whatever was described (also on cancel or error) reaches the index before returning.
        if pending:
            index.reindex(app, pending, image_vectors=vectors)
    return done


def _read_one(app, row, reader):
    """Decode the stored file and read its words; (None, None) when the file is gone or broken."""
    path = sticker_file(app.config.stickers_dir, row["sha256"], row["fmt"])
    try:
        image = files.flatten(files.decode(path).image)
    except files.StickerFileError as exc:
        log.warning("cannot describe sticker %s: %s", row["id"], exc)
        return None, None
    if reader is None or "ocr_text" in _edited(row):
        return image, None
    try:
        return image, reader.read(image)
    except Exception as exc:  # noqa: BLE001 - an OCR failure on one image must not stop the batch
        log.warning("OCR failed on sticker %s: %s", row["id"], exc)
        return image, None


def _edited(row) -> set[str]:
    try:
        return set(json.loads(row["user_edited"] or "[]"))
    except ValueError:
        return set()


def _store(tx, row, ocr_result, labels: dict | None) -> None:
    edited = _edited(row)
    try:
        attrs = json.loads(row["attrs"] or "{}")
    except ValueError:
        attrs = {}
    sets: dict[str, object] = {"described_at": now()}
    if ocr_result is not None and "ocr_text" not in edited:
        sets["ocr_text"] = ocr_result.text
        attrs["ocr_lines"] = [[t, s] for t, s in ocr_result.lines]
    if labels:
        for name, value in labels.items():
            if name not in edited:
                attrs[name] = value
        if "intent" not in edited:
            sets["intent"] = labels["intent"]["label"]
            sets["intent_conf"] = labels["intent"]["conf"]
        if "style" not in edited:
            sets["style"] = labels["style"]["label"]
    elif "intent" not in edited:
        guess = intent_for_emoji(row["emoji"])
        if guess:
            attrs["intent"] = {"label": guess, "conf": 1.0, "source": "emoji", "top": [[guess, 1.0]]}
            sets["intent"] = guess
            sets["intent_conf"] = 1.0
    sets["attrs"] = json.dumps(attrs, ensure_ascii=False)
    cols = ", ".join(f"{k}=?" for k in sets)
    tx.execute(f"UPDATE stickers SET {cols} WHERE id=?", [*sets.values(), row["id"]])


# --- zero-shot labels ----------------------------------------------------------------------------
_prompt_cache: dict[int, dict[str, np.ndarray]] = {}
_prompt_lock = threading.Lock()


def _prompt_vectors(clip) -> dict[str, np.ndarray]:
    """Each label set's caption vectors, encoded once per encoder."""
    key = id(clip)
    with _prompt_lock:
        if key not in _prompt_cache:
            _prompt_cache[key] = {name: clip.encode_texts(prompts(name)) for name in label_sets()}
        return _prompt_cache[key]


def zero_shot(clip, image_vectors: np.ndarray) -> list[dict]:
    """Per image: {set: {"label", "conf", "top": [[label, p], ...]}} from a softmax within each set."""
    vecs = _prompt_vectors(clip)
    sets = label_sets()
    out: list[dict] = [{} for _ in range(len(image_vectors))]
    for name, text_vecs in vecs.items():
        logits = LOGIT_SCALE * (image_vectors @ text_vecs.T)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        for i, p in enumerate(probs):
            order = np.argsort(-p)[:TOP_K]
            out[i][name] = {"label": sets[name][order[0]], "conf": round(float(p[order[0]]), 4),
                            "top": [[sets[name][j], round(float(p[j]), 4)] for j in order], "source": "clip"}
    return out


def _zero_shot(clip, images: list, ids: list[int]) -> tuple[list[dict | None], dict[int, np.ndarray]]:
    """Labels per image, and the image vectors by sticker id (the index reuses them)."""
    ok = [i for i, im in enumerate(images) if im is not None]
    out: list[dict | None] = [None] * len(images)
    if not ok:
        return out, {}
    vecs = clip.encode_images([images[i] for i in ok])
    for i, labels in zip(ok, zero_shot(clip, vecs)):
        out[i] = labels
    return out, {ids[i]: vecs[k] for k, i in enumerate(ok)}
