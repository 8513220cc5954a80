"""Memory tab over a real import, and the settings dialog (models, device, keyring-only key)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_path
from tests.gui.conftest import TELEGRAM


@pytest.fixture
def imported(app):
    from assistant.chats.store import import_path

    report = import_path(app, shared_path(*TELEGRAM))
    assert report.messages_added > 0
    return app


def test_memory_tab_lists_sessions_and_finds_a_saved_memory(imported, window, qtbot):
    from assistant.domain import Memory
    from assistant.memory import memories

    view = window.memory_view
    window.tabs.setCurrentWidget(view)
    n_sessions = imported.catalog.count("sessions")
    qtbot.waitUntil(lambda: view.sessions.topLevelItemCount() == n_sessions, timeout=10_000)
    assert view.chats.count() == 1 + imported.catalog.count("chats")
    first = view.sessions.topLevelItem(0)
    view.sessions.setCurrentItem(first)
    assert "Messages:" in view.detail.toPlainText()
    session = first.data(0, 0x0100)
    memories.save(imported, Memory(session_id=session["id"], chat_id=session["chat_id"],
                                   summary="They planned a hiking trip to the mountains <b>next week</b>.",
                                   topics=["hiking"], mood="excited"))
    view.search.setText("hiking trip")
    job = view.run_search()
    qtbot.waitUntil(lambda: job.is_done and not window.runner.active, timeout=60_000)
    assert view.sessions.topLevelItemCount() >= 1
    top = view.sessions.topLevelItem(0)
    assert top.data(0, 0x0100)["id"] == session["id"]
    view.sessions.setCurrentItem(top)
    # rich-text-looking summaries are shown as typed, never rendered
    assert "<b>next week</b>" in view.detail.toPlainText()


@pytest.fixture
def whatsapp_imported(app, tmp_path, shanghai_time):
    from assistant.chats.store import import_path

    chat = tmp_path / "WhatsApp Chat with Alice.txt"
    chat.write_text("[1/15/24, 10:00:00] Alice: Hello\n[1/15/24, 10:01:00] Bob: hi!\n", encoding="utf-8")
    assert import_path(app, chat).messages_added == 2
    return app


def test_memory_tab_shows_a_zoneless_export_at_the_time_it_says(whatsapp_imported, window, qtbot):
    """WhatsApp writes the phone's wall clock with no zone. In a UTC+8 zone the session that began at
    10:00 must still say 10:00 (before chats.local_times it said 18:00)."""
    view = window.memory_view
    window.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.sessions.topLevelItemCount() == 1, timeout=10_000)
    item = view.sessions.topLevelItem(0)
    assert item.text(0) == "2024-01-15 10:00"
    view.sessions.setCurrentItem(item)
    assert view.detail.toPlainText().splitlines()[0].endswith("— 2024-01-15 10:00")


def test_rebuild_can_be_cancelled(imported, window, qtbot):
    view = window.memory_view
    window.tabs.setCurrentWidget(view)
    job = view.rebuild()
    assert view.cancel_btn.isVisible()
    view.cancel_btn.click()
    qtbot.waitUntil(lambda: view.rebuild_btn.isEnabled(), timeout=120_000)
    assert not view.cancel_btn.isVisible()
    text = view.status.text()
    print(text)
    assert "cancelled" in text, text
    assert job.is_done


def test_settings_save_device_chroma_and_key_in_keyring(app, window, qtbot):
    import keyring

    from assistant import secrets
    from assistant.gui.settings_dialog import REMOTE_KEY_NAME, SettingsDialog

    dialog = SettingsDialog(app, window.runner, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.models.topLevelItemCount() >= 4, timeout=30_000)
    roles = [dialog.models.topLevelItem(i).data(0, 0x0100).role for i in range(dialog.models.topLevelItemCount())]
    assert {"summarizer", "embedder", "ocr", "clip"} <= set(roles)
    dialog.device.setCurrentIndex(1)  # CPU
    dialog.chroma_server.setChecked(True)
    dialog.chroma_url.setText("http://127.0.0.1:8123")
    dialog.remote_url.setText("https://llm.example/v1")
    dialog.remote_key.setText("sk-test-123")
    assert dialog.save()
    saved = json.loads(app.config.settings_path.read_text())
    assert saved["device"] == "cpu" and saved["chroma_url"] == "http://127.0.0.1:8123"
    assert "sk-test-123" not in app.config.settings_path.read_text()
    assert secrets.get_secret(REMOTE_KEY_NAME) == "sk-test-123"
    assert keyring.get_password(secrets.SERVICE, REMOTE_KEY_NAME) == "sk-test-123"


def test_settings_without_keyring_says_so_and_keeps_nothing(app, window, qtbot):
    import keyring
    from keyring.backends.fail import Keyring as FailKeyring

    from assistant.gui.settings_dialog import SettingsDialog

    keyring.set_keyring(FailKeyring())
    dialog = SettingsDialog(app, window.runner, window)
    qtbot.addWidget(dialog)
    dialog.remote_key.setText("sk-secret")
    assert not dialog.save()
    assert "No system keyring" in dialog.key_status.text()
    assert dialog.remote_key.text() == ""
    assert not app.config.settings_path.exists() or "sk-secret" not in app.config.settings_path.read_text()
    qtbot.waitUntil(lambda: not window.runner.active, timeout=30_000)


def test_import_model_file_reports_a_bad_checksum(app, window, qtbot, tmp_path):
    from assistant.gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(app, window.runner, window)
    qtbot.addWidget(dialog)
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    app.config._models_dir = tmp_path / "models"
    dialog.import_file("summarizer", bogus)
    qtbot.waitUntil(lambda: "failed" in dialog.model_status.text(), timeout=30_000)
    assert "does not match" in dialog.model_status.text()
    assert not (tmp_path / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").exists()
    qtbot.waitUntil(lambda: not window.runner.active, timeout=30_000)


def test_a_slow_earlier_model_check_does_not_overwrite_a_later_result(app, window, qtbot, tmp_path, monkeypatch):
    """The dialog checks the models when it opens (hashing a 400 MB file takes seconds); an import that
    fails meanwhile starts its own check. The first check finishing last must not replace the failure."""
    import threading

    from assistant.gui.settings_dialog import SettingsDialog
    from assistant.ml import registry

    release = threading.Event()
    real = registry.verify_all
    calls = []

    def verify_all(models_dir):
        calls.append(models_dir)
        if len(calls) == 1:  # the check the dialog starts when it opens: slow
            release.wait(30)
        return real(models_dir)

    monkeypatch.setattr(registry, "verify_all", verify_all)
    dialog = SettingsDialog(app, window.runner, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=10_000)
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    app.config._models_dir = tmp_path / "models"
    dialog.import_file("summarizer", bogus)
    qtbot.waitUntil(lambda: "failed" in dialog.model_status.text(), timeout=30_000)
    first = dialog._refresh
    release.set()
    qtbot.waitUntil(lambda: not window.runner.active, timeout=30_000)
    qtbot.wait(50)
    assert "failed" in dialog.model_status.text() and "does not match" in dialog.model_status.text()
    assert dialog._refresh is first and len(calls) == 2
