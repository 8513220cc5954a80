"""Decoding every sticker format from its bytes, and refusing bad input with a clear message."""

from __future__ import annotations

import gzip
import io
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from assistant.library import files
from tests.library.conftest import animated_gif, animated_webp, apng, lottie, telegram_sticker_files, tgs, webm


def _png(w: int = 32, h: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (w, h), (10, 200, 10, 255)).save(buf, "PNG")
    return buf.getvalue()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("data, fmt", [
    (_png(), "png"), (apng(), "apng"), (_jpeg(), "jpeg"), (animated_webp(), "webp"), (animated_gif(), "gif"),
    (tgs(), "tgs"), (webm()[0], "webm"), (b"hello, world", None), (b"", None),
])
def test_sniff_by_content(data, fmt):
    assert files.sniff(data) == fmt


def test_telegram_thumb_named_jpg_is_webp():
    thumbs = [p for p in telegram_sticker_files() if p.name.endswith("_thumb.jpg")]
    assert thumbs
    for p in thumbs:
        d = files.decode(p)
        assert d.fmt == "webp" and not d.animated and d.image.mode == "RGBA"


def test_static_png_keeps_alpha():
    d = files.decode("a.png", _png(40, 30))
    assert (d.fmt, d.width, d.height, d.animated, d.frames) == ("png", 40, 30, False, 1)
    assert d.preview == []


@pytest.mark.parametrize("maker, fmt", [(animated_webp, "webp"), (animated_gif, "gif"), (apng, "apng")])
def test_pillow_animations(maker, fmt):
    d = files.decode(f"anim.{fmt}", maker(7))
    assert d.fmt == fmt and d.animated and d.frames == 7
    assert (d.width, d.height) == (96, 96)
    assert 2 <= len(d.preview) <= files.PREVIEW_FRAMES
    # The representative frame is the middle one: the red square sits mid-way, not at the start.
    bbox = d.image.getchannel("A").getbbox() if fmt != "gif" else None
    if bbox:
        assert bbox[0] > 10
    assert len({p.tobytes() for p in d.preview}) > 1  # the preview really moves


def test_tgs_renders_lottie():
    d = files.decode("s.tgs", tgs())
    assert d.fmt == "tgs" and d.animated and d.frames >= 30
    assert (d.width, d.height) == (512, 512)
    alpha = np.asarray(d.image.getchannel("A"))
    assert alpha.max() == 255 and alpha.min() == 0  # a box drawn on a transparent canvas
    assert len(d.preview) == files.PREVIEW_FRAMES


def test_webm_keeps_alpha_when_encoded_with_it():
    data, pix = webm(12)
    d = files.decode("v.webm", data)
    assert d.fmt == "webm" and d.animated and d.frames == 12 and (d.width, d.height) == (64, 64)
    alpha = np.asarray(d.image.getchannel("A"))
    if pix == "yuva420p":
        assert alpha.min() < 50 and alpha.max() > 200
    assert len(d.preview) == files.PREVIEW_FRAMES


def test_phash_survives_reencoding():
    src = next(p for p in telegram_sticker_files() if p.name == "sticker.webp")
    original = files.decode(src).image
    buf = io.BytesIO()
    files.flatten(original).resize((300, 300)).save(buf, "JPEG", quality=60)
    again = files.decode("copy.jpg", buf.getvalue()).image
    assert files.hamming(files.phash(original), files.phash(again)) <= 6
    other = next(p for p in telegram_sticker_files() if p.name == "sticker (8).webp")
    assert files.hamming(files.phash(original), files.phash(files.decode(other).image)) > 12


# --- bad input ---------------------------------------------------------------------------------------
def _refused(data: bytes, name: str = "bad.png") -> str:
    with pytest.raises(files.StickerFileError) as info:
        files.decode(name, data)
    msg = str(info.value)
    assert msg.startswith(name)  # the message names the file
    return msg


def test_empty_file(tmp_path):
    p = tmp_path / "empty.png"
    p.write_bytes(b"")
    with pytest.raises(files.StickerFileError, match="empty"):
        files.decode(p)


def test_text_named_png():
    assert "not a sticker image" in _refused(b"this is a text file, not an image\n" * 10)


def test_truncated_png_and_jpeg():
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 50).convert("RGB").save(buf, "PNG")
    assert "truncated" in _refused(buf.getvalue()[:2000])
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 50).convert("RGB").save(buf, "JPEG")
    assert "truncated" in _refused(buf.getvalue()[:1500], "bad.jpg")


