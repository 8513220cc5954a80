"""Shared fixtures: a fresh data dir per test, an in-memory keyring, and paths to ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STICKER_ASSISTANT_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the test (with the reason) when the shared data is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared test data absent: {p} (tests that need ../shared skip in a bare clone)")
    return p


@pytest.fixture
def shared():
    return shared_path


@pytest.fixture(autouse=True)
def memory_keyring():
    """Headless Linux has no keyring backend; tests use an in-memory one so secrets never hit disk."""
    import keyring
    from keyring.backend import KeyringBackend

    class MemoryKeyring(KeyringBackend):
        priority = 1
        store: dict = {}

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def get_password(self, service, username):
            return self.store.get((service, username))

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def app(data_dir):
    from assistant.app import App

    a = App(data_dir=data_dir)
    yield a
    a.close()


@pytest.fixture
def shanghai_time(monkeypatch):
    """This process's local zone set to UTC+8 (no daylight saving) for one test, then put back: times
    shown to a user must not depend on the zone the test machine happens to be in."""
    import time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def models_dir() -> Path:
    from assistant.config import default_models_dir

    return default_models_dir()


@pytest.fixture(scope="session")
def summarizer_gguf(models_dir) -> Path:
    """The real default GGUF, provisioned by `make test` (sticker-assistant models install summarizer)."""
    from assistant.ml.registry import installed_path

    p = installed_path("summarizer", models_dir)
    if p is None:
        pytest.fail("the summarizer GGUF is not installed: run `make models` (make test does it)")
    return p


@pytest.fixture(scope="session")
def tiny_clip():
    """A tiny randomly initialised open_clip model: real code path, no downloaded weights."""
    from assistant.ml.clip import tiny_encoder

    return tiny_encoder(dim=64, layers=2)


# CI runs the property tests derandomized: the same examples on every run, so a CI result is
# reproducible; local runs keep exploring (and keep hypothesis' example database).
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    _hyp_settings.load_profile("ci")
