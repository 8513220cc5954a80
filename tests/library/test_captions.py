"""One-line descriptions by a multimodal GGUF: the real llama.cpp path with a tiny projector, user
edits kept, the index updated, and clear errors for the wrong files."""

from __future__ import annotations


import pytest
from PIL import Image

from assistant.app import App
from assistant.cli import main
from assistant.config import Config
from assistant.library import captions, ingest, manage
from assistant.memory.bank import STICKER_TEXTS
from assistant.ml import describer as d
from assistant.ml import registry
from tests.library.conftest import drawn_sticker as _sticker
from tests.library.tiny_mmproj import text_width, write_header_only, write_projector


@pytest.fixture(scope="module")
def projector(tmp_path_factory, summarizer_gguf):
    return write_projector(tmp_path_factory.mktemp("mmproj") / "tiny-mmproj.gguf", text_width(summarizer_gguf))


@pytest.fixture(scope="module")
def real_describer(summarizer_gguf, projector):
    desc = d.LlamaCppDescriber(summarizer_gguf, projector, n_gpu_layers=0, max_tokens=12)
    yield desc
    desc.close()


@pytest.fixture
def two_stickers(app, tmp_path):
    ids = [ingest.add_file(app, _sticker(tmp_path, n, c)).sticker_id
           for n, c in (("red", (220, 30, 30, 255)), ("blue", (30, 30, 220, 255)))]
    return app, ids


def test_real_describer_writes_one_line_and_keeps_user_edits(two_stickers, real_describer):
    app, (first, second) = two_stickers
    manage.set_attribute(app, second, "description", "my own words")
    app.override("describer", real_describer)
    report = captions.caption(app, redo=True)  # redo: every sticker, even the one the user described
    assert real_describer.handler == "Llava15ChatHandler"  # chosen from the projector's type
    assert report.written == 1 and report.kept_user_edits == 1 and not report.failed
    text = manage.get(app, first).description
    assert text and "\n" not in text and len(text) <= d.MAX_CHARS + 1
    assert manage.get(app, second).description == "my own words"
    doc = app.bank.get(STICKER_TEXTS, [str(first)])["documents"][0]
    assert text in doc  # the words reach the text vector used by suggestion and search
    assert captions.caption(app).written == 0  # nothing left without a description


def test_cancel_keeps_what_was_written(two_stickers):
    app, ids = two_stickers
    from assistant.jobs import CancelToken

    cancel = CancelToken()

    class OneThenStop:  # a describer that asks to stop after its first caption
        name = "scripted"

        def describe(self, image):
            cancel.cancel()
            return "a round red shape"

    app.override("describer", OneThenStop())
    report = captions.caption(app, cancel=cancel)
    assert report.written == 1 and report.cancelled
    assert manage.get(app, ids[0]).description == "A round red shape"
    assert manage.get(app, ids[1]).description == ""


def test_no_describer_says_how_to_install(app, capsys):
    assert app.describer is None
    with pytest.raises(captions.CaptionsUnavailable, match="models import describer"):
        captions.caption(app)
    feats = {f.name: f for f in app.features()}
    assert not feats["One-line sticker descriptions"].on
    assert "describer" in feats["One-line sticker descriptions"].fix


def test_import_checks_which_file_is_which(tmp_path, projector):
    models = tmp_path / "models"
    lm = write_header_only(tmp_path / "lm.gguf", "qwen2")
    with pytest.raises(registry.ModelError, match="vision projector"):
        registry.import_file("describer", projector, models)
    with pytest.raises(registry.ModelError, match="not a vision projector"):
        registry.import_file("describer-projector", lm, models)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all" * 10)
    with pytest.raises(registry.ModelError, match="junk.gguf: not a readable GGUF"):
        registry.import_file("describer-projector", junk, models)
    assert not (models / "describer-mmproj.gguf").exists()

    registry.import_file("describer", lm, models)
    app = App(Config(tmp_path / "data", models_dir=models))
    try:
        assert app.describer is None  # the model alone is not enough
        assert not {f.name: f for f in app.features()}["One-line sticker descriptions"].on
        registry.import_file("describer-projector", projector, models)
        assert isinstance(app.describer, d.LlamaCppDescriber)
        assert {f.name: f for f in app.features()}["One-line sticker descriptions"].on
        st = registry.verify("describer-projector", models)
        assert st.status is registry.Status.INSTALLED
    finally:
        app.close()
        d.close_all()


def test_cli_caption_without_describer(data_dir, capsys):
    assert main(["--data-dir", str(data_dir), "library", "caption"]) == 1
    assert "no describer model is installed" in capsys.readouterr().out


@pytest.mark.parametrize("kind,name,handler", [
    ("mlp", "llava-v1.5-7b.Q4_K_M.gguf", "Llava15ChatHandler"),
    ("qwen2.5vl_merger", "Qwen2.5-VL-3B.gguf", "Qwen25VLChatHandler"),
    ("resampler", "minicpm-v-2_6.gguf", "MiniCPMv26ChatHandler"),
    ("mlp", "moondream2-text-model.gguf", "MoondreamChatHandler"),
    ("gemma3", "gemma-3-4b-it.gguf", "MTMDChatHandler"),
])
def test_handler_follows_the_projector(kind, name, handler):
    assert d.handler_name(kind, name) == handler


@pytest.mark.parametrize("raw,clean", [
    ("The sticker shows a cat laughing.\nSecond line", "A cat laughing."),
    ('"a dog waving hello"', "A dog waving hello"),
    ("   \n  panda sleeping  ", "Panda sleeping"),
    ("", ""),
])
def test_clean_caption(raw, clean):
    assert d.clean_caption(raw) == clean


def test_clean_caption_caps_length():
    out = d.clean_caption("word " * 80)
    assert len(out) <= d.MAX_CHARS + 1 and out.endswith("…") and " " in out


def test_data_uri_shrinks_and_flattens():
    import base64
    import io

    img = Image.new("RGBA", (1000, 500), (0, 0, 0, 0))
    uri = d.image_data_uri(img)
    back = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert back.mode == "RGB" and max(back.size) == d.MAX_SIDE
    assert back.getpixel((0, 0)) == (255, 255, 255)
