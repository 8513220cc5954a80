"""The global shortcut: parsing and validation of the chord, where it cannot work and what the app says
then, the settings round-trip through the dialog, and the real thing under Xvfb: pynput listens on the X
server, XTest presses Ctrl+Alt+S there, and the compact panel comes up with the clipboard's conversation
and suggestions, the keyboard on the grid."""

from __future__ import annotations

import json
import sys

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from assistant.gui.hotkey import (DEFAULT_SHORTCUT, ShortcutError, caveat, parse_shortcut, shortcut_setting,
                                  store_shortcut, unavailable_reason)

CONVERSATION = "Anna: I passed the exam!!\nSam: no way, congratulations\nAnna: let's celebrate tonight"


@pytest.mark.parametrize("text, qt_text, chord", [
    ("Ctrl+Alt+S", "Ctrl+Alt+S", "<ctrl>+<alt>+s"),
    ("alt + ctrl + f12", "Ctrl+Alt+F12", "<ctrl>+<alt>+<f12>"),
    ("Meta+Space", "Meta+Space", "<cmd>+<space>"),
    ("Ctrl+Shift+K", "Ctrl+Shift+K", "<ctrl>+<shift>+k"),
    ("Ctrl+Alt+PgDown", "Ctrl+Alt+PgDown", "<ctrl>+<alt>+<page_down>"),
    ("Ctrl+Alt+7", "Ctrl+Alt+7", "<ctrl>+<alt>+7"),
    ("Ctrl++", "Ctrl++", "<ctrl>++"),
])
def test_parse_shortcut_normalises(text, qt_text, chord):
    assert parse_shortcut(text, platform="linux") == (qt_text, chord)


def test_parse_shortcut_on_macos_swaps_command_and_control():
    # Qt writes the Command key as "Ctrl" on macOS, and Control as "Meta"
    assert parse_shortcut("Ctrl+Alt+S", platform="darwin")[1] == "<alt>+<cmd>+s"
    assert parse_shortcut("Meta+Alt+S", platform="darwin")[1] == "<ctrl>+<alt>+s"


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("S", "a key alone"),
    ("Shift+S", "Shift alone"),
    ("Ctrl+Alt", "add a key"),
    ("Ctrl+Ctrl+S", "twice"),
    ("Ctrl+S+T", "one key"),
    ("Ctrl+Shift+1", "Shift changes"),
    ("Ctrl+Banana", "unknown key"),
    ("Ctrl+A, Ctrl+B", "one key chord"),
])
def test_parse_shortcut_refuses_with_a_reason(text, words):
    with pytest.raises(ShortcutError, match=words):
        parse_shortcut(text, platform="linux")


