"""A system-wide shortcut (default Ctrl+Alt+S) that brings up the compact suggestion panel.

Qt has no global shortcuts, so this uses pynput: X11 RECORD on Linux, a low-level keyboard hook on
Windows, a Quartz event tap on macOS. pynput listens passively (the keys still reach the focused app) in
its own thread; a press is handed to the Qt thread through a queued signal, never handled in place.

Where a global shortcut cannot work (a Wayland session, no display, macOS without the Accessibility
permission, pynput missing) `GlobalHotkey.status` says why in words, Settings shows it, and the rest of
the app is unaffected. The shortcut is stored in the settings file as Qt's portable text ("Ctrl+Alt+S")
under `global_shortcut`, with `global_shortcut_on`; `Settings.extra` keeps both keys.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)

DEFAULT_SHORTCUT = "Ctrl+Alt+S"
SETTING_SHORTCUT = "global_shortcut"
SETTING_ON = "global_shortcut_on"
READY_TIMEOUT_S = 5.0

_MODIFIERS = {"ctrl": "ctrl", "control": "ctrl", "alt": "alt", "option": "alt", "shift": "shift",
              "meta": "cmd", "super": "cmd", "win": "cmd", "cmd": "cmd", "command": "cmd"}
_MODIFIER_ORDER = ("ctrl", "alt", "shift", "cmd")
_MODIFIER_LABEL = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": "Meta"}
# Qt's key names (QKeySequence portable text, lower-cased) -> (pynput Key name, Qt's spelling).
_NAMED = {"space": ("space", "Space"), "tab": ("tab", "Tab"), "return": ("enter", "Return"),
          "enter": ("enter", "Enter"), "esc": ("esc", "Esc"), "escape": ("esc", "Esc"),
          "backspace": ("backspace", "Backspace"), "ins": ("insert", "Ins"), "insert": ("insert", "Ins"),
          "del": ("delete", "Del"), "delete": ("delete", "Del"), "home": ("home", "Home"), "end": ("end", "End"),
          "pgup": ("page_up", "PgUp"), "pageup": ("page_up", "PgUp"), "pgdown": ("page_down", "PgDown"),
          "pagedown": ("page_down", "PgDown"), "left": ("left", "Left"), "right": ("right", "Right"),
          "up": ("up", "Up"), "down": ("down", "Down"), "pause": ("pause", "Pause"),
          "print": ("print_screen", "Print"), "menu": ("menu", "Menu")}


class ShortcutError(ValueError):
    """A shortcut the listener cannot use; str() says what is wrong in words."""


def _split(text: str) -> list[str]:
    """Split on '+', keeping a literal '+' key ("Ctrl++" or "Ctrl+Alt++")."""
    parts, current = [], ""
    for ch in text.replace(" ", ""):
        if ch == "+" and current:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current:
        parts.append(current)
    return parts


def parse_shortcut(text: str, platform: str | None = None) -> tuple[str, str]:
    """("Ctrl+Alt+S" as typed) -> (normalised Qt text "Ctrl+Alt+S", pynput hotkey "<ctrl>+<alt>+s").

    Rules, each refused with a message that names the problem: one or more modifiers (a bare key
    would fire while typing), exactly one other key, no repeats, and no Shift with a digit or
    punctuation (Shift changes the character the key reports, so the chord would never match).
    On macOS Qt writes the Command key as "Ctrl" and Control as "Meta"; the same swap applies here.
    """
    platform = platform or sys.platform
    raw = (text or "").strip()
    if not raw:
        raise ShortcutError("the shortcut is empty")
    if "," in raw:
        raise ShortcutError(f"{raw!r}: use one key chord (no sequence of chords)")
    mods: list[str] = []
    key: str | None = None
    key_label = ""
    for part in _split(raw):
        low = part.lower()
        if low in _MODIFIERS:
            mod = _MODIFIERS[low]
            if platform == "darwin" and low in ("ctrl", "control", "meta"):
                mod = "cmd" if low in ("ctrl", "control") else "ctrl"
            if mod in mods:
                raise ShortcutError(f"{raw!r}: {part} appears twice")
            mods.append(mod)
            continue
        if key is not None:
            raise ShortcutError(f"{raw!r}: one key besides the modifiers, not {key_label} and {part}")
        if len(part) == 1 and part.isprintable():
            key, key_label = part.lower(), part.upper()
        elif low in _NAMED:
            key, key_label = f"<{_NAMED[low][0]}>", _NAMED[low][1]
        elif low[:1] == "f" and low[1:].isdigit() and 1 <= int(low[1:]) <= 20:
            key, key_label = f"<{low}>", part.upper()
        else:
            raise ShortcutError(f"{raw!r}: unknown key {part!r} (use a letter, digit, F1–F20 or a named key "
                                f"such as Space, Home or PgUp)")
    if key is None:
        raise ShortcutError(f"{raw!r}: add a key to the modifiers (e.g. {DEFAULT_SHORTCUT})")
    if not mods:
        raise ShortcutError(f"{raw!r}: add Ctrl, Alt or Meta; a key alone would fire while you type")
    if mods == ["shift"]:
        raise ShortcutError(f"{raw!r}: Shift alone would fire while you type; add Ctrl, Alt or Meta")
    if "shift" in mods and len(key) == 1 and not key.isalpha():
        raise ShortcutError(f"{raw!r}: Shift changes what {key_label} types, so the chord would never match; "
                            "use a letter or an F key with Shift")
    ordered = [m for m in _MODIFIER_ORDER if m in mods]
    if platform == "darwin":
        label = {"ctrl": "Meta", "cmd": "Ctrl", "alt": "Alt", "shift": "Shift"}
    else:
        label = _MODIFIER_LABEL
    qt_text = "+".join([label[m] for m in ordered] + [key_label])
    pynput_text = "+".join([f"<{m}>" for m in ordered] + [key])
    return qt_text, pynput_text


def shortcut_setting(settings) -> tuple[str, bool]:
    """The stored shortcut and whether it is on (defaults: Ctrl+Alt+S, on)."""
    text = settings.extra.get(SETTING_SHORTCUT) or DEFAULT_SHORTCUT
    return str(text), bool(settings.extra.get(SETTING_ON, True))


def store_shortcut(settings, text: str, on: bool) -> str:
    """Validate and put the shortcut into the settings (the caller saves them); returns the normalised text."""
    qt_text, _ = parse_shortcut(text)
    settings.extra[SETTING_SHORTCUT] = qt_text
    settings.extra[SETTING_ON] = bool(on)
    return qt_text


def unavailable_reason(qt_platform: str, environ: dict | None = None, platform: str | None = None) -> str | None:
    """Why no global shortcut can work in this session, or None when it is worth trying.

    Decided before touching pynput, from what Qt and the environment say: Wayland offers apps no
    way to watch keys system-wide, and the offscreen/minimal platforms have no desktop at all.
    """
    env = os.environ if environ is None else environ
    platform = platform or sys.platform
    if qt_platform in ("offscreen", "minimal", "vnc", "linuxfb", "eglfs"):
        return f"no desktop here (Qt platform {qt_platform!r}), so there is no keyboard to listen to"
    if platform in ("win32", "darwin"):
        return None
    if qt_platform.startswith("wayland"):
        return ("Wayland does not let apps watch the keyboard system-wide. Bind a key to the app in your "
                "desktop's keyboard settings, or log in to an X11 session; Ctrl+Shift+S opens the panel "
                "from the window")
    if not env.get("DISPLAY"):
        return "no X display ($DISPLAY is not set), so there is no keyboard to listen to"
    return None


def caveat(qt_platform: str, environ: dict | None = None) -> str:
    """What to add to an "on" status: under XWayland, X11 listening sees only keys typed into X11 apps."""
    env = os.environ if environ is None else environ
    if qt_platform == "xcb" and (env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland"):
        return (" In this Wayland session it only sees keys typed into X11 apps; bind a key to the app in "
                "your desktop's keyboard settings to reach it from everywhere.")
    return ""


class GlobalHotkey(QObject):
    """Start with `start("Ctrl+Alt+S")`; `activated` fires on the Qt thread for each press of the chord.

    `status_changed(text, active)` reports the outcome of each start (the checks and the listener
    start run in a background thread: importing pynput and reaching the X server must not stall the
    window) and of `stop()`.
    """

    activated = Signal()
    status_changed = Signal(str, bool)
    _pressed = Signal()  # emitted from pynput's thread, delivered queued on the Qt thread
    _report = Signal(int, str, bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._listener = None
        self._stopped = None
        self._lock = threading.Lock()
        self._generation = 0
        self.shortcut = ""
        self.status = "Global shortcut: off."
        self.active = False
        self._pressed.connect(self.activated.emit, Qt.ConnectionType.QueuedConnection)
        self._report.connect(self._on_report, Qt.ConnectionType.QueuedConnection)

    def start(self, shortcut: str, qt_platform: str | None = None) -> None:
        """(Re)start listening for `shortcut`; the result arrives as `status_changed`."""
        self.stop(report=False)
        try:
            qt_text, chord = parse_shortcut(shortcut)
        except ShortcutError as exc:
            self._set_status(f"Global shortcut not set: {exc}.", False)
            return
        if qt_platform is None:
            from PySide6.QtGui import QGuiApplication

            qt_platform = QGuiApplication.platformName()
        reason = unavailable_reason(qt_platform)
        if reason is not None:
            self._set_status(f"Global shortcut unavailable: {reason}.", False)
            return
        self.shortcut = qt_text
        self.status = f"Global shortcut: starting {qt_text}…"
        with self._lock:
            self._generation += 1
            generation = self._generation
        note = caveat(qt_platform)
        threading.Thread(target=self._start_listener, args=(generation, qt_text, chord, note),
                         name="hotkey-start", daemon=True).start()

    def _start_listener(self, generation: int, qt_text: str, chord: str, note: str = "") -> None:
        try:
            from pynput import keyboard
        except Exception as exc:  # noqa: BLE001 - ImportError, or Xlib refusing the display
            self._report.emit(generation, f"Global shortcut unavailable: pynput could not load ({exc}).", False)
            return
        problem = _x11_problem() if sys.platform.startswith("linux") else None
        if problem:
            self._report.emit(generation, f"Global shortcut unavailable: {problem}.", False)
            return
        try:
            listener = keyboard.GlobalHotKeys({chord: self._pressed.emit})
            listener.start()
        except Exception as exc:  # noqa: BLE001 - platform listener refused to start
            self._report.emit(generation, f"Global shortcut unavailable: the keyboard listener failed ({exc}).",
                              False)
            return
        waiter = threading.Thread(target=listener.wait, daemon=True)
        waiter.start()
        waiter.join(READY_TIMEOUT_S)
        with self._lock:
            stale = generation != self._generation
            if not stale:
                self._listener = listener
        if stale:  # stopped or restarted meanwhile
            _stop_listener(listener)
            return
        if waiter.is_alive() or not listener.is_alive():
            self._drop(listener)
            self._report.emit(generation, "Global shortcut unavailable: the keyboard listener did not start.",
                              False)
            return
        if sys.platform == "darwin" and not getattr(listener, "IS_TRUSTED", True):
            self._drop(listener)
            self._report.emit(generation, "Global shortcut unavailable: allow this app in System Settings › "
                                          "Privacy & Security › Accessibility, then restart it.", False)
            return
        self._report.emit(generation, f"Global shortcut {qt_text} is on: it opens the suggestion panel "
                                      f"from any app, with what you copied.{note}", True)

    def _drop(self, listener) -> None:
        """Forget a listener that failed its start checks (the status report that follows stays current)."""
        with self._lock:
            if self._listener is listener:
                self._listener = None
        _stop_listener(listener)

    def _on_report(self, generation: int, text: str, active: bool) -> None:
        if generation == self._generation:
            self._set_status(text, active)

    def _set_status(self, text: str, active: bool) -> None:
        self.status = text
        self.active = active
        self.status_changed.emit(text, active)

    def stop(self, report: bool = True) -> None:
        """Stop listening (idempotent); pynput's thread ends without waiting on it."""
        with self._lock:
            self._generation += 1
            listener, self._listener = self._listener, None
        if listener is not None:
            self._stopped = listener
            _stop_listener(listener)
        if report:
            self._set_status("Global shortcut: off.", False)

    def wait_stopped(self, timeout: float = 5.0) -> bool:
        """Wait for the last stopped listener's thread to end (before its X server goes away, in tests)."""
        listener = self._stopped
        if listener is not None:
            threading.Thread.join(listener, timeout)  # pynput's own join re-raises from its queue
            return not listener.is_alive()
        return True


