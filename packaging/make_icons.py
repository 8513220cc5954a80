"""Draw the app icon: a smiling sticker with a peeled corner inside a speech bubble, on a rounded tile.

One geometry, two outputs: an SVG written from the same numbers (for Linux's scalable icon theme) and
PNGs drawn with Pillow at 4× and downsampled (16…512 px, for hicolor and the AppImage), plus the
Windows .ico and macOS .icns made from those PNGs. Generated at build time, so no binaries are committed.

    python packaging/make_icons.py [OUT_DIR]     (default: packaging/build/icons)
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

SIZES = (16, 32, 48, 64, 128, 256, 512)
NAME = "sticker-assistant"
S = 512  # design grid; every coordinate below is on it

TILE = (24, 24, 488, 488, 104)  # x0, y0, x1, y1, corner radius
TILE_TOP, TILE_BOTTOM = (124, 92, 255), (255, 96, 150)  # vertical gradient
BUBBLE = (92, 96, 420, 392, 84)  # the speech bubble (a rounded rectangle) ...
TAIL = [(150, 380), (132, 452), (232, 388)]  # ... and its tail
STICKER = (150, 132, 362, 344, 44)  # the sticker inside the bubble
PEEL = [(362, 270), (362, 344), (288, 344)]  # the peeled corner (cut) ...
PEEL_FLAP = [(362, 270), (300, 282), (288, 344)]  # ... and the flap folding back
FACE = (34, 34, 40)
STICKER_FILL = (255, 214, 64)
FLAP_FILL = (232, 178, 40)
WHITE = (255, 255, 255)


def _lerp(a: tuple, b: tuple, t: float) -> tuple:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def draw(size: int) -> Image.Image:
    """The icon at `size` px: drawn at 4× the size (at least 512) and downsampled for smooth edges."""
    big = max(512, size * 4)
    k = big / S
    im = Image.new("RGBA", (big, big), (0, 0, 0, 0))

    x0, y0, x1, y1, r = TILE
    grad = Image.new("RGBA", (big, big))
    gd = ImageDraw.Draw(grad)
    for y in range(big):
        gd.line([(0, y), (big, y)], fill=_lerp(TILE_TOP, TILE_BOTTOM, y / big) + (255,))
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).rounded_rectangle([x0 * k, y0 * k, x1 * k, y1 * k], radius=r * k, fill=255)
    im.paste(grad, (0, 0), mask)

    d = ImageDraw.Draw(im)
    bx0, by0, bx1, by1, br = BUBBLE
    d.rounded_rectangle([bx0 * k, by0 * k, bx1 * k, by1 * k], radius=br * k, fill=WHITE)
    d.polygon([(x * k, y * k) for x, y in TAIL], fill=WHITE)

    sx0, sy0, sx1, sy1, sr = STICKER
    sticker = Image.new("L", (big, big), 0)
    sd = ImageDraw.Draw(sticker)
    sd.rounded_rectangle([sx0 * k, sy0 * k, sx1 * k, sy1 * k], radius=sr * k, fill=255)
    sd.polygon([(x * k, y * k) for x, y in PEEL], fill=0)
    im.paste(Image.new("RGBA", (big, big), STICKER_FILL + (255,)), (0, 0), sticker)
    d.polygon([(x * k, y * k) for x, y in PEEL_FLAP], fill=FLAP_FILL)

    # the face: two eyes and a smile (bolder when small, so it still reads at 16 px)
    w = (20 if size <= 32 else 14) * k
    for ex in (214, 296):
        d.ellipse([(ex - 17) * k, (206 - 17) * k, (ex + 17) * k, (206 + 17) * k], fill=FACE)
    d.arc([196 * k, 214 * k, 316 * k, 304 * k], 20, 160, fill=FACE, width=round(w))
    return im.resize((size, size), Image.Resampling.LANCZOS)


def svg() -> str:
    """The same drawing as SVG (the scalable icon for hicolor/scalable/apps)."""
    x0, y0, x1, y1, r = TILE
    bx0, by0, bx1, by1, br = BUBBLE
    sx0, sy0, sx1, sy1, sr = STICKER

    def pts(p: list) -> str:
        return " ".join(f"{x},{y}" for x, y in p)

    def rgb(c: tuple) -> str:
        return "#%02x%02x%02x" % c

    eyes = "".join(f'<circle cx="{ex}" cy="206" r="17" fill="{rgb(FACE)}"/>' for ex in (214, 296))
    return f"""<svg xmlns="http://www.w3.org/2000/svg" width="{S}" height="{S}" viewBox="0 0 {S} {S}">
  <defs>
    <linearGradient id="tile" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="{rgb(TILE_TOP)}"/><stop offset="1" stop-color="{rgb(TILE_BOTTOM)}"/>
    </linearGradient>
    <clipPath id="peel"><polygon points="0,0 {S},0 {S},{PEEL[0][1]} {pts(PEEL)} 0,{S}"/></clipPath>
  </defs>
  <rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" rx="{r}" fill="url(#tile)"/>
  <rect x="{bx0}" y="{by0}" width="{bx1 - bx0}" height="{by1 - by0}" rx="{br}" fill="#ffffff"/>
  <polygon points="{pts(TAIL)}" fill="#ffffff"/>
  <rect x="{sx0}" y="{sy0}" width="{sx1 - sx0}" height="{sy1 - sy0}" rx="{sr}" fill="{rgb(STICKER_FILL)}"
        clip-path="url(#peel)"/>
  <polygon points="{pts(PEEL_FLAP)}" fill="{rgb(FLAP_FILL)}"/>
  {eyes}
  <path d="M {256 - 56.4:.1f} {259 + 15.4:.1f} A 60 45 0 0 0 {256 + 56.4:.1f} {259 + 15.4:.1f}" fill="none"
        stroke="{rgb(FACE)}" stroke-width="14" stroke-linecap="round"/>
</svg>
"""


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    pngs = {}
    for size in SIZES:
        im = draw(size)
        p = out / f"{NAME}-{size}.png"
        im.save(p, optimize=True)
        pngs[size] = im
        written.append(p)
    (out / f"{NAME}.svg").write_text(svg(), encoding="utf-8")
    written.append(out / f"{NAME}.svg")
    big = draw(1024)
    pngs[512].save(out / f"{NAME}.ico", sizes=[(s, s) for s in (16, 32, 48, 64, 128, 256)])
    written.append(out / f"{NAME}.ico")
    try:
        big.save(out / f"{NAME}.icns")
        written.append(out / f"{NAME}.icns")
    except (OSError, ValueError) as exc:  # older Pillow builds cannot write ICNS; macOS builds make it with iconutil
        print(f"icns not written ({exc}); build/macos.sh makes it with iconutil", file=sys.stderr)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "build" / "icons"
    for path in main(target):
        print(path)
