"""Benchmark format loading (with clear errors) and the dataset built from imported history."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from assistant.eval.dataset import DatasetError, from_history, load


def write(d, stickers, samples, sessions=None):
    d.mkdir(parents=True, exist_ok=True)
    (d / "stickers.jsonl").write_text("\n".join(json.dumps(s, ensure_ascii=False) for s in stickers) + "\n")
    (d / "samples.jsonl").write_text("\n".join(json.dumps(s, ensure_ascii=False) for s in samples) + "\n")
    if sessions is not None:
        (d / "sessions.jsonl").write_text("\n".join(json.dumps(s) for s in sessions) + "\n")


def test_load_reads_the_design_format(tmp_path):
    write(tmp_path / "ds", [{"id": "1", "text": "哈哈", "intent": "joy"}, {"id": 2, "emoji": "😢"}],
          [{"id": "s1", "split": "train", "context": [{"speaker": "a", "text": "hi", "time": "2024-01-01T10:00:00"},
                                                       {"speaker": "b", "sticker": "2"}], "sticker": "1",
            "history": ["h1"]}],
          [{"id": "h1", "utterances": [{"speaker": "a", "text": "earlier"}]}])
    ds = load(tmp_path / "ds")
    s = ds.samples[0]
    assert ds.context_texts(s) == ["hi", "😢"]
    assert ds.memory_texts(s) == ["earlier"]
    assert s.time == datetime(2024, 1, 1, 10, tzinfo=timezone.utc).timestamp()
    assert ds.intents() == ["joy"] and ds.by_id["2"].emoji == "😢"


@pytest.mark.parametrize("samples_line, message", [
    ('{"id": "s", "split": "train", "context": [], "sticker": "404"}', "samples.jsonl:1: sticker '404' is not"),
    ('{"id": "s", "split": "dev", "context": [], "sticker": "1"}', "split must be"),
    ('{"id": "s", "split": "train", "sticker": "1"}', "missing field(s) context"),
    ('{"id": "s", "split": "train", "context": [],', "samples.jsonl:1: not valid JSON"),
])
def test_bad_files_name_file_line_and_problem(tmp_path, samples_line, message):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "stickers.jsonl").write_text('{"id": "1"}\n')
    (d / "samples.jsonl").write_text(samples_line + "\n")
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(d)
    with pytest.raises(DatasetError, match="not a directory"):
        load(tmp_path / "nope")


def seed_history(app, n=12):
    """A chat where 'me' answers with one of two stickers; real catalog rows."""
    c = app.catalog
    with c.transaction() as conn:
        conn.execute("INSERT INTO chats(id, platform, source_id, name, imported_at) VALUES (1, 't', 'c1', 'c', 0)")
        for sid, intent in ((1, "joy"), (2, "sadness")):
            conn.execute("INSERT INTO stickers(id, sha256, ocr_text, intent, added_at) VALUES (?, ?, ?, ?, 0)",
                         (sid, f"h{sid}", "哈哈" if sid == 1 else "呜呜", intent))
            conn.execute("INSERT INTO sticker_refs(id, platform, key, id_kind, sticker_id) VALUES (?, 't', ?, 'platform', ?)",
                         (sid, f"k{sid}", sid))
        t = 1_700_000_000.0
        mid = 0
        for i in range(n):
            happy = i % 2 == 0
            mid += 1
            conn.execute("INSERT INTO messages(id, chat_id, dedupe_key, time, sender, is_me, text) VALUES (?, 1, ?, ?, 'friend', 0, ?)",
                         (mid, f"d{mid}", t, "I got the job, so happy!" if happy else "my cat died, so sad"))
            t += 10
            mid += 1
            conn.execute("INSERT INTO messages(id, chat_id, dedupe_key, time, sender, is_me, sticker_ref_id) VALUES (?, 1, ?, ?, 'me', 1, ?)",
                         (mid, f"d{mid}", t, 1 if happy else 2))
            t += 3600


def test_from_history_splits_by_time(app):
    seed_history(app)
    ds = from_history(app)
    train, test = ds.split("train"), ds.split("test")
    assert len(train) + len(test) == 12 and len(test) == 2
    assert max(s.time for s in train) < min(s.time for s in test)
    first = ds.samples[0]
    assert ds.context_texts(first) == ["I got the job, so happy!"] and first.sticker == "1"
    assert first.intent == "joy"


def test_from_history_needs_enough_sends(app):
    with pytest.raises(DatasetError, match="at least 10"):
        from_history(app)
