"""`sticker-assistant memory ...` end to end in-process: real catalog, Chroma, embedder and GGUF."""

from __future__ import annotations

import pytest

from assistant.cli import main
from tests.memory.conversations import LAPTOP_EN
from tests.memory.helpers import add_chat, add_session


def _cli(data_dir, models_dir, *args) -> int:
    return main(["--data-dir", str(data_dir), "--models-dir", str(models_dir), "memory", *args])


def test_memory_commands_on_an_empty_bank(data_dir, models_dir, capsys):
    assert _cli(data_dir, models_dir, "list") == 0
    assert "no memories yet" in capsys.readouterr().out
    assert _cli(data_dir, models_dir, "build") == 0
    assert "0 summarized" in capsys.readouterr().out
    assert _cli(data_dir, models_dir, "show", "42") == 1
    assert "no memory for session 42" in capsys.readouterr().err
    assert _cli(data_dir, models_dir, "clear") == 2  # not a terminal and no --yes: refuses
    assert _cli(data_dir, models_dir, "search", "anything") == 0
    assert "no memories match" in capsys.readouterr().out


def test_missing_model_is_a_clear_error(app, tmp_path, capsys):
    add_session(app, add_chat(app, "Bob"), LAPTOP_EN[:3])
    rc = main(["--data-dir", str(app.config.data_dir), "--models-dir", str(tmp_path / "nomodels"),
               "memory", "build"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "summarizer model is not installed" in err and "models install summarizer" in err


@pytest.mark.slow
def test_build_list_show_search_clear_with_the_real_model(app, models_dir, summarizer_gguf, capsys):
    sid = add_session(app, add_chat(app, "Bob"), LAPTOP_EN[:6])
    data_dir = app.config.data_dir
    assert _cli(data_dir, models_dir, "build", "--progress") == 0
    captured = capsys.readouterr()
    assert "1 summarized" in captured.out
    assert "ETA" in captured.err and "100.0%" in captured.err  # the progress bar with its ETA
    assert _cli(data_dir, models_dir, "build") == 0
    assert "0 summarized, 1 already up to date" in capsys.readouterr().out  # resumable: nothing left
    assert _cli(data_dir, models_dir, "list") == 0
    assert f"{sid:6} chat" in capsys.readouterr().out
    assert _cli(data_dir, models_dir, "show", str(sid)) == 0
    shown = capsys.readouterr().out
    assert "participants: " in shown and "Alice" in shown and "language: en" in shown
    assert _cli(data_dir, models_dir, "search", "my", "computer", "broke") == 0
    assert f"session {sid}" in capsys.readouterr().out
    assert _cli(data_dir, models_dir, "clear", "--yes") == 0
    assert "cleared 1 memories" in capsys.readouterr().out
