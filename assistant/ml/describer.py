"""The describer role: a multimodal GGUF (language model + vision projector) writes one line per sticker.

IGSR describes each sticker with attributes and a short description; OCR and the zero-shot labels give
the attributes, and this role gives the description when the user has installed a multimodal GGUF.
It goes through llama-cpp-python's chat handlers: the projector's own `clip.projector_type` says which
handler formats the image prompt (LLaVA, Qwen2.5-VL, MiniCPM-V, Moondream, Gemma 4), and any other
projector goes through the generic libmtmd handler with the model's own chat template. Like the
summarizer it loads lazily, once, and generates one caption at a time.
"""

from __future__ import annotations

import atexit
import base64
import io
import logging
import re
import threading
import time
from pathlib import Path
from typing import Protocol

from assistant.ml.llm import LLMError, gpu_offload_supported, physical_cores

log = logging.getLogger(__name__)

MAX_SIDE = 448  # the projectors in use take 224–448 px; sending more only costs encode time
MAX_CHARS = 160
SYSTEM = ("You describe chat stickers for a sticker search engine. Answer with one short line: who or what "
          "is shown, the expression or gesture, and the mood. No preamble.")
ASK = "Describe this sticker in one line."

# projector type (from the mmproj GGUF) -> llama-cpp-python chat handler class name
_HANDLERS = {
    "mlp": "Llava15ChatHandler", "mlp_norm": "Llava15ChatHandler", "ldp": "Llava15ChatHandler",
    "ldpv2": "Llava15ChatHandler",
    "qwen2vl_merger": "Qwen25VLChatHandler", "qwen2.5vl_merger": "Qwen25VLChatHandler",
    "resampler": "MiniCPMv26ChatHandler",
    "gemma4v": "Gemma4ChatHandler",
}
GENERIC_HANDLER = "MTMDChatHandler"


class DescriberError(LLMError):
    """The describer's files cannot be used; the message names the file and what to do."""


class ImageDescriber(Protocol):
    """What the library needs from a describer: an image in, one line of text out."""

    name: str

    def describe(self, image) -> str: ...


_KEYS = {"general.architecture", "clip.has_vision_encoder", "clip.projector_type", "clip.vision.projector_type"}


def _gguf_fields(path: Path) -> dict:
    """The few header keys the checks need, or DescriberError naming the file."""
    from assistant.ml.gguf_meta import GGUFError, read_metadata

    try:
        return read_metadata(path, _KEYS)
    except GGUFError as exc:
        raise DescriberError(f"{path}: not a readable GGUF file ({exc})") from None


def projector_type(path: Path | str) -> str:
    """The vision projector's type; DescriberError when the file is not a vision projector."""
    path = Path(path)
    fields = _gguf_fields(path)
    if fields.get("general.architecture") != "clip":
        raise DescriberError(f"{path}: not a vision projector (an \"mmproj\" GGUF); its architecture is "
                             f"{fields.get('general.architecture')!r}. Pick the mmproj file that comes with the model.")
    if fields.get("clip.has_vision_encoder") is False:
        raise DescriberError(f"{path}: this projector has no vision encoder (audio only?)")
    kind = fields.get("clip.vision.projector_type") or fields.get("clip.projector_type")
    if not kind:
        raise DescriberError(f"{path}: the projector does not say its type (clip.projector_type is missing)")
    return str(kind)


def check_language_model(path: Path | str) -> str:
    """The model's architecture; DescriberError when the file is a projector or not a GGUF at all."""
    path = Path(path)
    arch = _gguf_fields(path).get("general.architecture")
    if arch == "clip":
        raise DescriberError(f"{path}: this is a vision projector (mmproj); import it as describer-projector, "
                             "and the language model GGUF as describer")
    if not arch:
        raise DescriberError(f"{path}: GGUF without general.architecture; not a language model")
    return str(arch)


def handler_name(projector: str, model_name: str = "") -> str:
    """Which chat handler formats prompts for this projector (Moondream is told apart by its name)."""
    if "moondream" in model_name.lower():
        return "MoondreamChatHandler"
    return _HANDLERS.get(projector.lower(), GENERIC_HANDLER)


def clean_caption(text: str) -> str:
    """One tidy line from whatever the model wrote: no preamble, quotes or trailing half-sentence."""
    lines = [ln.strip() for ln in text.replace("\r", "\n").split("\n") if ln.strip()]
    line = lines[0] if lines else ""
    line = re.sub(r"^(?:(?:the |this )?(?:sticker|image|picture)\s*(?:shows|depicts|is of|features)\s*:?\s*)",
                  "", line, flags=re.IGNORECASE)
    line = line.strip(" \"'“”‘’`*-")
    if len(line) > MAX_CHARS:
        cut = line[:MAX_CHARS]
        line = (cut.rsplit(" ", 1)[0] if " " in cut else cut).rstrip(",;:") + "…"
    return line[:1].upper() + line[1:]


