"""The GGUF header reader: same values as the gguf package, only the keys asked for, clear errors."""

from __future__ import annotations

import pytest

from assistant.ml.gguf_meta import GGUFError, read_metadata
from tests.library.tiny_mmproj import write_header_only, write_projector


def test_matches_the_gguf_package(tmp_path):
    from gguf import GGUFReader

    path = write_projector(tmp_path / "p.gguf", 32)
    ours = read_metadata(path)
    theirs = {k: f.contents() for k, f in GGUFReader(str(path)).fields.items() if not k.startswith("GGUF.")}
    assert ours.keys() == theirs.keys()
    for k, v in ours.items():
        assert v == pytest.approx(theirs[k]) if isinstance(v, float) else v == theirs[k], k
    assert read_metadata(path, {"clip.projector_type"}) == {"clip.projector_type": "mlp"}


def test_real_model_header(summarizer_gguf):
    meta = read_metadata(summarizer_gguf, {"general.architecture", "qwen2.embedding_length"})
    assert meta == {"general.architecture": "qwen2", "qwen2.embedding_length": 896}
    assert len(read_metadata(summarizer_gguf)["tokenizer.ggml.tokens"]) > 100_000  # arrays of strings too


@pytest.mark.parametrize("data,why", [
    (b"", "not a GGUF file"),
    (b"PK\x03\x04 a zip", "not a GGUF file"),
    (b"GGUF\x09\x00\x00\x00" + b"\x00" * 16, "version 9"),
])
def test_bad_headers(tmp_path, data, why):
    p = tmp_path / "bad.gguf"
    p.write_bytes(data)
    with pytest.raises(GGUFError, match=why):
        read_metadata(p)


def test_truncated_header(tmp_path):
    full = write_header_only(tmp_path / "lm.gguf", "llama").read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(full[:40])  # inside the key–value section
    with pytest.raises(GGUFError, match="truncated"):
        read_metadata(cut)


def test_missing_file(tmp_path):
    with pytest.raises(GGUFError, match="cannot read"):
        read_metadata(tmp_path / "nope.gguf")
