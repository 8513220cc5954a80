"""Animated stickers play in the suggestion grid: WebP/GIF from the file, Telegram .tgs and .webm through
their decoders (off the UI thread), from the ingest preview when the original is gone, and only while
the grid is visible.

No fixture under ../shared is animated (its Telegram stickers are still WebPs), so the animated files
are written here by the libraries that write those formats (tests/library/conftest.py helpers) and go
through the real ingest."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from assistant.domain import Suggestion
from tests.library.conftest import animated_gif, animated_webp, tgs, webm


def _add(app, tmp_path: Path, name: str, data: bytes):
    from assistant.library.ingest import add_file

    path = tmp_path / name
    path.write_bytes(data)
    result = add_file(app, path)
    assert result.problem is None and result.added, result.problem
    sticker = app.catalog.sticker(result.sticker_id, app.config.stickers_dir)
    assert sticker.animated, name
    return Suggestion(sticker=sticker, score=1.0, reasons=[f"test {name}"])


def _cell(panel, row: int) -> QImage:
    rect = panel.grid.visualItemRect(panel.grid.item(row))
    return panel.grid.viewport().grab(rect).toImage()


@pytest.fixture
def panel(window):
    window.tabs.setCurrentWidget(window.suggest_panel)
    return window.suggest_panel


def test_animated_webp_cell_pixels_change_and_stop_while_hidden(app, window, panel, qtbot, tmp_path):
    sug = _add(app, tmp_path, "moving.webp", animated_webp(6))
    with qtbot.waitSignal(panel.suggestions_ready, timeout=5_000):
        panel.show_suggestions([sug])
    key = sug.sticker.sha256
    qtbot.waitUntil(lambda: panel.animator.is_playing(key), timeout=30_000)
    assert panel.animator.running
    first = _cell(panel, 0)
    qtbot.waitUntil(lambda: _cell(panel, 0) != first, timeout=10_000)  # the painted cell moves

    # Another tab hides the grid: the timer stops and no frame is drawn meanwhile.
    window.tabs.setCurrentWidget(window.memory_view)
    qtbot.waitUntil(lambda: not panel.animator.running, timeout=5_000)
    shown = panel.animator.frames_shown
    qtbot.wait(400)
    assert panel.animator.frames_shown == shown
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.animator.frames_shown > shown + 2, timeout=10_000)


def test_gif_tgs_and_webm_all_animate_and_preview_is_the_fallback(app, window, panel, qtbot, tmp_path):
    data, _pix = webm(12)
    sugs = [_add(app, tmp_path, "a.gif", animated_gif(6)), _add(app, tmp_path, "b.tgs", tgs()),
            _add(app, tmp_path, "c.webm", data), _add(app, tmp_path, "d.webp", animated_webp(5))]
    # The library copy of the last one is gone (moved disk, manual cleanup): its ingest preview plays.
    Path(sugs[3].sticker.path).unlink()
    assert (app.config.thumbs_dir / f"{sugs[3].sticker.sha256}.preview.webp").exists()
    panel.show_suggestions(sugs)
    keys = [s.sticker.sha256 for s in sugs]
    qtbot.waitUntil(lambda: all(panel.animator.is_playing(k) for k in keys), timeout=60_000)
    start = {k: panel.animator.frame_index(k) for k in keys}
    qtbot.waitUntil(lambda: all(panel.animator.frame_index(k) != start[k] for k in keys), timeout=10_000)
    for row in range(len(sugs)):  # every cell shows its coloured shape, not the grey placeholder
        image = _cell(panel, row)
        pixels = [image.pixelColor(x, y) for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)]
        assert any(max(c.red(), c.green(), c.blue()) - min(c.red(), c.green(), c.blue()) > 80 for c in pixels), \
            sugs[row].sticker.fmt

    # A second identical suggestion list starts from the decoded cache, without another decode.
    panel.show_suggestions(sugs)
    assert all(panel.animator.is_playing(k) for k in keys)


def test_unreadable_animation_keeps_the_still_thumbnail(app, window, panel, qtbot, tmp_path):
    from assistant.gui.animation import decode_frames

    sug = _add(app, tmp_path, "e.webp", animated_webp(4))
    Path(sug.sticker.path).write_bytes(b"RIFF\0\0\0\0WEBPgarbage")
    (app.config.thumbs_dir / f"{sug.sticker.sha256}.preview.webp").unlink()
    assert decode_frames(Path(sug.sticker.path), "webp", 64) is None
    panel.show_suggestions([sug])
    qtbot.waitUntil(lambda: panel.animator.loading == 0, timeout=30_000)
    assert not panel.animator.is_playing(sug.sticker.sha256)
    assert panel.grid.count() == 1


def test_library_details_preview_plays_a_tgs_sticker(app, window, qtbot, tmp_path):
    from PySide6.QtCore import QItemSelectionModel

    sug = _add(app, tmp_path, "lib.tgs", tgs())
    window.tabs.setCurrentWidget(window.library_view)
    view = window.library_view
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=30_000)
    view.grid.selectionModel().setCurrentIndex(view.model.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    animator = view.details.animator
    key = sug.sticker.sha256
    qtbot.waitUntil(lambda: animator.is_playing(key), timeout=30_000)
    first = view.details.preview.pixmap().toImage()
    qtbot.waitUntil(lambda: view.details.preview.pixmap().toImage() != first, timeout=10_000)
    view.grid.selectionModel().clearSelection()
    view.details.set_sticker(None)
    assert not animator.is_playing(key) and not animator.running


def test_long_animations_are_sampled_with_their_total_duration_kept(tmp_path):
    from PIL import Image

    from assistant.gui.animation import MAX_FRAMES, decode_frames
    from tests.library.conftest import frames

    fs = [f.convert("RGB") for f in frames(150, size=200)]  # the square moves every frame: none merge
    path = tmp_path / "long.gif"
    fs[0].save(path, "GIF", save_all=True, append_images=fs[1:], duration=40, loop=0)
    with Image.open(path) as im:
        assert im.n_frames == 150
        total = sum((im.seek(i), im.info["duration"])[1] for i in range(im.n_frames))
    decoded = decode_frames(path, "gif", 72)
    assert len(decoded.images) == MAX_FRAMES
    assert sum(decoded.delays_ms) == total
    assert all(max(image.width(), image.height()) == 72 for image in decoded.images)
    assert decoded.images[0] != decoded.images[-1]
