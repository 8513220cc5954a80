"""The project's own demo data: a sticker pack drawn here with Pillow and a small chat that uses it.

Nothing binary is committed. `seed_demo(app)` draws ~25 stickers (distinct shapes, colours and
faces, with clear words on them in English and, where a CJK font exists, Chinese) into
`<data dir>/demo/`: one folder per pack, plus a Telegram-style export folder holding the committed
demo chat (`resources/demo/demo_chat.json`, which refers to the sticker files by name). The folder is then ingested as a sticker pack and the
chat imported like any user export, so the first run exercises the real import path. Drawing is
deterministic: the same sticker has the same bytes (and SHA-256) on every run, which is what lets
the chat's sticker messages resolve to the library stickers, and makes seeding idempotent.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parent / "resources" / "demo"
DEMO_CHAT = DEMO_DIR / "demo_chat.json"
DEMO_CONVERSATION = DEMO_DIR / "demo_conversation.txt"
SEEDED_KEY = "demo_seeded"
SIZE = 512


@dataclass(frozen=True)
class DemoSticker:
    name: str  # file stem, referenced by the demo chat
    text: str  # the words drawn on it
    emoji: str
    shape: str  # circle | square | star | heart | blob | cloud
    colour: tuple[int, int, int]
    face: str  # smile | laugh | sad | wow | angry | love | sleepy | flat | wink | worried
    pack: str = "Demo Blobs"
    cjk: bool = False


STICKERS: list[DemoSticker] = [
    DemoSticker("thank_you", "THANK YOU", "🙏", "heart", (255, 120, 150), "smile"),
    DemoSticker("thx", "THX!", "🙏", "square", (120, 200, 255), "wink"),
    DemoSticker("lol", "LOL", "😂", "circle", (255, 210, 60), "laugh"),
    DemoSticker("haha", "HAHA", "😆", "blob", (255, 160, 60), "laugh"),
    DemoSticker("ok", "OK!", "👌", "square", (110, 210, 130), "smile"),
    DemoSticker("yes", "YES!", "👍", "star", (90, 190, 90), "wink"),
    DemoSticker("no_way", "NO WAY", "🙅", "square", (200, 80, 80), "angry"),
    DemoSticker("sorry", "SORRY", "😔", "cloud", (170, 170, 220), "worried"),
    DemoSticker("wow", "WOW", "😮", "star", (250, 230, 90), "wow"),
    DemoSticker("love_you", "LOVE YOU", "❤️", "heart", (240, 70, 90), "love"),
    DemoSticker("good_night", "GOOD NIGHT", "😴", "cloud", (60, 70, 150), "sleepy"),
    DemoSticker("congrats", "CONGRATS!", "🎉", "star", (255, 140, 200), "laugh"),
    DemoSticker("what", "WHAT?", "❓", "circle", (160, 120, 220), "wow"),
    DemoSticker("hugs", "HUGS", "🤗", "blob", (255, 190, 160), "smile"),
    DemoSticker("so_angry", "SO ANGRY", "😠", "circle", (230, 50, 40), "angry"),
    DemoSticker("sad", "SAD", "😢", "cloud", (90, 140, 200), "sad"),
    DemoSticker("yummy", "YUMMY", "😋", "circle", (250, 150, 100), "wink"),
    DemoSticker("lets_go", "LET'S GO", "🙌", "blob", (255, 100, 40), "laugh"),
    DemoSticker("phew", "PHEW", "😅", "blob", (140, 220, 210), "worried"),
    DemoSticker("hmm", "HMM...", "🤔", "square", (200, 200, 200), "flat"),
    DemoSticker("haha_zh", "哈哈", "😂", "circle", (255, 220, 100), "laugh", "Demo 中文", True),
    DemoSticker("thanks_zh", "谢谢", "🙏", "heart", (255, 150, 170), "smile", "Demo 中文", True),
    DemoSticker("night_zh", "晚安", "😴", "cloud", (80, 80, 170), "sleepy", "Demo 中文", True),
    DemoSticker("cheer_zh", "加油", "💪", "star", (255, 120, 60), "wink", "Demo 中文", True),
    DemoSticker("ok_zh", "好的", "👌", "square", (120, 210, 150), "smile", "Demo 中文", True),
]


# --- fonts ------------------------------------------------------------------------------------
_LATIN_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/Library/Fonts/Arial Bold.ttf", "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
]
_CJK_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc", "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyhbd.ttc", "C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/simhei.ttf",
]


def _fc_list(pattern: str) -> list[str]:
    try:
        out = subprocess.run(["fc-list", pattern, "file"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    files = [line.split(":")[0].strip() for line in out.stdout.splitlines() if line.strip()]
    # Prefer sans and bold faces: they OCR and read best at sticker size.
    return sorted(files, key=lambda f: ("Sans" not in f, "Bold" not in f, f))


@lru_cache(maxsize=1)
def cjk_font_path() -> str | None:
    """A font that draws Chinese, or None (then the demo pack is English-only, and says so)."""
    for path in _CJK_CANDIDATES + _fc_list(":lang=zh"):
        if Path(path).is_file():
            try:
                font = ImageFont.truetype(path, 40)
                if font.getbbox("谢")[2] > 0:
                    return path
            except OSError:
                continue
    return None


@lru_cache(maxsize=1)
def latin_font_path() -> str | None:
    for path in _LATIN_CANDIDATES + _fc_list(":style=Bold"):
        if Path(path).is_file():
            return path
    return None


def _font(size: int, cjk: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = cjk_font_path() if cjk else (latin_font_path() or cjk_font_path())
    if path:
        return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def available_stickers() -> tuple[list[DemoSticker], list[str]]:
    """The stickers this machine can draw, plus notes on what was left out and why."""
    if cjk_font_path():
        return list(STICKERS), []
    kept = [s for s in STICKERS if not s.cjk]
    return kept, [f"no CJK font found: the {len(STICKERS) - len(kept)} Chinese demo stickers were left out "
                  "(install one, e.g. `apt-get install fonts-noto-cjk`, and run `sticker-assistant demo --force`)"]


# --- drawing ----------------------------------------------------------------------------------
def _shape(d: ImageDraw.ImageDraw, shape: str, fill, outline) -> None:
    c, r = SIZE // 2, 190
    box = (c - r, c - r - 40, c + r, c + r - 40)
    w = 10
    if shape == "circle":
        d.ellipse(box, fill=fill, outline=outline, width=w)
    elif shape == "square":
        d.rounded_rectangle(box, radius=70, fill=fill, outline=outline, width=w)
    elif shape == "blob":
        d.ellipse((c - r - 20, c - r + 10 - 40, c + r + 20, c + r - 30 - 40), fill=fill, outline=outline, width=w)
    elif shape == "cloud":
        cy = c - 40
        for dx, dy, rr in ((-110, 20, 110), (110, 20, 110), (0, -50, 130), (0, 60, 120)):
            d.ellipse((c + dx - rr, cy + dy - rr, c + dx + rr, cy + dy + rr), fill=outline)
        for dx, dy, rr in ((-110, 20, 100), (110, 20, 100), (0, -50, 120), (0, 60, 110)):
            d.ellipse((c + dx - rr, cy + dy - rr, c + dx + rr, cy + dy + rr), fill=fill)
    elif shape == "star":
        import math

        cy = c - 40
        pts = []
        for i in range(10):
            rad = 215 if i % 2 == 0 else 120
            a = -math.pi / 2 + i * math.pi / 5
            pts.append((c + rad * math.cos(a), cy + rad * math.sin(a)))
        d.polygon(pts, fill=fill, outline=outline, width=w)
    elif shape == "heart":
        cy = c - 60
        d.ellipse((c - 190, cy - 110, c + 10, cy + 90), fill=fill, outline=outline, width=w)
        d.ellipse((c - 10, cy - 110, c + 190, cy + 90), fill=fill, outline=outline, width=w)
        d.polygon([(c - 182, cy + 30), (c + 182, cy + 30), (c, cy + 230)], fill=fill, outline=outline, width=w)
        d.ellipse((c - 180, cy - 100, c, cy + 80), fill=fill)
        d.ellipse((c, cy - 100, c + 180, cy + 80), fill=fill)
    else:
        raise ValueError(shape)


def _face(d: ImageDraw.ImageDraw, face: str) -> None:
    k = (30, 30, 30)
    cx, cy = SIZE // 2, SIZE // 2 - 60
    ex = 65
    if face == "laugh":
        for s in (-1, 1):
            d.line([(cx + s * ex - 25, cy - 5), (cx + s * ex, cy - 25), (cx + s * ex + 25, cy - 5)], fill=k, width=10)
        d.chord((cx - 70, cy + 5, cx + 70, cy + 115), 0, 180, fill=(120, 30, 40), outline=k, width=6)
    elif face == "love":
        for s in (-1, 1):
            x = cx + s * ex
            d.ellipse((x - 24, cy - 30, x, cy - 6), fill=(220, 20, 60))
            d.ellipse((x, cy - 30, x + 24, cy - 6), fill=(220, 20, 60))
            d.polygon([(x - 23, cy - 14), (x + 23, cy - 14), (x, cy + 14)], fill=(220, 20, 60))
        d.arc((cx - 55, cy + 10, cx + 55, cy + 80), 20, 160, fill=k, width=9)
    elif face == "sleepy":
        for s in (-1, 1):
            d.arc((cx + s * ex - 25, cy - 25, cx + s * ex + 25, cy + 5), 20, 160, fill=(240, 240, 240), width=8)
        d.ellipse((cx - 14, cy + 40, cx + 14, cy + 66), outline=(240, 240, 240), width=6)
    else:
        for s in (-1, 1):
            x = cx + s * ex
            if face == "wink" and s == 1:
                d.line([(x - 22, cy - 10), (x + 22, cy - 10)], fill=k, width=9)
            else:
                r = 24 if face == "wow" else 17
                d.ellipse((x - r, cy - 10 - r, x + r, cy - 10 + r), fill=k)
            if face == "angry":
                d.line([(x - 30 * s, cy - 60), (x + 25 * s, cy - 38)], fill=k, width=10)
            if face == "worried":
                d.line([(x - 28 * s, cy - 42), (x + 22 * s, cy - 58)], fill=k, width=8)
        if face in ("smile", "wink"):
            d.arc((cx - 60, cy - 10, cx + 60, cy + 80), 20, 160, fill=k, width=10)
        elif face in ("sad", "angry", "worried"):
            d.arc((cx - 50, cy + 40, cx + 50, cy + 110), 200, 340, fill=k, width=10)
            if face == "sad":
                d.ellipse((cx + ex - 10, cy + 15, cx + ex + 12, cy + 50), fill=(80, 160, 255))
        elif face == "wow":
            d.ellipse((cx - 28, cy + 35, cx + 28, cy + 100), fill=(90, 20, 30), outline=k, width=6)
        else:  # flat
            d.line([(cx - 45, cy + 60), (cx + 45, cy + 60)], fill=k, width=10)


def _fit_font(d: ImageDraw.ImageDraw, text: str, cjk: bool, max_w: int, start: int):
    size = start
    while size > 24:
        font = _font(size, cjk)
        box = d.textbbox((0, 0), text, font=font, stroke_width=8)
        if box[2] - box[0] <= max_w:
            return font
        size -= 6
    return _font(size, cjk)


def draw_sticker(spec: DemoSticker) -> Image.Image:
    """One 512×512 RGBA sticker: a coloured shape, a face, and its words in white with a black edge."""
    im = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    outline = tuple(max(0, v - 90) for v in spec.colour)
    _shape(d, spec.shape, spec.colour + (255,), outline + (255,))
    _face(d, spec.face)
    font = _fit_font(d, spec.text, spec.cjk, SIZE - 40, 120 if spec.cjk else 96)
    box = d.textbbox((0, 0), spec.text, font=font, stroke_width=8)
    x = (SIZE - (box[2] - box[0])) // 2 - box[0]
    y = SIZE - 30 - (box[3] - box[1]) - box[1]
    d.text((x, y), spec.text, font=font, fill=(255, 255, 255, 255), stroke_width=8, stroke_fill=(20, 20, 20, 255))
    return im


def write_stickers(folder: Path, specs: list[DemoSticker] | None = None) -> dict[str, Path]:
    """Draw the demo stickers into `folder` as lossless WebP; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for spec in specs if specs is not None else available_stickers()[0]:
        path = folder / f"{spec.name}.webp"
        draw_sticker(spec).save(path, "WEBP", lossless=True, quality=80, method=4)
        out[spec.name] = path
    return out


