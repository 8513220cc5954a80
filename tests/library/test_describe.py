"""Describing stickers: real OCR on real stickers, emoji intents, CLIP zero-shot labels (tiny model),
user edits surviving a re-run, and Chroma kept consistent with the catalog."""

from __future__ import annotations

import json

import pytest

from assistant.library import attributes, index, ingest, manage
from assistant.memory.bank import STICKER_IMAGES, STICKER_TEXTS
from assistant.ml.labels import goemotions, label_sets
from tests.library.conftest import demo_dir

# Words read by eye on these stickers (each checked by opening the image).
READABLE = {
    "beavis-and-butthead_sticker_18.jpg": ["COOL"],
    "panda-man_sticker_17.jpg": ["AWESOME"],
    "brown-y-sugar_sticker_25.jpg": ["JUNTO A TI"],
    "koala-stickers_sticker_21.jpg": ["DID", "NOTHING"],
    "bmo_sticker_15.jpg": ["BACK", "5 MINUTES"],
}
NO_WORDS = ["04-panda-bear_sticker_4.jpg", "adventure-time_sticker_1.jpg"]


def _add(app, names, **kw):
    ids = {}
    for name in names:
        res = ingest.add_file(app, demo_dir() / name, **kw)
        assert res.added, res.problem
        ids[name] = res.sticker_id
    return ids


@pytest.mark.slow
def test_ocr_reads_the_words_on_real_stickers(app):
    ids = _add(app, list(READABLE) + NO_WORDS)
    assert attributes.describe(app) == len(ids)
    for name, words in READABLE.items():
        text = app.catalog.sticker(ids[name]).ocr_text.upper()
        for w in words:
            assert w in text, (name, text)
    for name in NO_WORDS:
        assert app.catalog.sticker(ids[name]).ocr_text == ""
    # Described stickers are indexed: text vectors with the words, searchable by them.
    assert index.check(app) == (set(), set())
    got = app.bank.get(STICKER_TEXTS, ids=[str(ids["panda-man_sticker_17.jpg"])])
    assert "AWESOME" in got["documents"][0]
    assert [s.id for s in manage.search(app, "awesome")] == [ids["panda-man_sticker_17.jpg"]]
    # Nothing left to describe: a second run does nothing.
    assert attributes.describe(app) == 0


def test_emoji_gives_intent_without_clip(app):
    app.override("clip", None)
    ids = _add(app, NO_WORDS[:1], emoji="😂")
    assert attributes.describe(app, ocr=False) == 1
    s = app.catalog.sticker(ids[NO_WORDS[0]])
    assert s.intent == "amusement"
    attrs = json.loads(app.catalog.conn.execute("SELECT attrs FROM stickers WHERE id=?", (s.id,)).fetchone()[0])
    assert attrs["intent"]["source"] == "emoji"
    assert app.bank.count(STICKER_IMAGES) == 0  # no image model, no image vectors


def test_clip_zero_shot_labels_and_image_vectors(app, tiny_clip):
    app.override("clip", tiny_clip)
    names = NO_WORDS + ["panda-man_sticker_17.jpg"]
    ids = _add(app, names, emoji="😀")
    assert attributes.describe(app, ocr=False) == 3
    sets = label_sets()
    for sid in ids.values():
        row = app.catalog.conn.execute("SELECT * FROM stickers WHERE id=?", (sid,)).fetchone()
        attrs = json.loads(row["attrs"])
        for name in ("expression", "gesture", "posture", "style", "subject", "intent"):
            assert attrs[name]["label"] in sets[name]
            assert 0.0 < attrs[name]["conf"] <= 1.0
            assert attrs[name]["source"] == "clip"
            probs = [p for _, p in attrs[name]["top"]]
            assert probs == sorted(probs, reverse=True)
        assert row["intent"] in goemotions() and row["intent_conf"] == attrs["intent"]["conf"]
        assert row["style"] in ("cartoon", "real", "text")
    # Image vectors: one per sticker, of CLIP's width, with filter metadata.
    got = app.bank.get(STICKER_IMAGES, include_embeddings=True)
    assert sorted(int(i) for i in got["ids"]) == sorted(ids.values())
    assert len(got["embeddings"][0]) == tiny_clip.dim
    assert {m["sticker_id"] for m in got["metadatas"]} == set(ids.values())
    assert index.check(app) == (set(), set())

    # A user edit survives a re-describe; other fields are refreshed.
    sid = ids[NO_WORDS[0]]
    manage.set_attribute(app, sid, "intent", "gratitude")
    manage.set_attribute(app, sid, "expression", "smug")
    attributes.describe(app, [sid], ocr=False)
    row = app.catalog.conn.execute("SELECT intent, attrs, user_edited FROM stickers WHERE id=?", (sid,)).fetchone()
    assert row["intent"] == "gratitude"
    assert json.loads(row["attrs"])["expression"]["label"] == "smug"
    assert set(json.loads(row["user_edited"])) == {"intent", "expression"}

    # Text -> image search through CLIP finds stickers with no matching words.
    hits = manage.search(app, "a cute cartoon animal")
    assert {s.id for s in hits} <= set(ids.values()) and hits


def test_index_consistent_on_delete_merge_and_rebuild(app, tiny_clip):
    app.override("clip", tiny_clip)
    ids = list(_add(app, NO_WORDS + ["panda-man_sticker_17.jpg"]).values())
    attributes.describe(app, ocr=False)
    manage.delete(app, [ids[0]])
    assert index.check(app) == (set(), set())
    manage.merge(app, ids[1], [ids[2]])
    assert index.check(app) == (set(), set())
    assert app.bank.ids(STICKER_TEXTS) == {str(ids[1])}
    # Vectors lost (e.g. a deleted chroma folder) are found by check and restored by rebuild.
    app.bank.drop(STICKER_TEXTS)
    assert index.check(app) == ({ids[1]}, set())
    assert index.rebuild(app) == 1
    assert index.check(app) == (set(), set())


def test_sticker_text_holds_every_text_attribute(app):
    ids = _add(app, NO_WORDS[:1], pack="Bears", emoji="🐻")
    sid = ids[NO_WORDS[0]]
    manage.set_attribute(app, sid, "ocr_text", "hello there")
    manage.set_attribute(app, sid, "description", "a bear waving")
    manage.set_attribute(app, sid, "intent", "joy")
    manage.set_tags(app, sid, ["greeting"])
    text = index.sticker_text(app.catalog.sticker(sid))
    for part in ("hello there", "🐻", "Bears", "greeting", "a bear waving", "joy"):
        assert part in text
