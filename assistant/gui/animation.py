"""Animated stickers in the GUI: frames decoded off the UI thread, played only while visible.

`QMovie` decodes each frame on the UI thread when its timer fires and reads only GIF/WebP/APNG. Here
a loader thread decodes every format the library holds (GIF, WebP, APNG with Pillow; Telegram .tgs
with rlottie; .webm with PyAV's libvpx decoder, which keeps the alpha plane) straight to display
size, and falls back to the short preview ingest wrote (`thumbs/<sha>.preview.webp`). The UI thread
then only swaps small pixmaps: one coarse timer per widget (the suggestion grid, the library's
preview) advances what is on screen, and stops whenever the widget is hidden, so a panel in the
background costs nothing.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

log = logging.getLogger(__name__)

MAX_FRAMES = 60  # per sticker: 60 x 112 px x 4 bytes ~ 3 MB; longer animations are sampled evenly
MIN_DELAY_MS = 20  # browsers clamp faster GIF frame delays the same way
DEFAULT_DELAY_MS = 100
TICK_MS = 20
CACHE_STICKERS = 32  # decoded animations kept per grid, so repeated suggestions start at once
PILLOW_FORMATS = {"gif", "webp", "apng", "png"}


@dataclass
class Frames:
    """Decoded frames at icon size and how long each one shows."""

    images: list[QImage]
    delays_ms: list[int]


def _fit(w: int, h: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(w, h, 1))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _qimage(im) -> QImage:
    """A Pillow image as a QImage that owns its pixels (the bytes object may go away)."""
    rgba = im.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    return QImage(data, rgba.width, rgba.height, 4 * rgba.width, QImage.Format.Format_RGBA8888).copy()


def _sample(images: list, delays: list[int], limit: int) -> tuple[list, list[int]]:
    """At most `limit` frames spread evenly; each kept frame shows for the time of those it stands for."""
    n = len(images)
    if n <= limit:
        return images, delays
    keep = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
    bounds = keep[1:] + [n]
    return [images[i] for i in keep], [sum(delays[i:j]) for i, j in zip(keep, bounds)]


def _pillow_frames(path: Path, side: int, limit: int) -> Frames | None:
    from PIL import Image

    with Image.open(path) as im:
        n = getattr(im, "n_frames", 1)
        if n < 2:
            return None
        w, h = _fit(*im.size, side)
        keep = set(_sample(list(range(n)), [0] * n, limit)[0])
        images, delays = [], []
        for i in range(n):
            im.seek(i)  # every frame is read (GIF and WebP frames build on the previous ones)
            delays.append(int(im.info.get("duration") or DEFAULT_DELAY_MS))
            # only kept frames are scaled; box-reduce then bilinear is 2-3x faster than LANCZOS
            # for 512 -> 112 px and looks alike at icon size
            images.append(im.convert("RGBA").resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0)
                          if i in keep else None)
    images, delays = _sample(images, delays, limit)
    return Frames([_qimage(x) for x in images], delays)


def _tgs_frames(path: Path, side: int, limit: int) -> Frames | None:
    from rlottie_python import LottieAnimation

    raw = gzip.decompress(path.read_bytes())
    anim = LottieAnimation.from_data(raw.decode("utf-8"))
    try:
        total = anim.lottie_animation_get_totalframe()
        if total < 2:
            return None
        fps = anim.lottie_animation_get_framerate() or 60
        w, h = anim.lottie_animation_get_size()
        w, h = _fit(w, h, side)
        indexes = list(range(total)) if total <= limit else \
            sorted({round(i * (total - 1) / (limit - 1)) for i in range(limit)})
        images = [_qimage(anim.render_pillow_frame(i, width=w, height=h)) for i in indexes]
    finally:
        anim.lottie_animation_destroy()
    per = int(1000 * total / fps / len(images))
    return Frames(images, [per] * len(images))


def _webm_frames(path: Path, side: int, limit: int) -> Frames | None:
    import av
    from PIL import Image

    container = av.open(str(path))
    try:
        stream = container.streams.video[0]
        name = stream.codec_context.name
        try:  # FFmpeg's native VP9 decoder drops the alpha plane; libvpx keeps it
            codec = av.CodecContext.create({"vp9": "libvpx-vp9", "vp8": "libvpx"}.get(name, name), "r")
        except (av.FFmpegError, ValueError):
            codec = av.CodecContext.create(name, "r")
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        images = []
        for packet in list(container.demux(stream)) + [None]:
            if packet is not None and packet.size == 0:
                continue
            for frame in codec.decode(packet):
                im = Image.fromarray(frame.to_ndarray(format="rgba"), "RGBA")
                im.thumbnail((side, side), Image.Resampling.LANCZOS)
                images.append(im)
                if len(images) >= 4 * limit:  # enough to sample from; stickers are 3 s at most
                    break
    finally:
        container.close()
    if len(images) < 2:
        return None
    images, delays = _sample(images, [int(1000 / rate)] * len(images), limit)
    return Frames([_qimage(x) for x in images], delays)


def decode_frames(path: Path, fmt: str, side: int, limit: int = MAX_FRAMES) -> Frames | None:
    """Frames of an animated sticker file at most `side` px, or None when it is not animated or
    cannot be read (the grid then keeps the still thumbnail; nothing is raised to the UI)."""
    fmt = fmt.lower()
    try:
        if fmt in PILLOW_FORMATS:
            frames = _pillow_frames(path, side, limit)
        elif fmt == "tgs":
            frames = _tgs_frames(path, side, limit)
        elif fmt == "webm":
            frames = _webm_frames(path, side, limit)
        else:
            return None
    except Exception as exc:  # noqa: BLE001 - one odd file must only lose its animation
        log.info("no animation for %s: %s", path, exc)
        return None
    if frames is not None:
        frames.delays_ms = [max(MIN_DELAY_MS, d) for d in frames.delays_ms]
    return frames


class FrameLoader(QThread):
    """One thread decoding requested animations, newest request first."""

    loaded = Signal(str, object)  # key, Frames | None

    def __init__(self, side: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self._queue: deque[tuple[str, list[tuple[Path, str]]]] = deque()
        self._cond = threading.Condition()
        self._stop = False

    def request(self, key: str, sources: list[tuple[Path, str]]) -> None:
        with self._cond:
            self._queue.append((key, sources))
            self._cond.notify()

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._queue.clear()
            self._cond.notify()
        self.wait(10_000)

    def run(self) -> None:  # noqa: D401 - Qt override
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                key, sources = self._queue.pop()
            frames = None
            for path, fmt in sources:
                if path.exists():
                    frames = decode_frames(path, fmt, self.side)
                    if frames is not None:
                        break
            self.loaded.emit(key, frames)


@dataclass
class _Playing:
    show: Callable[[QPixmap], None]  # puts a frame on screen (an item's icon, a label's pixmap)
    on_screen: Callable[[], bool]  # False while scrolled out of sight: no frame is drawn then
    pixmaps: list[QPixmap]
    delays_ms: list[int]
    index: int = 0
    due: float = 0.0


class Animator(QObject):
    """Plays animated stickers inside one widget (a grid, a preview label) while it is visible.

    `animate_target(key, sources, show, on_screen)` queues the decode and then calls `show(pixmap)` for
    each frame; `clear()` forgets every animation (call it before the targets go away).
    `frames_shown` counts frame changes, for tests and benchmarks.
    """

    def __init__(self, widget: QWidget, side: int) -> None:
        super().__init__(widget)
        self.widget = widget
        self.frames_shown = 0
        self._playing: dict[str, _Playing] = {}
        self._pending: dict[str, tuple[Callable[[QPixmap], None], Callable[[], bool]]] = {}
        self._cache: OrderedDict[str, tuple[list[QPixmap], list[int]]] = OrderedDict()
        self._loader = FrameLoader(side)
        self._loader.loaded.connect(self._loaded)
        self._loader.start()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.CoarseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        widget.installEventFilter(self)
        self._closed = False
        from PySide6.QtCore import QCoreApplication

        qapp = QCoreApplication.instance()
        if qapp is not None:  # a running decoder thread at exit would abort the process
            qapp.aboutToQuit.connect(self.close)

    @property
    def playing(self) -> int:
        return len(self._playing)

    def is_playing(self, key: str) -> bool:
        return key in self._playing

    def frame_index(self, key: str) -> int | None:
        """Which frame of `key` shows now (None when it is not playing)."""
        p = self._playing.get(key)
        return None if p is None else p.index

    @property
    def loading(self) -> int:
        """Animations requested and not decoded yet."""
        return len(self._pending)

    @property
    def running(self) -> bool:
        """Whether the frame timer runs (it stops while the widget is hidden)."""
        return self._timer.isActive()

    def animate_target(self, key: str, sources: list[tuple[Path, str]], show: Callable[[QPixmap], None],
                       on_screen: Callable[[], bool] = lambda: True) -> None:
        if self._closed:
            return
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self._play(key, show, on_screen, *cached)
            return
        self._pending[key] = (show, on_screen)
        self._loader.request(key, sources)

    def clear(self) -> None:
        self._loader.clear()
        self._pending.clear()
        self._playing.clear()
        self._timer.stop()

    def _loaded(self, key: str, frames: Frames | None) -> None:
        target = self._pending.pop(key, None)
        if self._closed or frames is None or len(frames.images) < 2:
            return
        pixmaps = [QPixmap.fromImage(image) for image in frames.images]
        self._cache[key] = (pixmaps, frames.delays_ms)  # kept even when the widget moved on meanwhile
        while len(self._cache) > CACHE_STICKERS:
            self._cache.popitem(last=False)
        if target is not None:
            self._play(key, *target, pixmaps, frames.delays_ms)

    def _play(self, key: str, show: Callable[[QPixmap], None], on_screen: Callable[[], bool],
              pixmaps: list[QPixmap], delays_ms: list[int]) -> None:
        self._playing[key] = _Playing(show, on_screen, pixmaps, delays_ms, 0, time.monotonic() + delays_ms[0] / 1000)
        show(pixmaps[0])
        self._update_timer()

    def _minimized(self) -> bool:
        window = self.widget.window()
        return window is not None and window.isMinimized()

    def _update_timer(self) -> None:
        if self._playing and self.widget.isVisible() and not self._closed:
            if not self._timer.isActive():
                now = time.monotonic()
                for p in self._playing.values():
                    p.due = now + p.delays_ms[p.index] / 1000
                self._timer.start()
        else:
            self._timer.stop()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt override
        if watched is self.widget and event.type() in (QEvent.Type.Show, QEvent.Type.Hide):
            QTimer.singleShot(0, self, self._update_timer)  # isVisible() is settled after the event
        return False

    def _tick(self) -> None:
        if not self.widget.isVisible():  # the next Show event starts the timer again
            self._timer.stop()
            return
        if self._minimized():  # not every platform sends Show on restore: look twice a second, draw nothing
            self._timer.setInterval(500)
            return
        self._timer.setInterval(TICK_MS)
        now = time.monotonic()
        for p in self._playing.values():
            if now < p.due:
                continue
            if not p.on_screen():
                p.due = now + 0.25  # scrolled out of sight: look again later, draw nothing
                continue
            p.index = (p.index + 1) % len(p.pixmaps)
            p.show(p.pixmaps[p.index])
            self.frames_shown += 1
            p.due = max(now, p.due) + p.delays_ms[p.index] / 1000
            if p.due < now:  # fell far behind (the machine was busy): resync rather than race
                p.due = now + p.delays_ms[p.index] / 1000

    def close(self) -> None:
        """Stop the timer and the decoding thread (idempotent)."""
        if not self._closed:
            self._closed = True
            self.clear()
            self._loader.stop()
            self._cache.clear()  # free pixmaps while the QApplication still exists


class GridAnimator(Animator):
    """Animated stickers as the icons of a QListWidget's items; items scrolled out of view pause."""

    def __init__(self, grid: QListWidget, side: int) -> None:
        super().__init__(grid, side)
        self.grid = grid

    def animate(self, item: QListWidgetItem, key: str, sources: list[tuple[Path, str]]) -> None:
        grid = self.grid

        def on_screen() -> bool:
            return grid.visualItemRect(item).intersects(grid.viewport().rect())

        self.animate_target(key, sources, lambda pixmap: item.setIcon(QIcon(pixmap)), on_screen)