# --- seeding ----------------------------------------------------------------------------------
@dataclass
class DemoReport:
    seeded: bool  # False when the data dir already had the demo (and --force was not given)
    stickers: int = 0
    messages: int = 0
    described: int = 0
    memories: int = 0
    notes: list[str] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.notes is None:
            self.notes = []


def is_seeded(app) -> bool:
    return bool(app.catalog.get_kv(SEEDED_KEY, False))


def seed_demo(app, *, force: bool = False, describe: bool = True, memories: bool = False,
              progress=None) -> DemoReport:
    """Seed the data dir with the demo pack and chat, once (again with `force`).

    The files go to `<data dir>/demo/` rather than a throw-away temp dir, so the library's recorded
    sources stay valid (a later `library check` finds them). Steps: draw the stickers, ingest them as
    two packs, give each its emoji, import the demo chat (its sticker messages resolve to the same
    bytes), read the words on them (OCR) and index them. Memories need the summarizer LLM (seconds
    per session), so they are built only when asked.
    """
    from assistant.chats.store import import_path
    from assistant.library.ingest import add_folder

    if is_seeded(app) and not force:
        return DemoReport(seeded=False, notes=["the demo data is already here (use --force to seed it again)"])
    specs, notes = available_stickers()
    root = app.config.data_dir / "demo"
    export = root / "export"
    if export.exists():
        shutil.rmtree(export)
    packs_dir = root / "packs"
    by_pack: dict[str, list[DemoSticker]] = {}
    for s in specs:
        by_pack.setdefault(s.pack, []).append(s)
    paths: dict[str, Path] = {}
    for pack, members in by_pack.items():
        paths.update(write_stickers(packs_dir / pack, members))
    report = DemoReport(seeded=True, notes=notes)
    for pack in by_pack:
        r = add_folder(app, packs_dir / pack, pack=pack, progress=progress)
        report.stickers += r.stickers_added
        report.notes.extend(str(p) for p in r.problems)
    _set_emoji(app, specs, paths)

    # The chat refers to files under stickers/; a Telegram export keeps them next to result.json.
    available = {s.name for s in specs}
    chat = json.loads(DEMO_CHAT.read_text(encoding="utf-8"))
    for c in chat["chats"]["list"]:
        c["messages"] = [m for m in c["messages"]
                         if m.get("media_type") != "sticker" or Path(m["file"]).stem in available]
    (export / "stickers").mkdir(parents=True)
    for name in available:
        shutil.copyfile(paths[name], export / "stickers" / f"{name}.webp")
    (export / "result.json").write_text(json.dumps(chat, ensure_ascii=False, indent=1), encoding="utf-8")
    r = import_path(app, export, progress=progress)
    report.messages = r.messages_added
    report.notes.extend(str(p) for p in r.problems)
    if not r.ok:
        report.notes.append("the demo chat did not import cleanly; suggestions use the stickers alone")
    if describe:
        from assistant.library import attributes

        report.described = attributes.describe(app, progress=progress)
    else:
        from assistant.library import index

        index.reindex(app, progress=progress)
    if memories:
        report.memories = _build_memories(app, progress, report)
    app.catalog.set_kv(SEEDED_KEY, True)
    return report


def _set_emoji(app, specs: list[DemoSticker], paths: dict[str, Path]) -> None:
    import hashlib

    with app.catalog.transaction() as conn:
        for s in specs:
            sha = hashlib.sha256(paths[s.name].read_bytes()).hexdigest()
            conn.execute("UPDATE stickers SET emoji=? WHERE sha256=? AND (emoji IS NULL OR emoji='')",
                         (s.emoji, sha))


def _build_memories(app, progress, report: DemoReport) -> int:
    from assistant.memory import memories as memories_mod

    try:
        built = memories_mod.build(app, progress=progress or (lambda *_: None))
    except Exception as exc:  # noqa: BLE001 - the demo stays usable without memories
        report.notes.append(f"memories were not built: {exc}")
        return 0
    report.notes.extend(f"memory: {f}" for f in built.failed)
    return built.summarized


def demo_conversation() -> str:
    return DEMO_CONVERSATION.read_text(encoding="utf-8")