def _png_with_size(w: int, h: int) -> bytes:
    """A real 1x1 PNG whose header claims w x h (CRC fixed): what a decompression bomb looks like."""
    data = bytearray(_png(1, 1))
    ihdr = struct.pack(">II", w, h) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    return bytes(data)


def test_decompression_bomb_keeps_pillows_limit():
    limit = Image.MAX_IMAGE_PIXELS
    assert limit  # Pillow's limit is untouched
    side = int((limit * 1.5) ** 0.5)  # above the limit, below Pillow's hard error at 2x
    msg = _refused(_png_with_size(min(side, files.MAX_SIDE), min(side, files.MAX_SIDE)))
    assert "decompression bomb" in msg
    msg = _refused(_png_with_size(16000, 16000))  # far above: Pillow's own error, same clear wording
    assert "decompression bomb" in msg


def test_absurd_dimensions():
    assert "absurd dimensions" in _refused(_png_with_size(20000, 10))
    assert "aspect ratio" in _refused(_png(3000, 2))


def _gif_with_frames(n: int) -> bytes:
    """A structurally valid GIF with n 1x1 frames, written by hand (Pillow would take minutes)."""
    head = b"GIF89a" + struct.pack("<HH", 1, 1) + bytes([0x80, 0, 0]) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHH", 0, 0, 1, 1) + b"\x00" + b"\x02\x02\x44\x01\x00"
    return head + frame * n + b"\x3b"


def test_huge_frame_count_refused_before_decoding():
    assert files.decode("ok.gif", _gif_with_frames(3)).frames == 3
    msg = _refused(_gif_with_frames(100_000), "many.gif")
    assert "over 10,000 frames" in msg


@pytest.mark.parametrize("payload, words", [
    (gzip.compress(b"not json at all"), "does not hold Lottie JSON"),
    (gzip.compress(json.dumps([1, 2, 3]).encode()), "top level is not an object"),
    (gzip.compress(json.dumps({k: v for k, v in lottie().items() if k != "layers"}).encode()), "'layers'"),
    (gzip.compress(json.dumps(lottie(w="big")).encode()), "'w' is not a number"),
    (gzip.compress(json.dumps(lottie(op=0)).encode()), "no frames"),
    (gzip.compress(json.dumps(lottie(frames_out=200_000)).encode()), "frames"),
    (gzip.compress(json.dumps(lottie()).encode())[:40], ".tgs"),
    (b"\x1f\x8b" + b"garbage" * 10, ".tgs"),
])
def test_malformed_lottie(payload, words):
    assert words in _refused(payload, "bad.tgs")


def test_damaged_webm():
    data, _ = webm()
    assert "WebM" in _refused(data[:30], "bad.webm")
    assert "WebM" in _refused(b"\x1a\x45\xdf\xa3" + b"\x00" * 100, "bad.webm")


def test_thumbnail_and_preview_files(tmp_path):
    d = files.decode("a.webp", animated_webp())
    files.save_thumbnail(d, tmp_path / "t.png")
    with Image.open(tmp_path / "t.png") as im:
        assert im.format == "PNG" and max(im.size) <= files.THUMB_SIDE
    assert files.save_preview(d, tmp_path / "p.webp")
    with Image.open(tmp_path / "p.webp") as im:
        assert im.n_frames == len(d.preview)
    assert not files.save_preview(files.decode("s.png", _png()), tmp_path / "q.webp")


# --- fuzz: damaged bytes of every format give a StickerFileError or a decoded image, nothing else ------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SEEDS = {"png": _png(), "apng": apng(3), "jpeg": _jpeg(), "webp": animated_webp(3), "gif": animated_gif(3),
          "tgs": tgs(), "webm": webm(4)[0]}


@settings(max_examples=int(__import__("os").environ.get("FUZZ_N", "80")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(sorted(_SEEDS)), cuts=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                          max_size=6), keep=st.floats(0.05, 1.0))
def test_damaged_bytes_never_crash(fmt, cuts, keep):
    data = bytearray(_SEEDS[fmt])
    for pos, value in cuts:
        data[pos % len(data)] = value
    data = bytes(data[:max(1, int(len(data) * keep))])
    try:
        d = files.decode(f"fuzz.{fmt}", data)
    except files.StickerFileError as exc:
        assert str(exc).startswith(f"fuzz.{fmt}: ")
    else:
        assert d.image.mode == "RGBA" and d.width > 0 and d.height > 0
