"""The self-test the packaged app runs (`--selftest`), run here in-process on the source tree, and the
first-run welcome dialog. The self-test uses real components throughout (SQLite, Chroma, OCR, e5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.selftest import demo_conversation, run_selftest, write_demo_export


@pytest.mark.slow
def test_selftest_passes_in_process_offscreen(tmp_path, monkeypatch, qapp):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    lines: list[str] = []
    code = run_selftest(tmp_path, window_ms=50, log=lines.append)
    text = "\n".join(lines)
    assert code == 0, text
    for step in ("open the main window", "import the demo chat", "read and index stickers",
                 "suggest for the demo conversation", "image-text encoder", "model installer (pip",
                 "load the llama.cpp library"):
        assert f"ok   {step}" in text, text
    assert lines[-1].startswith("self-test passed")
    # it worked on the folder it was given, and only there
    assert (tmp_path / "data").is_dir() and (tmp_path / "demo-export" / "result.json").is_file()


def test_selftest_reports_a_failing_step_and_exits_nonzero(tmp_path, monkeypatch, qapp):
    """A broken install (here: a demo export that cannot be imported) must fail loudly, not pass."""
    import assistant.selftest as st

    def broken_export(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").write_text("{not json", encoding="utf-8")
        return folder

    monkeypatch.setattr(st, "write_demo_export", broken_export)
    monkeypatch.setattr(st, "_clip_check", lambda root: "skipped here")
    lines: list[str] = []
    code = run_selftest(tmp_path, window_ms=10, log=lines.append)
    assert code == 1
    assert any(line.startswith("FAIL import the demo chat") for line in lines), lines
    assert "self-test FAILED" in lines[-1]


def test_demo_fixture_ships_with_the_package(tmp_path):
    export = write_demo_export(tmp_path / "export")
    assert (export / "result.json").stat().st_size > 0
    assert len(list((export / "stickers").glob("*.webp"))) >= 10
    from assistant.demo import DEMO_CONVERSATION

    turns = demo_conversation(DEMO_CONVERSATION)
    assert turns and all(t.speaker and t.text for t in turns)


def test_selftest_flag_and_subcommand_are_wired():
    from assistant.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["--selftest"]).selftest is True
    args = parser.parse_args(["selftest"])
    assert args.handler.__module__ == "assistant.commands.selftest"


# --- first-run welcome ---------------------------------------------------------------------------
class _Window:
    """Stands in for the main window's import entry point, recording what the welcome hands over."""

    def __init__(self):
        self.calls = []
        outer = self

        class _Importer:
            def import_paths(self, paths, force_kind=None):
                outer.calls.append((list(paths), force_kind))
                return []

        self.import_view = _Importer()


def test_welcome_is_shown_once_and_hands_picks_to_the_importer(app, qtbot, tmp_path):
    from PySide6.QtWidgets import QWidget

    from assistant.gui.welcome import WELCOME_KEY, WelcomeDialog, maybe_show_welcome

    parent = QWidget()
    qtbot.addWidget(parent)
    window = _Window()
    maybe_show_welcome(parent, app)  # a real widget as parent: the dialog opens without blocking
    dialog = parent.welcome_dialog
    assert isinstance(dialog, WelcomeDialog) and dialog.isVisible()
    assert app.catalog.get_kv(WELCOME_KEY) is True
    qtbot.waitUntil(lambda: "Checking" not in dialog.models_status.text(), timeout=60_000)
    shown = "\n".join(lab.text() for lab in dialog.findChildren(type(dialog.models_status)))
    assert "multilingual-e5-small" in shown and "(optional)" in shown
    dialog.reject()

    maybe_show_welcome(parent, app)  # second start: not again
    assert parent.welcome_dialog is dialog

    # the picks go to the window's importer: chats as chats, folders of stickers as stickers
    app.catalog.set_kv(WELCOME_KEY, False)
    parent2 = QWidget()
    qtbot.addWidget(parent2)
    parent2.import_view = window.import_view
    maybe_show_welcome(parent2, app)
    d2 = parent2.welcome_dialog
    d2.add_paths(d2.chats, [tmp_path / "result.json", tmp_path / "result.json"])  # duplicates collapse
    d2.add_paths(d2.stickers, [tmp_path / "stickers"])
    assert d2.start_button.text() == "Import and start"
    d2.accept()
    assert window.calls == [([tmp_path / "result.json"], None), ([tmp_path / "stickers"], "stickers")]
