"""The memory bank's bookkeeping on real SQLite, real Chroma (tmp dir) and the real e5 embedder.

The LLM here is the scripted one (tests/memory/scripted_llm.py) so resume/cancel/crash are exact and
quick; summary quality with the real GGUF is in test_llm_integration.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from assistant.domain import Utterance
from assistant.jobs import CancelToken
from assistant.memory import memories
from assistant.memory.bank import MEMORIES
from tests.memory.conversations import CAMPING_EN, HOTPOT_ZH, LAPTOP_EN, THUMBS
from tests.memory.helpers import add_chat, add_session, append_message
from tests.memory.scripted_llm import ScriptedLLM

T0 = datetime(2024, 6, 1, 20, 0, tzinfo=timezone.utc)


@pytest.fixture
def three_sessions(app):
    chat = add_chat(app, "Bob")
    other = add_chat(app, "小红")
    ids = [add_session(app, chat, CAMPING_EN, T0),
           add_session(app, chat, LAPTOP_EN, T0 + timedelta(days=3)),
           add_session(app, other, HOTPOT_ZH, T0 + timedelta(days=5))]
    return chat, other, ids


def _summarized(llm: ScriptedLLM) -> int:
    return len(llm.calls)


def test_build_stores_each_session_in_sqlite_and_chroma(app, three_sessions):
    chat, other, ids = three_sessions
    add_session(app, chat, [("Bob", "ok")], T0 + timedelta(days=9))  # one message: no memory
    seen = []
    report = memories.build(app, progress=lambda d, t, w: seen.append((d, t)), llm=ScriptedLLM())
    assert report.summarized == 3 and report.too_short == 1 and not report.failed and not report.cancelled
    assert seen[-1] == (3, 3)
    assert app.catalog.count("memories") == 3
    assert app.bank.ids(MEMORIES) == {f"session-{i}" for i in ids}
    m = memories.show(app, ids[2])
    assert m.chat_id == other and m.language == "zh" and sorted(m.participants) == sorted(["小红", "小明"])
    assert m.start == T0.replace(tzinfo=None) + timedelta(days=5)
    assert [x.session_id for x in memories.list_memories(app, chat)] == ids[:2]
    assert "3 summarized" in report.line()


def test_second_build_does_nothing_and_a_changed_session_is_redone(app, three_sessions):
    _, _, ids = three_sessions
    memories.build(app, llm=ScriptedLLM())
    llm = ScriptedLLM()
    report = memories.build(app, llm=llm)
    assert _summarized(llm) == 0 and report.up_to_date == 3 and report.summarized == 0
    append_message(app, ids[1], "Alice", "Update: the Genius Bar fixed it for free")
    llm = ScriptedLLM()
    report = memories.build(app, llm=llm)
    assert report.summarized == 1 and _summarized(llm) == 1 and "Genius Bar fixed" in llm.calls[0]


def test_changed_sticker_attributes_also_redo_the_session(app, three_sessions):
    memories.build(app, llm=ScriptedLLM())
    with app.catalog.transaction() as conn:
        conn.execute("UPDATE stickers SET description='a golden retriever giving a thumbs up' WHERE ocr_text=?",
                     (THUMBS["ocr_text"],))
    llm = ScriptedLLM()
    report = memories.build(app, llm=llm)
    assert report.summarized == 2  # the camping and laptop sessions show that sticker
    assert all("golden retriever" in c for c in llm.calls)


def test_cancel_keeps_finished_sessions_and_resume_does_the_rest(app, three_sessions):
    _, _, ids = three_sessions
    cancel = CancelToken()

    def progress(done, total, what):
        if done == 1 and what.endswith("done"):
            cancel.cancel()

    report = memories.build(app, progress=progress, cancel=cancel, llm=ScriptedLLM())
    assert report.cancelled and report.summarized == 1
    assert app.catalog.count("memories") == 1 and app.bank.count(MEMORIES) == 1
    assert "cancelled" in report.line()
    llm = ScriptedLLM()
    report = memories.build(app, llm=llm)
    assert report.summarized == 2 and report.up_to_date == 1 and _summarized(llm) == 2
    assert {m.session_id for m in memories.list_memories(app)} == set(ids)


def test_crash_mid_build_loses_only_the_session_in_flight(app, three_sessions):
    _, _, ids = three_sessions
    with pytest.raises(RuntimeError, match="simulated crash"):
        memories.build(app, llm=ScriptedLLM(fail_on="laptop"))
    assert [m.session_id for m in memories.list_memories(app)] == [ids[0]]
    llm = ScriptedLLM()
    memories.build(app, llm=llm)
    assert _summarized(llm) == 2
    assert app.catalog.count("memories") == 3


def test_build_repairs_chroma_after_a_crash_between_the_two_writes(app, three_sessions):
    _, _, ids = three_sessions
    memories.build(app, llm=ScriptedLLM())
    app.bank.delete(MEMORIES, ids=[f"session-{ids[0]}"])  # as if the process died after the SQLite commit
    app.bank.upsert(MEMORIES, ["session-999"], [[0.1] * 384], [{"chat_id": 1, "session_id": 999}])
    report = memories.build(app, llm=ScriptedLLM())
    assert report.repaired == 1 and report.summarized == 0
    assert app.bank.ids(MEMORIES) == {f"session-{i}" for i in ids}


def test_retrieve_by_paraphrase_same_chat_first(app, three_sessions):
    chat, other, ids = three_sessions
    memories.build(app, llm=ScriptedLLM())
    hits = memories.retrieve(app, "my computer is broken and the screen is black, can you lend me one?", k=3)
    assert hits[0].session_id == ids[1] and hits[0].score > hits[-1].score
    # same chat first: asking from the Chinese chat puts its memory first even for an English query
    hits = memories.retrieve(app, "laptop battery warranty", k=2, chat_id=other)
    assert hits[0].session_id == ids[2] and hits[1].session_id == ids[1]
    utts = [Utterance("Alice", "shall we go camping at the lake again?"), Utterance("Bob", "yes, bring the tent")]
    assert memories.retrieve(app, utts, k=1)[0].session_id == ids[0]
    assert memories.retrieve(app, "   ") == []


def test_clear_and_reindex(app, three_sessions):
    chat, other, ids = three_sessions
    memories.build(app, llm=ScriptedLLM())
    assert memories.clear(app, other) == 1
    assert app.bank.ids(MEMORIES) == {f"session-{i}" for i in ids[:2]}
    app.bank.drop(MEMORIES)
    assert memories.reindex(app) == 2 and app.bank.count(MEMORIES) == 2
    assert memories.retrieve(app, "camping trip", k=1)[0].session_id == ids[0]
    assert memories.clear(app) == 2 and app.bank.count(MEMORIES) == 0 and memories.retrieve(app, "camping") == []


def test_real_telegram_export_through_the_importer(app):
    """Sessions as the real importer writes them: one-message sessions are skipped, the rest summarized."""
    from assistant.chats.store import import_path
    from tests.conftest import shared_path

    path = shared_path("fixtures", "exports", "mlomb__chat-analytics", "tests", "samples", "telegram", "DM_2A_7M.json")
    assert import_path(app, path).ok
    llm = ScriptedLLM()
    report = memories.build(app, llm=llm)
    multi = app.catalog.conn.execute(
        "SELECT COUNT(*) FROM (SELECT session_id FROM messages WHERE is_system=0 AND session_id IS NOT NULL "
        "GROUP BY session_id HAVING COUNT(*) >= 2)").fetchone()[0]
    assert report.summarized == multi >= 1 and report.too_short >= 1 and not report.failed
    assert len(llm.calls) == multi
    for m in memories.list_memories(app):
        assert m.participants and m.start is not None and m.language == "en"
    assert memories.build(app, llm=ScriptedLLM()).up_to_date == multi


def test_prompt_dates_are_the_users_wall_clock_and_the_hash_is_not(app, shanghai_time, monkeypatch):
    """An export with zones (Telegram, WeChat) is stored in UTC: a chat at 23:10 in Shanghai is stored
    as 15:10. The summarizer's date line must say 23:10, as the Memory tab does; a zoneless export
    (WhatsApp) says what it wrote. The content hash stays on the stored stamps, so a machine in another
    zone finds the memory up to date instead of summarizing every session again."""
    import time

    zoned = add_chat(app, "Bob", platform="telegram")
    zoneless = add_chat(app, "Ann", platform="whatsapp")
    with app.catalog.transaction() as conn:
        conn.execute("UPDATE chats SET local_times=1 WHERE id=?", (zoneless,))
    at = datetime(2024, 3, 1, 15, 10, tzinfo=timezone.utc)
    s_zoned = memories.load_session(app, add_session(app, zoned, CAMPING_EN, at))
    s_zoneless = memories.load_session(app, add_session(app, zoneless, CAMPING_EN, at))
    assert s_zoned.date_line().startswith("2024-03-01 23:10")
    assert s_zoneless.date_line().startswith("2024-03-01 15:10")
    assert s_zoned.start == datetime(2024, 3, 1, 15, 10)  # the memory's own time stays as stored
    before = s_zoned.content_hash
    monkeypatch.setenv("TZ", "America/New_York")  # the fixture puts the zone back
    time.tzset()
    again = memories.load_session(app, s_zoned.session_id)
    assert again.date_line().startswith("2024-03-01 10:10") and again.content_hash == before
