"""The library grid over a real ingested folder: edit tags in the details pane, filter, bulk actions."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import shared_path
from tests.gui.conftest import STICKERS


@pytest.fixture
def stocked(app, tmp_path):
    from assistant.library.ingest import add_folder

    folder = tmp_path / "pack"
    folder.mkdir()
    for p in sorted(shared_path(*STICKERS).glob("*.jpg"))[:12]:
        shutil.copy(p, folder / p.name)
    report = add_folder(app, folder, pack="demo")
    assert report.stickers_added == 12
    return app


def _open_library(window, qtbot, n):
    window.tabs.setCurrentWidget(window.library_view)
    view = window.library_view
    qtbot.waitUntil(lambda: view.model.rowCount() == n, timeout=30_000)
    return view


def test_edit_tags_in_details_pane_is_stored(stocked, window, qtbot):
    from PySide6.QtCore import QItemSelectionModel, Qt

    from assistant.library import manage

    view = _open_library(window, qtbot, 12)
    # thumbnails load lazily and the cells repaint with them
    first = view.model.rows[0]
    qtbot.waitUntil(lambda: view.model.thumbs._cache.get(first.sha256) is not None, timeout=20_000)
    view.grid.selectionModel().setCurrentIndex(view.model.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    assert view.details.sticker.id == first.id
    assert view.details.save_btn.isEnabled()
    view.details.tags.setText("happy, cat,  wave ")
    qtbot.keyClick(view.details.tags, Qt.Key.Key_Return)
    assert manage.get(stocked, first.id).tags == ["cat", "happy", "wave"]
    view.details.style.setText("cartoon")
    view.details.favourite.setChecked(True)
    view.details.save_btn.click()
    stored = manage.get(stocked, first.id)
    assert stored.style == "cartoon" and stored.favourite
    assert view.model.rows[0].tags == ["cat", "happy", "wave"]

    # the tag appears as a filter and narrows the grid to that sticker
    view.reload_filters()
    view.tag.setCurrentIndex(view.tag.findData("wave"))
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    assert view.model.rows[0].id == first.id


def test_search_and_bulk_favourite_hide(stocked, window, qtbot):
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    from assistant.library import manage

    view = _open_library(window, qtbot, 12)
    selection = QItemSelection(view.model.index(0), view.model.index(2))
    view.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    ids = [s.id for s in view.selected()]
    assert len(ids) == 3 and view.fav_btn.isEnabled()
    assert view.details.sticker is None and "3 stickers selected" in view.details.info.text()
    view.fav_btn.click()
    assert all(manage.get(stocked, i).favourite for i in ids)
    qtbot.waitUntil(lambda: not window.runner.active, timeout=10_000)
    view.favourite.setChecked(True)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10_000)
    view.favourite.setChecked(False)
    qtbot.waitUntil(lambda: view.model.rowCount() == 12, timeout=10_000)
    view.grid.selectionModel().select(view.model.index(5), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    hidden_id = view.selected()[0].id
    view.hide_btn.click()
    assert manage.get(stocked, hidden_id).hidden
    qtbot.waitUntil(lambda: view.model.rowCount() == 11, timeout=10_000)
    view.search.setText("zzzz-no-such-words")
    qtbot.waitUntil(lambda: view.model.rowCount() == 0, timeout=10_000)
    assert view.count.text() == "0 stickers"


def test_export_selected_writes_files(stocked, window, qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QItemSelection, QItemSelectionModel
    from PySide6.QtWidgets import QFileDialog

    view = _open_library(window, qtbot, 12)
    view.grid.selectionModel().select(QItemSelection(view.model.index(0), view.model.index(3)),
                                      QItemSelectionModel.SelectionFlag.ClearAndSelect)
    out = tmp_path / "exported"
    # the folder picker is the one thing a test cannot click through offscreen
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(out)))
    view.export_selected()
    qtbot.waitUntil(lambda: "Exported" in view.count.text(), timeout=20_000)
    assert len(list(out.iterdir())) == 4
