"""Lazy thumbnail loading for sticker grids: a small LRU of pixmaps fed by one loader thread.

The grid asks for a thumbnail only when a cell is painted; a miss queues the file and paints a
placeholder. The loader reads newest requests first (the cells the user is looking at now) and drops
the oldest when the queue is long, so fast scrolling through 20,000 stickers never builds a backlog.
QImage is safe to build off the UI thread; it becomes a QPixmap on the UI thread.
"""

from __future__ import annotations

import html
import threading
from collections import OrderedDict, deque
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, QThread, Signal
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter, QPixmap

QT_READABLE = {"png", "webp", "gif", "jpg", "jpeg", "bmp"}


def plain_tooltip(text: str) -> str:
    """Tooltips guess rich text from content; escaping makes user text always show as typed."""
    return "<p style='white-space:pre-wrap'>" + html.escape(text) + "</p>"


def load_image(path: Path, size: int) -> QImage | None:
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    original = reader.size()
    if original.isValid() and (original.width() > size or original.height() > size):
        reader.setScaledSize(original.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return None
    if image.width() > size or image.height() > size:
        image = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    return image


def placeholder(size: int, text: str = "…") -> QPixmap:
    pix = QPixmap(size, size)
    pix.fill(QColor(128, 128, 128, 40))
    painter = QPainter(pix)
    painter.setPen(QColor(128, 128, 128))
    painter.drawText(pix.rect(), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pix


class _Loader(QThread):
    loaded = Signal(str, QImage)

    def __init__(self, size: int, max_pending: int) -> None:
        super().__init__()
        self.size = size
        self.max_pending = max_pending
        self._queue: deque[tuple[str, list[Path]]] = deque()
        self._queued: set[str] = set()
        self._cond = threading.Condition()
        self._stop = False

    def request(self, key: str, paths: list[Path]) -> None:
        with self._cond:
            if key in self._queued:
                return
            self._queue.append((key, paths))
            self._queued.add(key)
            while len(self._queue) > self.max_pending:
                old, _ = self._queue.popleft()
                self._queued.discard(old)
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self.wait(5000)

    def run(self) -> None:  # noqa: D401 - Qt override
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                key, paths = self._queue.pop()  # newest first: what is on screen now
            image = None
            for path in paths:
                if path.exists() and path.suffix.lower().lstrip(".") in QT_READABLE:
                    image = load_image(path, self.size)
                    if image is not None:
                        break
            with self._cond:
                self._queued.discard(key)
            self.loaded.emit(key, image if image is not None else QImage())


class ThumbnailCache(QObject):
    """`pixmap(sha, paths)` returns a cached pixmap or None (and loads it); `ready(sha)` follows."""

    ready = Signal(str)

    def __init__(self, size: int = 96, capacity: int = 3000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.capacity = capacity
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: set[str] = set()
        self._loader = _Loader(size, max_pending=512)
        self._loader.loaded.connect(self._on_loaded)
        self._loader.start()
        self._closed = False
        from PySide6.QtCore import QCoreApplication

        qapp = QCoreApplication.instance()
        if qapp is not None:
            qapp.aboutToQuit.connect(self.close)
        self.placeholder = placeholder(size)
        self.broken = placeholder(size, "?")

    def pixmap(self, key: str, paths: list[Path]) -> QPixmap:
        pix = self._cache.get(key)
        if pix is not None:
            self._cache.move_to_end(key)
            return pix
        if key in self._failed:
            return self.broken
        self._loader.request(key, paths)
        return self.placeholder

    def _on_loaded(self, key: str, image: QImage) -> None:
        if image.isNull():
            self._failed.add(key)
        else:
            self._cache[key] = QPixmap.fromImage(image)
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        self.ready.emit(key)

    def icon_size(self) -> QSize:
        return QSize(self.size, self.size)

    def close(self) -> None:
        """Stop the loader thread (idempotent); a running QThread at exit would abort the process."""
        if not self._closed:
            self._closed = True
            self._loader.stop()
            # Free the pixmaps while the QApplication still exists: pixmaps left to the interpreter's
            # final garbage collection outlive it and crash the process at exit.
            self._cache.clear()
