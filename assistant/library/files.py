"""Read any sticker file: sniff its format from its bytes, decode a representative frame, make a
thumbnail, a short preview for animated ones, and a perceptual hash.

Formats are told apart by content (magic bytes), never by file name: chat exports rename files freely
(Telegram writes WebP bytes to `*_thumb.jpg`). Every check that can refuse a file runs before the
expensive decode, and every refusal is a `StickerFileError` whose message names the file and says what
is wrong, so an import reports it and goes on with the next file.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

# Limits. Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS) is kept as it is.
MAX_FILE_BYTES = 64 * 1024 * 1024  # the biggest sticker platforms allow is a few MB
MAX_SIDE = 16384  # wider or taller than this is not a sticker
MAX_ASPECT = 64.0  # a 1x10000 strip is not a sticker either
MAX_FRAMES = 10_000  # Telegram caps at 3 s x 60 fps; GIFs of minutes exist, 100k frames do not
MAX_LOTTIE_JSON = 16 * 1024 * 1024  # decompressed .tgs size cap (Telegram's own limit is 64 KB gzipped)
PREVIEW_FRAMES = 8
PREVIEW_SIDE = 160
THUMB_SIDE = 256

FORMATS = ("png", "apng", "jpeg", "webp", "gif", "tgs", "webm")
# File names that look like images: a file with one of these that is no image is reported, not skipped.
IMAGE_SUFFIXES = {".png", ".apng", ".jpg", ".jpeg", ".jfif", ".webp", ".gif", ".tgs", ".webm", ".mkv",
                  ".bmp", ".tif", ".tiff", ".heic", ".avif"}


class StickerFileError(ValueError):
    """A file that cannot become a sticker; str() names the file and the problem."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass
class Decoded:
    """What ingest needs from one file. `image` is RGBA; `preview` holds a few small frames when animated."""

    fmt: str
    width: int
    height: int
    animated: bool
    frames: int
    image: Image.Image
    preview: list[Image.Image] = field(default_factory=list)
    duration_ms: int = 0


# --- sniffing --------------------------------------------------------------------------------------
def sniff(data: bytes) -> str | None:
    """The sticker format of these bytes (one of FORMATS), or None when they are no sticker format."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "apng" if _png_is_animated(data) else "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    if data.startswith(b"\x1f\x8b"):
        return "tgs"
    return None


def _png_chunks(data: bytes):
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        yield ctype, data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if ctype == b"IEND":
            return


def _png_is_animated(data: bytes) -> bool:
    for ctype, _ in _png_chunks(data):
        if ctype == b"acTL":
            return True
        if ctype == b"IDAT":
            return False
    return False


def _frame_count(fmt: str, data: bytes) -> int:
    """Count frames from the container structure, without decoding any (guards against 100k-frame files)."""
    if fmt == "apng":
        for ctype, body in _png_chunks(data):
            if ctype == b"acTL" and len(body) >= 4:
                return struct.unpack(">I", body[:4])[0]
        return 1
    if fmt == "webp":
        n, pos = 0, 12
        while pos + 8 <= len(data):
            ctype, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
            if ctype == b"ANMF":
                n += 1
            pos += 8 + size + (size & 1)
        return max(n, 1)
    if fmt == "gif":
        return max(_gif_frames(data), 1)
    return 1


def _gif_frames(data: bytes) -> int:
    """Walk GIF blocks: image descriptors are frames. Cheap even for huge animations."""
    if len(data) < 13:
        return 0
    flags = data[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    n = 0
    while pos < len(data):
        b = data[pos]
        if b == 0x3B:  # trailer
            break
        if b == 0x21:  # extension: label, then sub-blocks
            pos += 2
        elif b == 0x2C:  # image descriptor
            n += 1
            if n > MAX_FRAMES:
                return n
            if pos + 10 > len(data):
                break
            lflags = data[pos + 9]
            pos += 10 + (3 * (2 << (lflags & 7)) if lflags & 0x80 else 0) + 1  # + LZW min code size
        else:
            break
        while pos < len(data):  # sub-blocks
            size = data[pos]
            pos += 1 + size
            if size == 0:
                break
    return n


# --- decoding ------------------------------------------------------------------------------------
def decode(path: Path | str, data: bytes | None = None, *, name: str | None = None) -> Decoded:
    """Decode a sticker file (or its bytes) into a Decoded; raises StickerFileError with a clear message."""
    label = name or str(path)
    if data is None:
        try:
            size = Path(path).stat().st_size
            if size > MAX_FILE_BYTES:
                raise StickerFileError(label, f"file is {size / 1e6:.0f} MB; stickers over "
                                              f"{MAX_FILE_BYTES // 2**20} MB are not imported")
            data = Path(path).read_bytes()
        except OSError as exc:
            raise StickerFileError(label, f"cannot read the file ({exc.strerror or exc})") from exc
    if not data:
        raise StickerFileError(label, "the file is empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise StickerFileError(label, f"file is {len(data) / 1e6:.0f} MB; stickers over "
                                      f"{MAX_FILE_BYTES // 2**20} MB are not imported")
    fmt = sniff(data)
    if fmt is None:
        raise StickerFileError(label, "not a sticker image: the content is no PNG, JPEG, WebP, GIF, "
                                      "APNG, Telegram .tgs or .webm (whatever the file name says)")
    try:
        if fmt == "tgs":
            return _decode_tgs(label, data)
        if fmt == "webm":
            return _decode_webm(label, data)
        return _decode_pillow(label, fmt, data)
    except StickerFileError:
        raise
    except Image.DecompressionBombError as exc:
        raise StickerFileError(label, f"refused as a decompression bomb: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, MemoryError, zlib.error) as exc:
        raise StickerFileError(label, f"damaged or truncated {fmt.upper()} file ({exc})") from exc


def _check_size(label: str, w: int, h: int) -> None:
    if w <= 0 or h <= 0:
        raise StickerFileError(label, f"image has no pixels ({w}x{h})")
    if w > MAX_SIDE or h > MAX_SIDE:
        raise StickerFileError(label, f"absurd dimensions {w}x{h} (a side over {MAX_SIDE} px)")
    if max(w, h) / min(w, h) > MAX_ASPECT:
        raise StickerFileError(label, f"absurd dimensions {w}x{h} (aspect ratio over {MAX_ASPECT:.0f}:1)")
    limit = Image.MAX_IMAGE_PIXELS
    if limit and w * h > limit:
        raise StickerFileError(label, f"refused as a possible decompression bomb: {w}x{h} = {w * h:,} pixels "
                                      f"is over Pillow's limit of {limit:,}")


def _check_frames(label: str, n: int) -> None:
    if n > MAX_FRAMES:
        raise StickerFileError(label, f"animation has over {MAX_FRAMES:,} frames (a sticker has at most a few "
                                      "hundred); refused")


def _pick(n: int, k: int) -> list[int]:
    """k frame indexes spread evenly over n frames."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


