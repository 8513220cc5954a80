"""The Library's "Write descriptions" action: the install message when no describer is installed, one
real caption (summarizer GGUF + a tiny random projector) reaching the details pane, and Cancel."""

from __future__ import annotations

import threading

import pytest

from assistant.library import ingest, manage
from tests.library.conftest import drawn_sticker as _sticker


@pytest.fixture
def two(app, tmp_path):
    """Two stickers without descriptions."""
    return [ingest.add_file(app, _sticker(tmp_path, n, c)).sticker_id
            for n, c in (("red", (220, 30, 30, 255)), ("blue", (30, 30, 220, 255)))]


def _library(window, qtbot, n):
    window.tabs.setCurrentWidget(window.library_view)
    view = window.library_view
    qtbot.waitUntil(lambda: view.model.rowCount() == n, timeout=30_000)
    return view


def _select(view, sticker_id):
    from PySide6.QtCore import QItemSelectionModel

    row = next(i for i, s in enumerate(view.model.rows) if s.id == sticker_id)
    view.grid.selectionModel().setCurrentIndex(view.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)


def test_without_describer_the_action_says_how_to_install_and_changes_nothing(app, two, window, qtbot):
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from assistant.gui.settings_dialog import SettingsDialog

    view = _library(window, qtbot, 2)
    action = view.captions
    assert action.write_act.isEnabled() and not action.redo_act.isEnabled()  # redo needs a selection
    assert action.menu_btn.accessibleName() and action.menu_btn.menu().actions() == [action.write_act,
                                                                                     action.redo_act]
    window.activateWindow()
    view.grid.setFocus()
    qtbot.keyClick(view.grid, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: action.message is not None and action.message.isVisible(), timeout=20_000)
    box = action.message
    assert "models import describer" in box.text() and "describer-projector" in box.text()
    assert "Settings" in box.informativeText()
    assert all(manage.get(app, i).description == "" for i in two)
    assert not action.isVisible() and action.job is None and action.write_act.isEnabled()

    # the box's button opens Settings (modal): close it from a timer once it is up
    opened = []

    def close_settings():
        dialog = QApplication.activeModalWidget()
        if isinstance(dialog, SettingsDialog):
            opened.append(dialog)
            dialog.reject()
        else:
            QTimer.singleShot(50, close_settings)

    QTimer.singleShot(50, close_settings)
    settings_btn = next(b for b in box.buttons() if "Settings" in b.text())
    settings_btn.click()
    qtbot.waitUntil(lambda: bool(opened), timeout=20_000)
    assert not box.isVisible()
    assert all(manage.get(app, i).description == "" for i in two)


def test_real_describer_writes_the_selected_stickers_description(app, two, window, qtbot, summarizer_gguf,
                                                                 tmp_path_factory):
    from assistant.ml import describer as d
    from tests.library.tiny_mmproj import text_width, write_projector

    projector = write_projector(tmp_path_factory.mktemp("mmproj") / "tiny-mmproj.gguf", text_width(summarizer_gguf))
    real = d.LlamaCppDescriber(summarizer_gguf, projector, n_gpu_layers=0, max_tokens=12)
    app.override("describer", real)
    try:
        view = _library(window, qtbot, 2)
        _select(view, two[0])
        assert view.details.sticker.id == two[0] and view.details.description.toPlainText() == ""
        assert view.captions.redo_act.isEnabled()
        view.captions.write_act.trigger()  # for the selected sticker only
        assert view.captions.job is not None and not view.captions.write_act.isEnabled()  # one run at a time
        qtbot.waitUntil(lambda: view.captions.job is None, timeout=120_000)
        text = manage.get(app, two[0]).description
        assert text and "\n" not in text
        assert manage.get(app, two[1]).description == ""  # not selected, not written
        assert "1 written" in view.captions.status.text()
        qtbot.waitUntil(lambda: view.details.description.toPlainText() == text, timeout=20_000)
        assert view.details.sticker.id == two[0]
        assert text[:40] in view.model.rows[[s.id for s in view.model.rows].index(two[0])].description

        # the selection now has a description: plain Write leaves it alone and says why
        assert view.captions.start() is None
        assert "already have descriptions" in view.captions.status.text()
    finally:
        window.runner.cancel_all()
        window.runner.wait(60_000)
        real.close()


def test_cancel_keeps_what_was_written_and_reports_it(app, two, window, qtbot):
    started, release = threading.Event(), threading.Event()

    class WaitsForTheTest:  # a describer that holds its first caption until the test has pressed Cancel
        name = "scripted"

        def describe(self, image):
            started.set()
            release.wait(30)
            return "a round shape"

    app.override("describer", WaitsForTheTest())
    view = _library(window, qtbot, 2)
    action = view.captions
    action.write_act.trigger()  # nothing selected: every sticker without a description
    qtbot.waitUntil(started.is_set, timeout=20_000)
    assert action.cancel_btn.isVisible() and action.cancel_btn.isEnabled()
    action.cancel_btn.click()
    assert "Cancelling" in action.status.text()
    release.set()
    qtbot.waitUntil(lambda: action.job is None, timeout=20_000)
    assert "cancelled" in action.status.text() and "1 written" in action.status.text()
    assert manage.get(app, two[0]).description == "A round shape"
    assert manage.get(app, two[1]).description == ""
    assert not action.cancel_btn.isVisible() and action.write_act.isEnabled()


def test_rewrite_reports_kept_edits_and_failures_with_reasons(app, two, window, qtbot, tmp_path):
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    third = ingest.add_file(app, _sticker(tmp_path, "green", (30, 200, 30, 255))).sticker_id
    manage.set_attribute(app, two[1], "description", "my own words")
    with app.catalog.transaction() as tx:  # written by an earlier run, not by the user: rewritten
        tx.execute("UPDATE stickers SET description='an old machine line' WHERE id=?", (third,))

    class ChokesOnRed:  # one image the model fails on must not stop the others
        name = "scripted"

        def describe(self, image):
            if image.convert("RGB").getpixel((80, 80))[0] > 200:
                raise ValueError("cannot read this one")
            return "a green circle"

    app.override("describer", ChokesOnRed())
    view = _library(window, qtbot, 3)
    everything = QItemSelection(view.model.index(0), view.model.index(2))
    view.grid.selectionModel().select(everything, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    assert view.captions.redo_act.isEnabled()
    view.captions.redo_act.trigger()
    qtbot.waitUntil(lambda: view.captions.job is None, timeout=20_000)
    status = view.captions.status.text()
    assert "1 written" in status and "1 kept (edited by you)" in status and "1 failed" in status
    assert f"#{two[0]}: ValueError: cannot read this one" in status
    assert manage.get(app, third).description == "A green circle"
    assert manage.get(app, two[1]).description == "my own words"
    assert manage.get(app, two[0]).description == ""
    qtbot.waitUntil(lambda: any(s.description == "A green circle" for s in view.model.rows), timeout=20_000)


def test_a_broken_describer_stops_with_a_message(app, two, window, qtbot):
    from assistant.ml.describer import DescriberError

    class Broken:
        name = "broken"

        def describe(self, image):
            raise DescriberError("describer.gguf + mmproj.gguf: llama.cpp could not load this pair")

    app.override("describer", Broken())
    view = _library(window, qtbot, 2)
    view.captions.write_act.trigger()
    qtbot.waitUntil(lambda: view.captions.job is None, timeout=20_000)
    assert "Descriptions stopped" in view.captions.status.text()
    assert "could not load this pair" in view.captions.status.text()
    assert all(manage.get(app, i).description == "" for i in two)
    assert view.captions.write_act.isEnabled()
