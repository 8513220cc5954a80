"""A real seeded catalog for the retrieval tests: the demo pack and chat, OCR'd and indexed once per
session, then copied into each test's own data dir (so tests may hide, favourite and add freely)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    from assistant.app import App
    from assistant.demo import seed_demo

    d = tmp_path_factory.mktemp("demo-template") / "data"
    app = App(data_dir=d)
    report = seed_demo(app)
    app.close()
    assert report.seeded and report.stickers >= 20, report
    return d


@pytest.fixture
def demo_app(demo_template, tmp_path):
    from assistant.app import App

    d = tmp_path / "data"
    shutil.copytree(demo_template, d)
    app = App(data_dir=d)
    yield app
    app.close()


def sticker_by_words(app, words: str):
    """The demo sticker whose OCR'd words match (spaces ignored: OCR may join "THANK YOU")."""
    want = words.replace(" ", "").upper()
    for s in app.catalog.stickers(None, app.config.stickers_dir):
        if s.ocr_text.replace(" ", "").replace("\n", "").upper() == want:
            return s
    raise AssertionError(f"no demo sticker reads {words!r}")
