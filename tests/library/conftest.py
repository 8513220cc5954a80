"""Helpers for the library tests: real files of every sticker format, written by the libraries that
write those formats (Pillow, gzip + Lottie JSON, PyAV), and the real sticker fixtures from ../shared."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.conftest import shared_path

DEMO = ("fixtures", "stickers", "stickerconv-demo")
TELEGRAM = ("fixtures", "exports", "frozenspider__chat-history-manager", "telegram_2020-01", "chats")


def demo_dir() -> Path:
    return shared_path(*DEMO)


def demo_files() -> list[Path]:
    return sorted(demo_dir().glob("*.jpg"))


def telegram_sticker_files() -> list[Path]:
    root = shared_path(*TELEGRAM)
    return sorted(p for p in root.glob("chat_0*/stickers/*") if p.is_file())


def drawn_sticker(folder: Path, name: str, colour: tuple[int, int, int, int]) -> Path:
    """A transparent PNG with one filled circle: a distinct sticker per colour, no shared data needed."""
    img = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((20, 20, 140, 140), fill=colour)
    path = folder / f"{name}.png"
    img.save(path)
    return path


def frames(n: int = 6, size: int = 96) -> list[Image.Image]:
    """A moving red square on transparency: each frame differs, so encoders keep every one."""
    out = []
    for i in range(n):
        im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
        d = ImageDraw.Draw(im)
        x = 5 + i * (size - 40) // max(1, n - 1)
        d.rectangle([x, 20, x + 30, 60], fill=(220, 30, 30, 255))
        out.append(im)
    return out


def animated_webp(n: int = 6) -> bytes:
    buf = io.BytesIO()
    fs = frames(n)
    fs[0].save(buf, "WEBP", save_all=True, append_images=fs[1:], duration=80, loop=0, lossless=True)
    return buf.getvalue()


def animated_gif(n: int = 6) -> bytes:
    buf = io.BytesIO()
    fs = [f.convert("RGB") for f in frames(n)]
    fs[0].save(buf, "GIF", save_all=True, append_images=fs[1:], duration=80, loop=0)
    return buf.getvalue()


def apng(n: int = 6) -> bytes:
    buf = io.BytesIO()
    fs = frames(n)
    fs[0].save(buf, "PNG", save_all=True, append_images=fs[1:], duration=80, loop=0)
    return buf.getvalue()


def lottie(frames_out: int = 30, **overrides) -> dict:
    """A small valid Lottie animation: one shape layer, a rectangle sliding across 512x512."""
    doc = {
        "v": "5.5.2", "fr": 30, "ip": 0, "op": frames_out, "w": 512, "h": 512, "nm": "test", "ddd": 0,
        "assets": [],
        "layers": [{
            "ddd": 0, "ind": 1, "ty": 4, "nm": "box", "sr": 1, "ip": 0, "op": frames_out, "st": 0, "bm": 0,
            "ks": {"o": {"a": 0, "k": 100}, "r": {"a": 0, "k": 0}, "a": {"a": 0, "k": [0, 0, 0]},
                   "s": {"a": 0, "k": [100, 100, 100]},
                   "p": {"a": 1, "k": [{"t": 0, "s": [128, 256, 0], "e": [384, 256, 0],
                                        "i": {"x": [0.5], "y": [0.5]}, "o": {"x": [0.5], "y": [0.5]}},
                                       {"t": frames_out}]}},
            "shapes": [{"ty": "gr", "nm": "g", "it": [
                {"ty": "rc", "nm": "r", "d": 1, "s": {"a": 0, "k": [160, 160]}, "p": {"a": 0, "k": [0, 0]},
                 "r": {"a": 0, "k": 10}},
                {"ty": "fl", "nm": "f", "c": {"a": 0, "k": [0.1, 0.6, 0.9, 1]}, "o": {"a": 0, "k": 100}},
                {"ty": "tr", "p": {"a": 0, "k": [0, 0]}, "a": {"a": 0, "k": [0, 0]}, "s": {"a": 0, "k": [100, 100]},
                 "r": {"a": 0, "k": 0}, "o": {"a": 0, "k": 100}}]}],
        }],
    }
    doc.update(overrides)
    return doc


def tgs(doc: dict | None = None) -> bytes:
    return gzip.compress(json.dumps(doc or lottie()).encode())


def webm(n: int = 10, size: int = 64) -> tuple[bytes, str]:
    """A tiny VP9 WebM, with alpha (yuva420p) when the libvpx encoder is there; else plain yuv420p."""
    import av

    buf = io.BytesIO()
    out = av.open(buf, "w", format="webm")
    try:
        av.codec.Codec("libvpx-vp9", "w")
        stream = out.add_stream("libvpx-vp9", rate=30)
        pix = "yuva420p"
    except Exception:  # noqa: BLE001 - no libvpx in this FFmpeg build
        stream = out.add_stream("vp9", rate=30)
        pix = "yuv420p"
    stream.width = stream.height = size
    stream.pix_fmt = pix
    for i in range(n):
        a = np.zeros((size, size, 4), np.uint8)
        a[10:50, 5 + i:35 + i] = (30, 200, 30, 255)
        for p in stream.encode(av.VideoFrame.from_ndarray(a, format="rgba")):
            out.mux(p)
    for p in stream.encode():
        out.mux(p)
    out.close()
    return buf.getvalue(), pix


@pytest.fixture
def write(tmp_path):
    """write(name, bytes) -> path under a fresh folder."""
    folder = tmp_path / "in"
    folder.mkdir()

    def _write(name: str, data: bytes) -> Path:
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p

    _write.folder = folder
    return _write
