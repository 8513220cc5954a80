"""The main window: tabs for Import, Library, Suggest and Memory, drops anywhere, a status bar that
says which features are off and how to turn them on, and geometry remembered per data folder.

Nothing here touches a model: the feature status comes from `App.features()` (a registry check, run
in a worker because a first check may hash a model file) and the views load their data on first show.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QApplication, QLabel, QMainWindow, QMessageBox, QPushButton, QTabWidget,
                               QWidget)

from assistant.gui.app import APP_TITLE, apply_palette
from assistant.gui.hotkey import GlobalHotkey, shortcut_setting
from assistant.gui.import_view import ImportView
from assistant.gui.library_view import LibraryView
from assistant.gui.memory_view import MemoryView
from assistant.gui.suggest_panel import CompactSuggestWindow, SuggestPanel
from assistant.gui.workers import JobRunner, prewarm

TAB_NAMES = ("Import", "Library", "Suggest", "Memory")
SUMMON_MAX_CHARS = 20_000  # of the clipboard, pasted when the global shortcut brings the panel up


def gui_settings(app_core) -> QSettings:
    """Window state lives next to the data (one file per data folder), not in the user's registry."""
    return QSettings(str(Path(app_core.config.data_dir) / "gui.ini"), QSettings.Format.IniFormat)