def image_data_uri(image) -> str:
    """The image as a PNG data URI, shrunk to MAX_SIDE on its long side, transparency on white."""
    from PIL import Image

    img = image
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        img = Image.new("RGB", rgba.size, (255, 255, 255))
        img.paste(rgba, mask=rgba.getchannel("A"))
    else:
        img = img.convert("RGB")
    if max(img.size) > MAX_SIDE:
        img.thumbnail((MAX_SIDE, MAX_SIDE))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class LlamaCppDescriber:
    """A local multimodal GGUF. Thread-safe: one caption at a time."""

    def __init__(self, model_path: Path | str, projector_path: Path | str, *, n_ctx: int = 2048,
                 n_threads: int | None = None, n_gpu_layers: int | None = None, max_tokens: int = 48) -> None:
        self.model_path, self.projector_path = Path(model_path), Path(projector_path)
        self.name = self.model_path.name
        self.n_ctx, self.max_tokens = n_ctx, max_tokens
        self.n_threads = n_threads or physical_cores()
        self.n_gpu_layers = n_gpu_layers
        self.handler: str | None = None
        self.load_seconds: float | None = None
        self._llama = None
        self._lock = threading.RLock()

    def _load(self):
        for p, role in ((self.model_path, "describer"), (self.projector_path, "describer-projector")):
            if not p.is_file():
                raise DescriberError(f"{p}: file not found; import it with "
                                     f"`sticker-assistant models import {role} FILE`")
        kind = projector_type(self.projector_path)
        check_language_model(self.model_path)
        try:
            import llama_cpp
            from llama_cpp import llama_chat_format
        except ImportError as exc:
            raise DescriberError(f"llama-cpp-python is not installed; descriptions need it: {exc}") from None
        self.handler = handler_name(kind, self.model_path.name)
        handler_cls = getattr(llama_chat_format, self.handler, None) or getattr(llama_chat_format, GENERIC_HANDLER)
        gpu_layers = self.n_gpu_layers if self.n_gpu_layers is not None else (-1 if gpu_offload_supported() else 0)
        t0 = time.perf_counter()
        try:
            handler = handler_cls(clip_model_path=str(self.projector_path), verbose=False)
            llama = llama_cpp.Llama(model_path=str(self.model_path), chat_handler=handler, n_ctx=self.n_ctx,
                                    n_threads=self.n_threads, n_threads_batch=self.n_threads,
                                    n_gpu_layers=gpu_layers, verbose=False)
        except (ValueError, RuntimeError, OSError) as exc:
            raise DescriberError(f"{self.model_path.name} + {self.projector_path.name}: llama.cpp could not load "
                                 f"this pair ({exc}). The projector must be the one made for this model.") from None
        self.load_seconds = time.perf_counter() - t0
        log.info("describer %s loaded in %.2fs with %s (projector %s)", self.name, self.load_seconds,
                 self.handler, kind)
        return llama

    def describe(self, image) -> str:
        with self._lock:
            if self._llama is None:
                self._llama = self._load()
            messages = [{"role": "system", "content": SYSTEM},
                        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": image_data_uri(image)}},
                                                     {"type": "text", "text": ASK}]}]
            try:
                out = self._llama.create_chat_completion(messages=messages, max_tokens=self.max_tokens,
                                                         temperature=0.0, repeat_penalty=1.15, seed=0)
            except (ValueError, RuntimeError) as exc:
                raise DescriberError(f"{self.name}: could not describe the image ({exc})") from None
        return clean_caption(out["choices"][0]["message"].get("content") or "")

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None


_cache: dict[tuple[str, str], LlamaCppDescriber] = {}
_cache_lock = threading.Lock()


def load_describer(config) -> LlamaCppDescriber | None:
    """The process-wide describer when both of its files are installed, else None (descriptions off)."""
    from assistant.ml import registry

    model = registry.installed_path("describer", config.models_dir)
    projector = registry.installed_path("describer-projector", config.models_dir)
    if model is None or projector is None:
        return None
    key = (str(model), str(projector))
    with _cache_lock:
        d = _cache.get(key)
        if d is None:
            gpu_layers = 0 if getattr(config.settings, "device", "auto") == "cpu" else None
            d = _cache[key] = LlamaCppDescriber(model, projector, n_gpu_layers=gpu_layers)
        return d


def close_all() -> None:
    with _cache_lock:
        for d in _cache.values():
            d.close()
        _cache.clear()


atexit.register(close_all)
