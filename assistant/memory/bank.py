"""Chroma, wrapped: the one place that talks to the vector store.

Embedded `PersistentClient` by default, `HttpClient` when the user points the app at a Chroma server
(teams, several devices, very large libraries). Every call passes explicit embeddings: Chroma's
default embedding function would try to download a model and fails offline. Telemetry is off.
Chroma is a cache of the catalog: each collection can be dropped and rebuilt from SQLite.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

log = logging.getLogger(__name__)

# Collection names (Chroma wants >= 3 characters).
MEMORIES = "memories"
STICKER_IMAGES = "sticker_images"
STICKER_TEXTS = "sticker_texts"

# HNSW defaults tuned for recall on real embeddings (see BENCHMARKS.md); cosine space everywhere.
HNSW = {"hnsw:space": "cosine", "hnsw:M": 32, "hnsw:construction_ef": 200, "hnsw:search_ef": 128}


@dataclass
class Hit:
    id: str
    score: float  # cosine similarity (1 - distance)
    metadata: dict
    document: str | None = None


class Bank:
    """Thread-safe facade over one Chroma client. One process owns an embedded store."""

    def __init__(self, path: Path | None = None, url: str | None = None) -> None:
        self.path = path
        self.url = url
        self._client = None
        self._collections: dict[str, object] = {}
        self._lock = threading.RLock()

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
                if self.url:
                    u = urlparse(self.url)
                    self._client = chromadb.HttpClient(host=u.hostname or "127.0.0.1",
                                                       port=u.port or (443 if u.scheme == "https" else 8000),
                                                       ssl=u.scheme == "https", settings=settings)
                else:
                    assert self.path is not None, "an embedded bank needs a directory"
                    self.path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(path=str(self.path), settings=settings)
            return self._client

    def collection(self, name: str):
        with self._lock:
            col = self._collections.get(name)
            if col is None:
                col = self.client.get_or_create_collection(name=name, metadata=dict(HNSW),
                                                           embedding_function=None)
                self._collections[name] = col
            return col

    def upsert(self, name: str, ids: list[str], embeddings: np.ndarray | list, metadatas: list[dict] | None = None,
               documents: list[str] | None = None, batch: int = 2000) -> None:
        if not ids:
            return
        emb = np.asarray(embeddings, dtype=np.float32)
        col = self.collection(name)
        for i in range(0, len(ids), batch):
            col.upsert(ids=ids[i:i + batch], embeddings=emb[i:i + batch],
                       metadatas=_clean_meta(metadatas[i:i + batch]) if metadatas else None,
                       documents=documents[i:i + batch] if documents else None)

    def query(self, name: str, embedding: np.ndarray, k: int = 10, where: dict | None = None) -> list[Hit]:
        col = self.collection(name)
        n = col.count()
        if n == 0:
            return []
        res = col.query(query_embeddings=[np.asarray(embedding, dtype=np.float32)], n_results=min(k, n),
                        where=where or None, include=["metadatas", "distances", "documents"])
        hits = []
        for i, id_ in enumerate(res["ids"][0]):
            hits.append(Hit(id=id_, score=1.0 - float(res["distances"][0][i]),
                            metadata=(res["metadatas"][0][i] or {}),
                            document=(res["documents"][0][i] if res.get("documents") else None)))
        return hits

    def get(self, name: str, ids: list[str] | None = None, where: dict | None = None,
            include_embeddings: bool = False) -> dict:
        include = ["metadatas", "documents"] + (["embeddings"] if include_embeddings else [])
        return self.collection(name).get(ids=ids, where=where or None, include=include)

    def delete(self, name: str, ids: list[str] | None = None, where: dict | None = None) -> None:
        if ids is not None and not ids:
            return
        self.collection(name).delete(ids=ids, where=where or None)

    def count(self, name: str) -> int:
        return self.collection(name).count()

    def ids(self, name: str) -> set[str]:
        return set(self.collection(name).get(include=[])["ids"])

    def drop(self, name: str) -> None:
        with self._lock:
            try:
                self.client.delete_collection(name)
            except Exception:  # noqa: BLE001 - absent collection is fine
                pass
            self._collections.pop(name, None)


def _clean_meta(metas: list[dict]) -> list[dict]:
    """Chroma metadata values must be str/int/float/bool and not None; drop the rest."""
    out = []
    for m in metas:
        clean = {k: v for k, v in (m or {}).items() if isinstance(v, (str, int, float, bool))}
        out.append(clean or {"_": 0})
    return out
