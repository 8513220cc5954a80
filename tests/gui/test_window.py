"""The window opens before any model loads, remembers its geometry, shows feature status, and
refuses a second instance on the same data folder."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtGui import QImage

from assistant.app import App


class RecordingApp(App):
    """A real App that records whether anything asked for a model during start-up."""

    touched: list[str]

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.touched = []

    @property
    def embedder(self):
        self.touched.append("embedder")
        return super().embedder

    @property
    def clip(self):
        self.touched.append("clip")
        return super().clip


def _varied(image: QImage) -> bool:
    colours = {image.pixel(x, y) for x in range(0, image.width(), 37) for y in range(0, image.height(), 29)}
    return len(colours) > 3


def test_window_opens_without_loading_models_and_screenshots(data_dir, qtbot, tmp_path):
    from assistant.gui.main_window import TAB_NAMES, MainWindow

    core = RecordingApp(data_dir=data_dir)
    w = MainWindow(core, palette="light")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == list(TAB_NAMES)
    qtbot.waitUntil(lambda: w.features_label.text() != "Checking models…", timeout=30_000)
    for i in range(w.tabs.count()):
        w.tabs.setCurrentIndex(i)
        qtbot.wait(20)
    qtbot.waitUntil(lambda: not w.runner.active, timeout=30_000)
    assert core.touched == [], f"start-up touched models: {core.touched}"
    shot = w.grab().toImage()
    path = tmp_path / "window.png"
    assert shot.save(str(path))
    assert path.stat().st_size > 1000 and _varied(shot)
    w.close()
    core.close()


def test_status_bar_names_features_that_are_off(window, qtbot):
    qtbot.waitUntil(lambda: window.features_label.text() != "Checking models…", timeout=30_000)
    features = window.app_core.features()
    off = [f for f in features if not f.on]
    text = window.features_label.text()
    if off:
        assert all(f.name in text for f in off)
        assert window.features_btn.isVisible()
        assert "to turn on" in window.features_label.toolTip() or any(not f.fix for f in off)
    else:
        assert text == "All features on."


def test_geometry_is_remembered(app, qtbot):
    from assistant.gui.main_window import MainWindow

    w = MainWindow(app, palette="light")
    qtbot.addWidget(w)
    w.show()
    w.resize(700, 530)
    w.tabs.setCurrentIndex(2)
    qtbot.wait(20)
    w.close()
    w2 = MainWindow(app, palette="light")
    qtbot.addWidget(w2)
    w2.show()
    assert (w2.width(), w2.height()) == (700, 530)
    assert w2.tabs.currentIndex() == 2


def test_dark_palette_and_keyboard_tab_switching(app, qtbot):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from assistant.gui.main_window import MainWindow

    w = MainWindow(app, palette="dark")
    qtbot.addWidget(w)
    w.show()
    try:
        window_colour = QApplication.instance().palette().color(QPalette.ColorRole.Window)
        assert window_colour.lightness() < 80
        for i, name in enumerate(("Import", "Library", "Suggest", "Memory")):
            action = next(a for a in w.findChildren(type(w.menuBar().actions()[0])) if a.text() == name)
            assert action.shortcut().toString() == f"Ctrl+{i + 1}"
            action.trigger()
            assert w.tabs.tabText(w.tabs.currentIndex()) == name
    finally:
        w.set_palette("light")


def test_every_button_has_an_accessible_name(window):
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit

    unnamed = [f"{type(wd).__name__}:{getattr(wd, 'text', lambda: '')()}"
               for cls in (QAbstractButton, QComboBox, QLineEdit, QPlainTextEdit)
               for wd in window.findChildren(cls)
               if not wd.accessibleName() and wd.isVisibleTo(window) and not isinstance(wd.parent(), QComboBox)
               and type(wd).__name__ not in ("QTabBar", "QToolButton")]
    # Buttons whose visible text is their name are announced by it; everything else needs a name.
    unnamed = [u for u in unnamed if u.endswith(":")]
    assert unnamed == []


def test_second_instance_on_same_data_dir_refuses_politely(data_dir):
    from assistant.gui.app import SingleInstance

    guard = SingleInstance(data_dir)
    assert guard.acquire()
    try:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        result = subprocess.run([sys.executable, "-m", "assistant.cli", "--data-dir", str(data_dir), "gui"],
                                capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 1
        assert "already open for the data folder" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        guard.release()
    again = SingleInstance(data_dir)
    assert again.acquire()
    again.release()


def test_gui_command_without_display_says_so(data_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "assistant.cli", "--data-dir", str(data_dir), "gui"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert "No display found" in result.stderr and "xvfb-run" in result.stderr


def test_window_at_200_percent_scaling(data_dir, tmp_path):
    """QT_SCALE_FACTOR=2 (set before Qt starts, so in a fresh process): the grab is twice the size
    in pixels and every tab lays out without errors."""
    out = tmp_path / "scaled.png"
    code = (
        "import sys\n"
        "from assistant.app import App\n"
        "from assistant.gui.app import ensure_qapp\n"
        "from assistant.gui.main_window import MainWindow\n"
        "q = ensure_qapp()\n"
        f"w = MainWindow(App(data_dir={str(data_dir)!r}), palette='dark')\n"
        "w.resize(800, 560); w.show()\n"
        "for i in range(4):\n"
        "    w.tabs.setCurrentIndex(i); q.processEvents()\n"
        "img = w.grab().toImage()\n"
        f"img.save({str(out)!r})\n"
        "print(img.width(), img.height(), img.devicePixelRatio())\n"
        "w.close()\n")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR="2")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    width, height, ratio = result.stdout.split()[-3:]
    assert float(ratio) == 2.0
    assert (int(width), int(height)) == (1600, 1120)
    assert out.stat().st_size > 5000


def test_a_closed_window_starts_no_more_jobs(window, qtbot):
    """A timer that fires after the close (the start-up warm-up, say) must not start a job: it would
    run on after the window and its objects are gone (at exit: a crash)."""
    ran = []
    window.close()
    assert window.runner.closed
    job = window.runner.start("late", lambda progress, cancel: ran.append(1))
    with qtbot.waitSignal(job.cancelled, timeout=5_000):
        pass
    qtbot.wait(100)
    assert ran == [] and job.is_done and not window.runner.active
