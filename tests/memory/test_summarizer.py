"""Summarizer pieces that need no model: language, rendering, parsing, chunking and merging."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from assistant.memory.summarizer import (Line, Session, StickerInfo, Summarizer, SummaryError, compact_transcript,
                                         dedupe_sentences, detect_language, load_prompt, note_schema, parse_note,
                                         sticker_line)
from tests.memory.conversations import CAMPING_EN, HOTPOT_ZH, LAUGH
from tests.memory.scripted_llm import ScriptedLLM


def _session(turns, name="chat") -> Session:
    lines = []
    for i, t in enumerate(turns):
        st = None
        if len(t) > 2:
            st = StickerInfo(emoji=t[2]["emoji"], words=t[2]["ocr_text"], description=t[2]["description"],
                             intent=t[2]["intent"])
        lines.append(Line(sender=t[0], text=t[1] or "", time=datetime(2024, 6, 1, 20, i % 60), sticker=st))
    return Session(1, 1, name, lines, lines[0].time, lines[-1].time)


@pytest.mark.parametrize("text,code", [
    ("小红，周六晚上一起去吃火锅吧？", "zh"),
    ("明日は東京に行きますか？ はい、行きます", "ja"),
    ("내일 같이 점심 먹을래?", "ko"),
    ("Привет, как дела? Пойдём в кино", "ru"),
    ("Привіт, як справи? Їдемо додому", "uk"),
    ("Hey, are we still on for the trip this weekend?", "en"),
    ("Ich habe das nicht gesehen, bist du noch da?", "de"),
    ("Je ne sais pas, tu viens avec nous ce soir ?", "fr"),
    ("No sé, ¿vienes con nosotros esta noche? Pero está lloviendo", "es"),
    ("😂😂👍", "en"),
    ("ok lol 好的好的 我们走吧", "zh"),  # a few Latin letters do not outvote a Chinese chat
])
def test_detect_language(text, code):
    assert detect_language(text) == code


def test_sticker_rendered_as_its_attributes():
    line = Line("Alice", "", sticker=StickerInfo(emoji="😂", words="LOL", description="a cat laughing",
                                                 intent="amusement"))
    out = line.render()
    assert out.startswith("Alice: [sticker: 😂")
    assert '"LOL"' in out and "a cat laughing" in out and "amusement" in out
    assert Line("Bob", "", sticker=StickerInfo()).render() == "Bob: [sticker]"


def test_prompts_ship_with_the_package_and_name_the_fields():
    system = load_prompt("summarize_system")
    for field_name in ("summary", "topics", "mood", "sticker"):
        assert field_name in system
    user = load_prompt("summarize_user")
    assert "{transcript}" in user and "{language}" in user
    # the system prompt is the same for every session and language, so llama.cpp's KV cache reuses it
    assert "{" not in system and "{" not in load_prompt("merge_system")
    assert user.index("{transcript}") < user.index("{language}")
    assert set(note_schema()["required"]) == {"summary", "topics", "mood"}


def test_compact_transcript_spends_no_tokens_on_what_the_summary_does_not_need():
    long_name = "+123 45 6789"
    turns = [("Alice", "Look https://www.example.com/some/very/long/path?with=query&and=more it is great"),
             (long_name, "haha"), (long_name, "haha"), (long_name, "haha"),
             ("Alice", None, LAUGH), ("Bob", None, LAUGH),
             ("Bob", "word " * 200),
             ("Alice", "a message pasted twice by the same person"), ("Bob", "ok"),
             ("Alice", "a message pasted twice by the same person"),
             ("Bob", "IMG-20230630-WA0000.jpg (file attached) the view")]
    t = compact_transcript(_session(turns))
    assert t.lines[0] == "Alice: Look <example.com> it is great"
    assert t.lines[1] == "P1: haha (×3)" and t.aliases == {"P1": long_name}
    assert t.lines[2] == 'Alice: [sticker 😂 "LOL": a cat laughing so hard it falls over, amusement]'
    assert t.lines[3] == 'Bob: [sticker 😂 "LOL"]'  # described once per session
    assert t.lines[4].endswith("…") and len(t.lines[4]) < 320
    assert [ln for ln in t.lines if "pasted twice" in ln] == ["Alice: a message pasted twice by the same person"]
    assert not any(re.search(r"\d\d:\d\d", ln) for ln in t.lines)  # no per-message times
    assert t.lines[-1] == "Bob: [jpg file] (file attached) the view"
    assert t.restore("P1 laughed at Alice") == f"{long_name} laughed at Alice"
    assert t.restore("P10 and xP1") == "P10 and xP1"


def test_long_names_become_unique_first_names_or_labels():
    t = compact_transcript(_session([("Alexandra Catherine Smith", "hi"), ("Bob", "yo"),
                                     ("Maria José da Silva Santos", "hey"), ("Maria Fernanda Oliveira", "hello")]))
    assert t.lines[0] == "Alexandra: hi" and t.lines[1] == "Bob: yo"
    assert t.lines[2].startswith("P1: ") and t.lines[3].startswith("P2: ")  # "Maria" would be ambiguous
    assert t.aliases == {"P1": "Maria José da Silva Santos", "P2": "Maria Fernanda Oliveira"}
    assert t.restore("Alexandra Catherine Smith met P2") == "Alexandra Catherine Smith met Maria Fernanda Oliveira"


def test_parse_note_valid_fenced_and_truncated():
    assert parse_note('{"summary": "A met B.", "topics": []}')["summary"] == "A met B."
    assert parse_note('```json\n{"summary": "x y z"}\n```')["summary"] == "x y z"
    truncated = '{"participants": ["A"], "topics": ["t"], "mood": "ok", "summary": "Alice told \\"Bob\\" abo'
    assert parse_note(truncated)["summary"] == 'Alice told "Bob" abo'
    assert parse_note("no json here") is None
    assert parse_note("[1, 2]") is None


def test_dedupe_sentences_drops_loops():
    assert dedupe_sentences("They ate. They ate. They ate! Then left.") == "They ate. Then left."
    assert dedupe_sentences("他们去吃火锅。他们去吃火锅。然后回家。") == "他们去吃火锅。然后回家。"


def test_sticker_line_lists_each_sticker_once_with_senders():
    s = _session(CAMPING_EN)
    line = sticker_line(s, "en")
    assert line.startswith("Stickers sent: ")
    assert line.count("😂") == 1 and '"LOL"' in line and "Alice" in line
    zh = sticker_line(_session(HOTPOT_ZH), "zh")
    assert zh.startswith("表情包：") and "好耶" in zh and zh.endswith("。")
    assert sticker_line(_session([("A", "hi"), ("B", "yo")])) == ""


def test_summarize_fills_every_field_from_the_answer():
    llm = ScriptedLLM()
    note = Summarizer(llm).summarize(_session(CAMPING_EN, "Bob"))
    assert len(llm.calls) == 1 and note.chunks == 1
    assert "Lake Tahoe" in llm.calls[0] and '[sticker 😂 "LOL": a cat laughing' in llm.calls[0]
    assert note.language == "en"
    assert note.summary.count("Hey Bob") == 1  # the scripted answer repeats its sentence; the copy is dropped
    assert "Stickers sent:" in note.summary  # the answer named no sticker, so the line is added
    assert note.topics == ["t1", "t2"] and note.mood == "calm"
    assert note.participants == ["Alice", "Bob"]


def test_long_session_is_chunked_and_merged():
    llm = ScriptedLLM(n_ctx=700)  # the instructions take ~300 "tokens": 40 messages need several parts
    note = Summarizer(llm).summarize(_session(CAMPING_EN))
    parts = [c for c in llm.calls if "Part " in c]
    merges = [c for c in llm.calls if c.startswith("Chat:") and "Notes on the" in c]
    assert len(parts) >= 2 and note.chunks == len(parts)
    assert merges, "the chunk notes must be merged"
    assert note.summary.startswith("MERGED: ")
    # every message reached exactly one chunk
    joined = "\n".join(parts)
    for sender, text, *rest in CAMPING_EN:
        if text:
            assert joined.count(text) == 1, text


def test_context_too_small_for_the_instructions_is_a_clear_error():
    with pytest.raises(SummaryError, match="context"):
        Summarizer(ScriptedLLM(n_ctx=300)).summarize(_session(CAMPING_EN))


def test_unusable_answers_raise_summary_error():
    class Empty(ScriptedLLM):
        def chat(self, messages, **kw):
            out = super().chat(messages, **kw)
            out.text = json.dumps({"participants": [], "topics": [], "mood": "", "summary": "  "})
            return out

    llm = Empty()
    with pytest.raises(SummaryError):
        Summarizer(llm).summarize(_session([("A", "hello"), ("B", "hi"), ("A", None, LAUGH)]))
    assert len(llm.calls) == 2  # one retry, then give up on this session


def test_labels_in_the_answer_become_the_real_names_again():
    class Answers(ScriptedLLM):
        def chat(self, messages, **kw):
            out = super().chat(messages, **kw)
            assert "+44 7700 900123" not in messages[-1]["content"]  # the prompt only has the label
            out.text = json.dumps({"summary": "P1 asked Alice about the café.", "topics": ["P1's café"],
                                   "mood": "calm"})
            return out

    note = Summarizer(Answers()).summarize(_session([("+44 7700 900123", "café at 10?"), ("Alice", "yes")]))
    assert note.summary == "+44 7700 900123 asked Alice about the café."
    assert note.topics == ["+44 7700 900123's café"]
    assert note.participants == ["+44 7700 900123", "Alice"]
