"""A tiny vision projector ("mmproj" GGUF) with random weights, written with the gguf package.

No multimodal GGUF installs from PyPI, so the describer's end-to-end test pairs the real summarizer
GGUF with this LLaVA-style (`mlp`) projector: llama.cpp's libmtmd really loads it, encodes the image
into embeddings of the language model's width and the model really generates. The words are noise
(the projector is untrained); the test checks the path, not the prose.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def text_width(model: Path) -> int:
    """The language model's embedding width: the projector must output exactly that."""
    from assistant.ml.gguf_meta import read_metadata

    arch = read_metadata(model, {"general.architecture"})["general.architecture"]
    return int(read_metadata(model, {f"{arch}.embedding_length"})[f"{arch}.embedding_length"])


def write_projector(path: Path, out_width: int, *, image: int = 56, patch: int = 14, width: int = 64,
                    seed: int = 0) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_string("general.name", "tiny random test projector")
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_llava_projector", True)
    w.add_string("clip.projector_type", "mlp")
    for key, value in (("image_size", image), ("patch_size", patch), ("embedding_length", width),
                       ("feed_forward_length", 2 * width), ("projection_dim", out_width), ("block_count", 1),
                       ("attention.head_count", 4)):
        w.add_uint32(f"clip.vision.{key}", value)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    w.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    w.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    w.add_bool("clip.use_gelu", True)

    def rand(name: str, *shape: int) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    def norm(name: str, n: int) -> None:
        w.add_tensor(f"{name}.weight", np.ones(n, np.float32))
        w.add_tensor(f"{name}.bias", np.zeros(n, np.float32))

    rand("v.patch_embd.weight", width, 3, patch, patch)
    rand("v.class_embd", width)
    rand("v.position_embd.weight", (image // patch) ** 2 + 1, width)
    norm("v.pre_ln", width)
    for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
        rand(f"v.blk.0.{name}.weight", width, width)
        w.add_tensor(f"v.blk.0.{name}.bias", np.zeros(width, np.float32))
    norm("v.blk.0.ln1", width)
    norm("v.blk.0.ln2", width)
    rand("v.blk.0.ffn_up.weight", 2 * width, width)
    w.add_tensor("v.blk.0.ffn_up.bias", np.zeros(2 * width, np.float32))
    rand("v.blk.0.ffn_down.weight", width, 2 * width)
    w.add_tensor("v.blk.0.ffn_down.bias", np.zeros(width, np.float32))
    rand("mm.0.weight", out_width, width)
    w.add_tensor("mm.0.bias", np.zeros(out_width, np.float32))
    rand("mm.2.weight", out_width, out_width)
    w.add_tensor("mm.2.bias", np.zeros(out_width, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def write_header_only(path: Path, arch: str) -> Path:
    """A GGUF with metadata and no tensors: enough for the import checks, not loadable by llama.cpp."""
    import gguf

    w = gguf.GGUFWriter(str(path), arch)
    w.add_string("general.name", f"header-only {arch}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