def test_where_a_global_shortcut_cannot_work_says_why():
    assert "offscreen" in unavailable_reason("offscreen", {"DISPLAY": ":0"}, "linux")
    assert "Wayland" in unavailable_reason("wayland", {"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert "$DISPLAY" in unavailable_reason("xcb", {}, "linux")
    assert unavailable_reason("xcb", {"DISPLAY": ":0"}, "linux") is None
    assert unavailable_reason("windows", {}, "win32") is None
    assert unavailable_reason("cocoa", {}, "darwin") is None
    # XWayland: worth trying, with a word on what it cannot see
    assert unavailable_reason("xcb", {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert "X11 apps" in caveat("xcb", {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"})
    assert caveat("xcb", {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}) == ""


def test_settings_round_trip_and_status_in_the_dialog(app, window, qtbot):
    from assistant.config import Config
    from assistant.gui.settings_dialog import SettingsDialog

    assert shortcut_setting(app.config.settings) == (DEFAULT_SHORTCUT, True)
    # Offscreen there is no keyboard to listen to: the status says so, the window works regardless.
    qtbot.waitUntil(lambda: "unavailable" in window.hotkey.status, timeout=5_000)
    assert "offscreen" in window.hotkey.status and not window.hotkey.active

    dialog = SettingsDialog(app, window.runner, window, hotkey=window.hotkey)
    qtbot.addWidget(dialog)
    assert dialog.shortcut_on.isChecked() and dialog.shortcut_text() == DEFAULT_SHORTCUT
    assert "offscreen" in dialog.shortcut_status.text()
    dialog.shortcut_changed.connect(window.apply_hotkey)

    dialog.shortcut.setKeySequence(QKeySequence("Ctrl+Shift+1"))
    assert not dialog.save()
    assert "Shift changes" in dialog.shortcut_status.text()
    assert not app.config.settings_path.exists() or "Shift+1" not in app.config.settings_path.read_text()

    dialog.shortcut.setKeySequence(QKeySequence("Ctrl+Alt+F9"))
    with qtbot.waitSignal(dialog.shortcut_changed, timeout=1_000):
        assert dialog.save()
    saved = json.loads(app.config.settings_path.read_text())
    assert saved["global_shortcut"] == "Ctrl+Alt+F9" and saved["global_shortcut_on"] is True
    assert shortcut_setting(Config(app.config.data_dir).settings) == ("Ctrl+Alt+F9", True)

    again = SettingsDialog(app, window.runner, window, hotkey=window.hotkey)
    qtbot.addWidget(again)
    again.shortcut_changed.connect(window.apply_hotkey)
    assert again.shortcut_text() == "Ctrl+Alt+F9"
    again.shortcut_on.setChecked(False)
    assert not again.shortcut.isEnabled()
    assert again.save()
    assert shortcut_setting(Config(app.config.data_dir).settings) == ("Ctrl+Alt+F9", False)
    assert window.hotkey.status == "Global shortcut: off."
    assert "Global shortcut: off." in again.shortcut_status.text()


def test_store_shortcut_refuses_bad_input_and_keeps_the_old_value(app):
    store_shortcut(app.config.settings, "ctrl+alt+x", True)
    with pytest.raises(ShortcutError):
        store_shortcut(app.config.settings, "X", True)
    assert shortcut_setting(app.config.settings) == ("Ctrl+Alt+X", True)


def _press_chord(display_name: str, *names: str) -> None:
    """Real key events on the X server, through the XTEST extension (as a keyboard would send them)."""
    from Xlib import XK, X
    from Xlib import display as xdisplay
    from Xlib.ext import xtest

    d = xdisplay.Display(display_name)
    try:
        codes = [d.keysym_to_keycode(XK.string_to_keysym(n)) for n in names]
        for code in codes:
            xtest.fake_input(d, X.KeyPress, code)
        for code in reversed(codes):
            xtest.fake_input(d, X.KeyRelease, code)
        d.sync()
    finally:
        d.close()


def test_global_shortcut_under_x_brings_up_the_panel_with_suggestions(stocked_window, qtbot, xvfb_display,
                                                                      monkeypatch):
    window = stocked_window
    monkeypatch.setenv("DISPLAY", xvfb_display)
    qtbot.waitUntil(lambda: "unavailable" in window.hotkey.status, timeout=5_000)  # the offscreen start is over
    # The Qt side of this test runs offscreen; the listener uses the X server as on an X11 desktop.
    with qtbot.waitSignal(window.hotkey.status_changed, timeout=30_000) as status:
        window.hotkey.start("Ctrl+Alt+S", qt_platform="xcb")
    try:
        assert status.args[1] is True, status.args[0]
        assert "Ctrl+Alt+S" in window.hotkey.status
        from pynput.keyboard import HotKey

        assert HotKey.parse(parse_shortcut("Ctrl+Alt+S")[1])  # pynput agrees with our translation

        QApplication.clipboard().setText(CONVERSATION)
        assert window.compact is None or not window.compact.isVisible()
        _press_chord(xvfb_display, "Control_L", "Alt_L", "s")
        qtbot.waitUntil(lambda: window.compact is not None and window.compact.isVisible(), timeout=10_000)
        panel = window.compact.panel
        assert panel.paste.toPlainText() == CONVERSATION
        qtbot.waitUntil(lambda: panel.grid.count() > 0, timeout=900_000)
        assert panel.grid.currentRow() == 0
        assert window.compact.focusWidget() is panel.grid  # arrows and Enter work at once

        # Another chord (the wrong one) does nothing; the panel hidden with Esc comes back on the next press.
        window.compact.hide()
        _press_chord(xvfb_display, "Control_L", "Alt_L", "d")
        qtbot.wait(300)
        assert not window.compact.isVisible()
        _press_chord(xvfb_display, "Control_L", "Alt_L", "s")
        qtbot.waitUntil(lambda: window.compact.isVisible(), timeout=10_000)
    finally:
        window.hotkey.stop()
        assert window.hotkey.wait_stopped(10)
    assert not window.hotkey.active


def test_without_pynput_the_status_says_so(window, qtbot, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynput", None)  # what an install without the package looks like
    monkeypatch.setenv("DISPLAY", ":0")
    qtbot.waitUntil(lambda: "unavailable" in window.hotkey.status, timeout=5_000)
    with qtbot.waitSignal(window.hotkey.status_changed, timeout=10_000) as status:
        window.hotkey.start("Ctrl+Alt+S", qt_platform="xcb")
    assert status.args[1] is False
    assert "pynput could not load" in status.args[0]


def test_x_server_without_record_extension_says_so(window, qtbot, monkeypatch):
    from tests.gui.conftest import private_xvfb

    with private_xvfb("-extension", "RECORD") as display:
        monkeypatch.setenv("DISPLAY", display)
        qtbot.waitUntil(lambda: "unavailable" in window.hotkey.status, timeout=5_000)
        with qtbot.waitSignal(window.hotkey.status_changed, timeout=30_000) as status:
            window.hotkey.start("Ctrl+Alt+S", qt_platform="xcb")
    assert status.args[1] is False
    assert "RECORD extension" in status.args[0], status.args[0]


def test_welcome_tells_the_shortcut_or_the_panel_when_it_is_off(app, qtbot):
    from assistant.gui.welcome import WelcomeDialog

    def intro_text() -> str:
        dialog = WelcomeDialog(app)
        qtbot.addWidget(dialog)
        from PySide6.QtWidgets import QLabel

        return " ".join(label.text() for label in dialog.findChildren(QLabel))

    assert "<b>Ctrl+Alt+S</b>" in intro_text()
    store_shortcut(app.config.settings, "Ctrl+Alt+S", False)
    text = intro_text()
    assert "Ctrl+Alt+S" not in text and "Ctrl+Shift+S" in text
