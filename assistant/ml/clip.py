"""The image–text encoder role (open_clip).

`load_clip(config)` returns an encoder when CLIP weights are installed (or a model was handed in, as
tests do with tiny randomly initialised open_clip models) and None otherwise: callers then switch the
image features off and say so. Weights are never downloaded here; `models install clip` does that.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)


class ClipEncoder:
    """Batched, no-grad encoding to L2-normalised float32 rows."""

    def __init__(self, model, preprocess, tokenizer, device: str = "cpu", name: str = "custom") -> None:
        import torch

        self.torch = torch
        self.model = model.eval().to(device)
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.name = name
        self._lock = threading.Lock()
        with torch.no_grad():
            probe = self.tokenizer(["probe"]).to(device)
            self.dim = int(self.model.encode_text(probe).shape[-1])

    def encode_images(self, images: list[Image.Image], batch: int = 32) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        torch = self.torch
        with self._lock, torch.no_grad():
            for i in range(0, len(images), batch):
                x = torch.stack([self.preprocess(im.convert("RGB")) for im in images[i:i + batch]]).to(self.device)
                with torch.autocast("cuda", enabled=self.device == "cuda"):
                    feats = self.model.encode_image(x)
                out.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def encode_texts(self, texts: list[str], batch: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        torch = self.torch
        with self._lock, torch.no_grad():
            for i in range(0, len(texts), batch):
                tok = self.tokenizer(texts[i:i + batch]).to(self.device)
                with torch.autocast("cuda", enabled=self.device == "cuda"):
                    feats = self.model.encode_text(tok)
                out.append(torch.nn.functional.normalize(feats.float(), dim=-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)


def create_encoder(model_name: str, checkpoint: Path | None, device: str = "cpu") -> ClipEncoder:
    from assistant.ml.torchvision_shim import ensure_torchvision

    ensure_torchvision()
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(
        model_name, pretrained=str(checkpoint) if checkpoint else None, device=device)
    tokenizer = open_clip.get_tokenizer(model_name)
    return ClipEncoder(model, preprocess, tokenizer, device=device, name=model_name)


def tiny_encoder(dim: int = 64, layers: int = 2, seed: int = 0) -> ClipEncoder:
    """A tiny randomly initialised open_clip model: the real encoder code path with nothing to download.

    For `--selftest` and the tests only; its vectors carry no meaning, so it never ranks real stickers.
    """
    from assistant.ml.torchvision_shim import ensure_torchvision

    ensure_torchvision()
    import open_clip
    import torch

    torch.manual_seed(seed)
    name = f"tiny-clip-{dim}-{layers}"
    open_clip.factory._MODEL_CONFIGS[name] = {
        "embed_dim": dim,
        "vision_cfg": {"image_size": dim, "layers": layers, "width": dim, "patch_size": 16, "head_width": dim // 2},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": dim, "heads": 2, "layers": layers}}
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=None)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")  # the BPE vocabulary that ships with open_clip
    return ClipEncoder(model, preprocess, tokenizer, device="cpu", name=name)


_cache: dict[tuple, ClipEncoder] = {}
_cache_lock = threading.Lock()


def load_clip(config) -> ClipEncoder | None:
    """The installed CLIP encoder, loaded once per process; None when no weights are installed."""
    from assistant.ml.device import pick_device
    from assistant.ml.registry import installed_path

    path = installed_path("clip", config.models_dir)
    if path is None:
        return None
    key = (config.settings.clip_model, str(path), config.settings.device)
    with _cache_lock:
        if key not in _cache:
            try:
                _cache[key] = create_encoder(config.settings.clip_model, path, pick_device(config.settings.device))
            except Exception as exc:  # noqa: BLE001 - a broken checkpoint must not take the app down
                log.error("CLIP weights at %s failed to load: %s", path, exc)
                return None
        return _cache[key]
