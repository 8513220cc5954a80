"""The OCR role: words on stickers, Chinese and English, with RapidOCR (PP-OCR on onnxruntime).

Behind a small interface (`Ocr.read(image) -> OcrResult`) so the backend can change. The engine is
loaded lazily, once per process. Speed levers, measured in tests/benchmarks/bench_ingest.py:
- detection runs on a downscaled copy (stickers are 512 px; RapidOCR's default *upscales* the short
  side to 736 before detecting), and recognition reads crops of that same copy;
- the text-direction classifier is off (sticker words are upright);
- when detection finds no box, recognition is skipped (most stickers carry no words).
- each onnxruntime session runs single-threaded and callers read several images at once (one per core):
  on a busy 2-core machine that is ~3x faster than one image at a time over two intra-op threads, which
  oversubscribe the cores. `read` is safe to call from several threads.
Weak hits (low scores, lone Latin characters or digits) are dropped: they are noise, not words.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

DET_SIDE = 384  # longest side the detector sees (480: +50% CPU, no more real words on the 140 fixtures)
MIN_SCORE = 0.6  # recognition confidence below this is dropped


@dataclass
class OcrResult:
    text: str  # the kept lines joined with newlines ("" when the sticker has no words)
    lines: list[tuple[str, float]] = field(default_factory=list)
    seconds: float = 0.0


class Ocr:
    """Thread-safe RapidOCR wrapper; one engine per process via `get_ocr()`. `threads` is onnxruntime's
    intra-op thread count per call (None: onnxruntime's default, every core)."""

    def __init__(self, det_side: int = DET_SIDE, min_score: float = MIN_SCORE, threads: int | None = 1) -> None:
        self.det_side = det_side
        self.min_score = min_score
        self.threads = threads
        self._engine = None
        self._load_lock = threading.Lock()

    def _get(self):
        with self._load_lock:
            if self._engine is None:
                from rapidocr import RapidOCR

                params = {"Global.log_level": "error", "Global.use_cls": False,
                          "Det.limit_type": "max", "Det.limit_side_len": self.det_side}
                if self.threads:
                    params["EngineConfig.onnxruntime.intra_op_num_threads"] = self.threads
                    params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
                logging.getLogger("RapidOCR").setLevel(logging.ERROR)
                self._engine = RapidOCR(params=params)
            return self._engine

    def read(self, image: Image.Image) -> OcrResult:
        """Words on one image (RGBA is flattened on white first: transparent pixels read as black)."""
        start = time.perf_counter()
        engine = self._get()
        im = _prepare(image, self.det_side)
        out = engine(np.asarray(im))
        lines = []
        txts = getattr(out, "txts", None) or ()
        scores = getattr(out, "scores", None) or ()
        for txt, score in zip(txts, scores):
            txt = str(txt).strip()
            if float(score) >= self.min_score and _is_word(txt):
                lines.append((txt, round(float(score), 3)))
        return OcrResult("\n".join(t for t, _ in lines), lines, time.perf_counter() - start)


def _prepare(image: Image.Image, side: int) -> Image.Image:
    if image.mode == "RGBA":
        base = Image.new("RGB", image.size, (255, 255, 255))
        base.paste(image, mask=image.getchannel("A"))
        image = base
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if max(image.size) > side:
        image = image.copy()
        image.thumbnail((side, side), Image.Resampling.BILINEAR)
    return image


def _is_word(txt: str) -> bool:
    """Keep CJK of any length; Latin/digit hits need two letters or digits (lone 'O', '0' are noise)."""
    if not txt:
        return False
    if any(unicodedata.name(c, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")) for c in txt):
        return True
    return sum(c.isalnum() for c in txt) >= 2


_default: Ocr | None = None
_default_lock = threading.Lock()


def get_ocr() -> Ocr:
    global _default
    with _default_lock:
        if _default is None:
            _default = Ocr()
        return _default