def _stop_listener(listener) -> None:
    """Stop a pynput listener so that its thread really ends now.

    On X11 pynput's stop() queues the RECORD "disable" request on the connection its thread is blocked
    reading, without flushing it, so the thread (and its two X connections) lingers until the next key
    event anywhere. Sending the same request on its second connection and flushing ends it at once.
    """
    try:
        listener.stop()
    except Exception:  # noqa: BLE001 - a listener that already died
        log.debug("hotkey listener stop failed", exc_info=True)
    display, context = getattr(listener, "_display_stop", None), getattr(listener, "_context", None)
    if display is not None and context is not None:
        try:
            display.record_disable_context(context)
            display.flush()
        except Exception:  # noqa: BLE001 - the thread closed the connection first: it has ended anyway
            log.debug("hotkey listener flush failed", exc_info=True)


def _x11_problem() -> str | None:
    """pynput's X11 backend needs the RECORD extension; say so instead of failing inside its thread."""
    try:
        from Xlib import display as xdisplay

        d = xdisplay.Display()
    except Exception as exc:  # noqa: BLE001 - Xlib raises several kinds
        return f"cannot reach the X display {os.environ.get('DISPLAY')!r} ({exc})"
    try:
        if not d.has_extension("RECORD"):
            return "the X server lacks the RECORD extension that system-wide key listening needs"
    finally:
        d.close()
    return None
