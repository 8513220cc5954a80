"""The Chroma wrapper behaves the same embedded and against a real `chroma run` server on 127.0.0.1."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.memory.bank import Bank


def _exercise(bank: Bank) -> None:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(50, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    bank.upsert("things", [str(i) for i in range(50)], vecs,
                metadatas=[{"chat": i % 2, "none_dropped": None} for i in range(50)],
                documents=[f"doc {i}" for i in range(50)])
    assert bank.count("things") == 50
    hits = bank.query("things", vecs[7], k=3)
    assert hits[0].id == "7" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    hits = bank.query("things", vecs[7], k=5, where={"chat": 0})
    assert all(int(h.id) % 2 == 0 for h in hits)
    bank.delete("things", ids=["7"])
    assert "7" not in bank.ids("things")
    bank.drop("things")
    assert bank.count("things") == 0


def test_embedded_bank(tmp_path):
    _exercise(Bank(path=tmp_path / "chroma"))


def test_embedded_bank_persists(tmp_path):
    b = Bank(path=tmp_path / "chroma")
    b.upsert("keep", ["a"], np.ones((1, 4), dtype=np.float32))
    assert Bank(path=tmp_path / "chroma").count("keep") == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_chroma_server_bank(tmp_path):
    exe = Path(sys.executable).with_name("chroma")
    if not exe.exists() and not shutil.which("chroma"):
        pytest.fail("the chroma CLI is not installed alongside chromadb")
    port = _free_port()
    proc = subprocess.Popen([str(exe if exe.exists() else "chroma"), "run", "--path", str(tmp_path / "srv"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("chroma server did not start within 60 s")
        _exercise(Bank(url=f"http://127.0.0.1:{port}"))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
