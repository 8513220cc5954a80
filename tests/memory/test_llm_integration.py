"""The real summarizer GGUF through llama.cpp, on real fixture chats and on conversations written here.

One build for the whole module (each generation costs seconds on 2 cores): two WhatsApp exports from
../shared imported through the real importer, a Chinese chat and an English one written by the test.
Then the summaries are checked for language and for named things from their sessions, and the memories
are retrieved by paraphrases with the real e5 embedder and Chroma.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from assistant.memory import memories
from assistant.memory.summarizer import detect_language
from tests.conftest import shared_path
from tests.memory.conversations import HOTPOT_ZH, LAPTOP_EN
from tests.memory.helpers import add_chat, add_session

pytestmark = pytest.mark.slow

WA_GROUP = ("fixtures", "exports", "mlomb__chat-analytics", "tests", "samples", "whatsapp", "4A_11M.txt")
WA_DM = ("fixtures", "exports", "frozenspider__chat-history-manager", "whatsapp-text_2023-10",
         "WhatsApp Chat with +123 45 6789.txt")


@pytest.fixture(scope="module")
def bank(tmp_path_factory, summarizer_gguf):
    from assistant.app import App
    from assistant.chats.store import import_path
    from assistant.ml.llm import LlamaCppLLM

    app = App(data_dir=tmp_path_factory.mktemp("memdata"))
    for parts in (WA_GROUP, WA_DM):
        report = import_path(app, shared_path(*parts))
        assert report.ok, report.problems
    t0 = datetime(2024, 6, 1, 20, 0, tzinfo=timezone.utc)
    zh = add_session(app, add_chat(app, "小红"), HOTPOT_ZH, t0)
    laptop = add_session(app, add_chat(app, "Bob"), LAPTOP_EN, t0 + timedelta(days=2))
    llm = LlamaCppLLM(summarizer_gguf)
    report = memories.build(app, llm=llm)
    yield app, report, {"zh": zh, "laptop": laptop}
    llm.close()
    app.close()


def _session_of(app, sender: str) -> int:
    return app.catalog.conn.execute("SELECT session_id FROM messages WHERE sender=? AND session_id IS NOT NULL "
                                    "LIMIT 1", (sender,)).fetchone()[0]


def test_every_session_gets_a_summary(bank):
    app, report, _ = bank
    assert not report.failed and report.summarized >= 4
    for m in memories.list_memories(app):
        assert len(m.summary) >= 10, m
        assert m.participants


def test_chinese_session_summarized_in_chinese_with_its_names(bank):
    app, _, ids = bank
    m = memories.show(app, ids["zh"])
    han = len(re.findall(r"[\u4e00-\u9fff]", m.summary))
    assert m.language == "zh" and detect_language(m.summary) == "zh" and han >= 10, m.summary
    named = ["小明", "小红", "火锅", "海底捞", "毛肚", "虾滑", "人民广场", "小李"]
    assert sum(n in m.summary for n in named) >= 2, m.summary
    assert "好耶" in m.summary or "🐻" in m.summary  # the sticker is part of the memory


def test_english_sessions_name_what_happened(bank):
    app, _, ids = bank
    m = memories.show(app, ids["laptop"])
    assert detect_language(m.summary) == "en", m.summary
    named = ["Alice", "Bob", "laptop", "battery", "warranty", "Apple", "Genius", "ThinkPad", "report"]
    assert sum(n.lower() in m.summary.lower() for n in named) >= 3, m.summary
    group = memories.show(app, _session_of(app, "Mallory"))
    assert detect_language(group.summary) == "en", group.summary
    people = ["Alice", "Bob", "Eve", "Mallory", "Trent"]
    assert any(p in group.summary for p in people), group.summary
    assert set(group.participants) >= {"Alice", "Bob", "Eve", "Mallory", "Trent"}


def test_fixture_sticker_message_reaches_the_summary(bank):
    app, _, _ = bank
    m = memories.show(app, _session_of(app, "+123 45 6789"))
    assert detect_language(m.summary) == "en", m.summary
    assert any(w in m.summary.lower() for w in ("reorder", "multi-line", "hello", "message")), m.summary


def test_paraphrased_context_retrieves_the_right_session_first(bank):
    app, _, ids = bank
    hits = memories.retrieve(app, "My notebook computer is dead and the display shows nothing. Could I use "
                                  "your old one until the repair?", k=3)
    assert hits[0].session_id == ids["laptop"], [(h.session_id, h.summary) for h in hits]
    hits = memories.retrieve(app, "这个周末我们再去吃一次辣的火锅吧", k=3)
    assert hits[0].session_id == ids["zh"], [(h.session_id, h.summary) for h in hits]