def _small(im: Image.Image, side: int = PREVIEW_SIDE) -> Image.Image:
    im = im.copy()
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    return im


def _decode_pillow(label: str, fmt: str, data: bytes) -> Decoded:
    n = _frame_count(fmt, data)
    _check_frames(label, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im = Image.open(io.BytesIO(data))
    w, h = im.size
    _check_size(label, w, h)
    animated = n > 1 and fmt in ("apng", "webp", "gif")
    if not animated:
        im.load()
        frame = im.convert("RGBA")
        return Decoded(fmt, w, h, False, 1, frame)
    rep_index = n // 2
    wanted = set(_pick(n, PREVIEW_FRAMES)) | {rep_index}
    preview, rep, duration = [], None, 0
    for i in range(n):
        try:
            im.seek(i)
        except EOFError:
            break
        duration += int(im.info.get("duration", 0) or 0)
        if i in wanted:
            frame = im.convert("RGBA")
            if i == rep_index:
                rep = frame
            preview.append(_small(frame))
    if rep is None:
        raise StickerFileError(label, f"damaged {fmt.upper()} animation: no frame could be decoded")
    return Decoded(fmt, w, h, True, n, rep, preview, duration)


def _decode_tgs(label: str, data: bytes) -> Decoded:
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            raw = gz.read(MAX_LOTTIE_JSON + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise StickerFileError(label, f"damaged .tgs (gzip) file ({exc})") from exc
    if len(raw) > MAX_LOTTIE_JSON:
        raise StickerFileError(label, f".tgs unpacks to more than {MAX_LOTTIE_JSON // 2**20} MB; refused")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StickerFileError(label, f"gzip file does not hold Lottie JSON ({exc})") from exc
    _validate_lottie(label, doc)
    w, h = int(doc["w"]), int(doc["h"])
    _check_size(label, w, h)
    n = int(doc["op"]) - int(doc["ip"])
    _check_frames(label, n)
    from rlottie_python import LottieAnimation

    anim = LottieAnimation.from_data(raw.decode("utf-8"))
    try:
        total = anim.lottie_animation_get_totalframe()
        if total <= 0:
            raise StickerFileError(label, "the Lottie animation has no frames")
        _check_frames(label, total)
        fps = anim.lottie_animation_get_framerate() or 60
        render_w, render_h = _fit(w, h, 512)
        rep_index = total // 2
        rep = anim.render_pillow_frame(rep_index, width=render_w, height=render_h).convert("RGBA")
        preview = [_small(anim.render_pillow_frame(i, width=render_w, height=render_h).convert("RGBA"))
                   for i in _pick(total, PREVIEW_FRAMES)]
    finally:
        anim.lottie_animation_destroy()
    return Decoded("tgs", w, h, total > 1, total, rep, preview, int(total * 1000 / fps))


def _validate_lottie(label: str, doc: object) -> None:
    """rlottie trusts its input; check the fields it needs so malformed files are refused, not rendered."""
    if not isinstance(doc, dict):
        raise StickerFileError(label, "malformed Lottie: the top level is not an object")
    for key in ("w", "h", "ip", "op", "fr", "layers"):
        if key not in doc:
            raise StickerFileError(label, f"malformed Lottie: required field {key!r} is missing")
    for key in ("w", "h", "ip", "op", "fr"):
        if not isinstance(doc[key], (int, float)) or isinstance(doc[key], bool):
            raise StickerFileError(label, f"malformed Lottie: {key!r} is not a number")
    if not isinstance(doc["layers"], list):
        raise StickerFileError(label, "malformed Lottie: 'layers' is not a list")
    if doc["fr"] <= 0 or doc["op"] <= doc["ip"]:
        raise StickerFileError(label, "malformed Lottie: no frames (frame rate or in/out points invalid)")


def _fit(w: int, h: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _decode_webm(label: str, data: bytes) -> Decoded:
    import av

    try:
        container = av.open(io.BytesIO(data), format="matroska")
    except av.FFmpegError as exc:
        raise StickerFileError(label, f"damaged WebM file ({exc})") from exc
    try:
        if not container.streams.video:
            raise StickerFileError(label, "WebM file without a video stream")
        stream = container.streams.video[0]
        w, h = stream.codec_context.width, stream.codec_context.height
        _check_size(label, w, h)
        packets = []
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            packets.append(packet)
            _check_frames(label, len(packets))
        if not packets:
            raise StickerFileError(label, "WebM file has no video frames")
        codec_name = stream.codec_context.name
        # FFmpeg's native VP9 decoder drops the alpha plane; libvpx keeps it (yuva420p).
        decoder_name = {"vp9": "libvpx-vp9", "vp8": "libvpx"}.get(codec_name, codec_name)
        try:
            codec = av.CodecContext.create(decoder_name, "r")
        except (av.FFmpegError, ValueError):
            codec = av.CodecContext.create(codec_name, "r")
        n = len(packets)
        rep_index = n // 2
        wanted = set(_pick(n, PREVIEW_FRAMES)) | {rep_index}
        preview, rep, index = [], None, 0
        for packet in packets + [None]:
            for frame in codec.decode(packet):
                if index in wanted:
                    img = Image.fromarray(frame.to_ndarray(format="rgba"), "RGBA")
                    if index == rep_index:
                        rep = img
                    preview.append(_small(img))
                index += 1
        if rep is None:
            if not preview:
                raise StickerFileError(label, "WebM frames could not be decoded")
            rep = preview[-1]
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        return Decoded("webm", w, h, index > 1, index, rep, preview if index > 1 else [],
                       int(index * 1000 / rate))
    except av.FFmpegError as exc:
        raise StickerFileError(label, f"damaged WebM file ({exc})") from exc
    finally:
        container.close()


# --- derived images -----------------------------------------------------------------------------
def flatten(im: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGBA onto a plain background: what OCR, hashing and CLIP should see (transparent pixels are noise)."""
    if im.mode != "RGBA":
        return im.convert("RGB")
    base = Image.new("RGB", im.size, background)
    base.paste(im, mask=im.getchannel("A"))
    return base


def thumbnail(im: Image.Image, side: int = THUMB_SIDE) -> Image.Image:
    return _small(im, side)


def phash(im: Image.Image) -> str:
    """64-bit DCT perceptual hash as 16 hex digits; survives re-encoding and resizing."""
    import imagehash

    flat = flatten(im).convert("L")
    factor = min(flat.size) // 64
    if factor >= 2:  # a fast integer box-reduce first: the hash only looks at 32x32 pixels anyway
        flat = flat.reduce(factor)
    return str(imagehash.phash(flat))


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def save_thumbnail(decoded: Decoded, dest: Path) -> None:
    """PNG thumbnail, written atomically (a crash never leaves a half-written thumbnail)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    thumbnail(decoded.image).save(tmp, "PNG", compress_level=1)  # level 6 costs 5x the time for ~15% bytes
    tmp.replace(dest)


def save_preview(decoded: Decoded, dest: Path) -> bool:
    """A short looping animated WebP of the preview frames, for animated stickers only."""
    if not decoded.animated or len(decoded.preview) < 2:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    frames = decoded.preview
    per = max(40, (decoded.duration_ms or 1000) // len(frames))
    frames[0].save(tmp, "WEBP", save_all=True, append_images=frames[1:], duration=per, loop=0, quality=70)
    tmp.replace(dest)
    return True