def local_paths(mime) -> list[Path]:
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class MainWindow(QMainWindow):
    def __init__(self, app_core, palette: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.app_core = app_core
        self.settings = gui_settings(app_core)
        self.palette_mode = palette or str(self.settings.value("ui/palette", "system"))
        qapp = QApplication.instance()
        if qapp is not None:
            apply_palette(qapp, self.palette_mode)  # type: ignore[arg-type]
        self.setWindowTitle(f"{APP_TITLE} — {app_core.config.data_dir}")
        self.setAcceptDrops(True)
        self.runner = JobRunner(self)
        self.compact: CompactSuggestWindow | None = None
        self.hotkey = GlobalHotkey(self)
        self.hotkey.activated.connect(self.summon_panel)

        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Main sections")
        self.tabs.setDocumentMode(True)
        self.import_view = ImportView(app_core, self.runner)
        self.library_view = LibraryView(app_core, self.runner)
        self.suggest_panel = SuggestPanel(app_core, self.runner)
        self.memory_view = MemoryView(app_core, self.runner)
        for view, name in zip((self.import_view, self.library_view, self.suggest_panel, self.memory_view),
                              TAB_NAMES):
            view.setAccessibleName(f"{name} tab")
            self.tabs.addTab(view, name)
        self.setCentralWidget(self.tabs)
        self.import_view.imported.connect(self._after_import)
        self.import_view.background_done.connect(self._after_background)
        self.tabs.currentChanged.connect(self._tab_changed)

        self._build_menus()
        self._build_status_bar()
        self._restore_geometry()
        QTimer.singleShot(0, self, self.refresh_features)
        QTimer.singleShot(0, self, self.apply_hotkey)
        QTimer.singleShot(800, self, lambda: self.runner.start("Preparing", prewarm))
        QTimer.singleShot(1500, self, self.suggest_panel.warm_up)

    # --- chrome --------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for text, slot, key in (("Import chat export…", self.import_view._pick_files, QKeySequence.StandardKey.Open),
                                ("Import export folder…", self.import_view._pick_folder, None),
                                ("Add sticker folder…", self.import_view._pick_stickers, None)):
            act = QAction(text, self)
            act.triggered.connect(slot)
            if key is not None:
                act.setShortcut(key)
            file_menu.addAction(act)
        file_menu.addSeparator()
        settings_act = QAction("Settings…", self)
        settings_act.setShortcut(QKeySequence.StandardKey.Preferences)
        settings_act.setShortcut("Ctrl+,")
        settings_act.triggered.connect(self.open_settings)
        file_menu.addAction(settings_act)
        open_data = QAction("Open data folder", self)
        open_data.triggered.connect(lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(self.app_core.config.data_dir))))
        file_menu.addAction(open_data)
        file_menu.addSeparator()
        quit_act = QAction("Quit", self)
        quit_act.setShortcut(QKeySequence.StandardKey.Quit)
        quit_act.triggered.connect(self.close)
        file_menu.addAction(quit_act)

        view_menu = bar.addMenu("&View")
        for i, name in enumerate(TAB_NAMES):
            act = QAction(name, self)
            act.setShortcut(f"Ctrl+{i + 1}")
            act.triggered.connect(lambda _=False, i=i: self.tabs.setCurrentIndex(i))
            view_menu.addAction(act)
        view_menu.addSeparator()
        compact = QAction("Compact suggestion panel (always on top)", self)
        compact.setShortcut("Ctrl+Shift+S")
        compact.triggered.connect(self.show_compact_panel)
        view_menu.addAction(compact)
        theme = view_menu.addMenu("Theme")
        for mode in ("system", "light", "dark"):
            act = QAction(mode.capitalize(), self)
            act.setCheckable(True)
            act.setChecked(mode == self.palette_mode)
            act.triggered.connect(lambda _=False, m=mode: self.set_palette(m))
            theme.addAction(act)
        self._theme_actions = theme.actions()

        help_menu = bar.addMenu("&Help")
        about = QAction("About", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _build_status_bar(self) -> None:
        self.features_label = QLabel("Checking models…")
        self.features_label.setTextFormat(Qt.TextFormat.PlainText)
        self.features_label.setAccessibleName("Feature status")
        self.statusBar().addWidget(self.features_label, 1)
        self.features_btn = QPushButton("Turn on…")
        self.features_btn.setAccessibleName("Open settings to turn on missing features")
        self.features_btn.setFlat(True)
        self.features_btn.clicked.connect(self.open_settings)
        self.features_btn.hide()
        self.statusBar().addPermanentWidget(self.features_btn)

    def refresh_features(self) -> None:
        job = self.runner.start("Checking features", lambda progress, cancel: self.app_core.features())
        job.finished.connect(self._show_features)
        job.failed.connect(lambda msg, details: self.features_label.setText(f"Could not check models: {msg}"))

    def _show_features(self, features) -> None:
        off = [f for f in features if not f.on]
        if not off:
            self.features_label.setText("All features on.")
            self.features_label.setToolTip("")
            self.features_btn.hide()
            return
        names = ", ".join(f.name for f in off)
        self.features_label.setText(f"Off: {names}. Settings › Models says how to turn them on.")
        self.features_label.setToolTip("\n".join(
            f"{f.name}: {f.why or 'off'}" + (f"\n    to turn on: {f.fix}" if f.fix else "") for f in off))
        self.features_btn.show()

    def set_palette(self, mode: str) -> None:
        self.palette_mode = mode
        self.settings.setValue("ui/palette", mode)
        qapp = QApplication.instance()
        if qapp is not None:
            apply_palette(qapp, mode)  # type: ignore[arg-type]
        for act in self._theme_actions:
            act.setChecked(act.text().lower() == mode)

    def _about(self) -> None:
        from assistant import __version__

        box = QMessageBox(QMessageBox.Icon.Information, APP_TITLE,
                          f"{APP_TITLE} {__version__}\nSuggests stickers from your own collection and chat "
                          f"history, entirely on this machine.\nData folder: {self.app_core.config.data_dir}",
                          parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()

    # --- geometry ------------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1100, 720)
        state = self.settings.value("window/state")
        if state is not None:
            self.restoreState(state)
        tab = self.settings.value("window/tab")
        if tab is not None:
            self.tabs.setCurrentIndex(int(tab))

    def save_geometry(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        self.settings.sync()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.save_geometry()
        self.hotkey.stop(report=False)
        if self.compact is not None:
            self.compact.close()
        self.runner.close()
        self.runner.wait(10_000)
        self.library_view.close_resources()
        self.suggest_panel.close_resources()
        super().closeEvent(event)

    # --- drops anywhere --------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_dropped(paths)

    def import_dropped(self, paths: list[Path]):
        self.tabs.setCurrentWidget(self.import_view)
        return self.import_view.import_paths(paths)

    # --- cross-view updates --------------------------------------------------------------------
    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if hasattr(widget, "on_shown"):
            widget.on_shown()

    def _after_import(self, report) -> None:
        self.library_view.mark_stale()
        self.memory_view.mark_stale()
        self.suggest_panel.refresh_chats()
        self.suggest_panel.warm_up()  # new sends change the habits: rebuild them now, not on the next paste

    def _after_background(self, key: str) -> None:
        if key == "memories":
            self.memory_view.mark_stale()
        else:
            self.library_view.mark_stale()

    def open_settings(self) -> None:
        from assistant.gui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.app_core, self.runner, self, hotkey=self.hotkey)
        dialog.models_changed.connect(self.refresh_features)
        dialog.shortcut_changed.connect(self.apply_hotkey)
        dialog.exec()

    def apply_hotkey(self) -> None:
        """(Re)start or stop the global shortcut as the settings say; its status shows in Settings."""
        text, on = shortcut_setting(self.app_core.config.settings)
        if on:
            self.hotkey.start(text)
        else:
            self.hotkey.stop()

    def show_compact_panel(self) -> None:
        if self.compact is None:
            self.compact = CompactSuggestWindow(self.app_core, self.runner)
        self.compact.show()
        self.compact.raise_()
        self.compact.activateWindow()

    def summon_panel(self) -> None:
        """The global shortcut: the compact panel on top, with the clipboard's text, suggesting, and the
        keyboard on the grid (arrows pick, Enter copies, Esc hides it again)."""
        self.show_compact_panel()
        panel = self.compact.panel
        # the latest messages are what matter; a huge copy must not stall the panel
        text = QApplication.clipboard().text()[-SUMMON_MAX_CHARS:]
        if text.strip() and text != panel.paste.toPlainText():
            panel.paste.blockSignals(True)  # no second, debounced request for the same text
            panel.paste.setPlainText(text)
            panel.paste.blockSignals(False)
        if panel.paste.toPlainText().strip():
            panel.suggest_now()
            panel.grid.setFocus()
        else:
            panel.status.setText("Copy a few messages of the chat, then press the shortcut again "
                                 "(or paste them here).")
            panel.paste.setFocus()
