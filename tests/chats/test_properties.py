"""Property-based tests over the parsers (hypothesis), plus sessions and IGSR training samples."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.chats.base import ParseContext
from assistant.chats.sessions import split, training_samples
from assistant.chats.store import import_path
from assistant.chats.telegram import entities_text, message_text
from assistant.chats.whatsapp import STICKER_OMITTED, parse_file
from assistant.domain import Message

names = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters=":\u200e\u200f"),
                min_size=1, max_size=12).map(str.strip).filter(lambda s: s and not s[0].isdigit() and "\n" not in s)
bodies = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40).map(
    str.strip).filter(lambda s: s and not s.startswith("<") and "STK-" not in s and "STICKER" not in s
                      # a localized "sticker omitted" is a sticker, not text (hypothesis mines these
                      # constants from the parser, so it does generate them)
                      and unicodedata.normalize("NFC", s).lower() not in STICKER_OMITTED)
times = st.datetimes(min_value=datetime(2015, 1, 13), max_value=datetime(2030, 1, 1)).map(
    lambda t: t.replace(second=0, microsecond=0))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(times, names, bodies), min_size=1, max_size=15), st.sampled_from(["android", "ios"]),
       st.booleans())
def test_whatsapp_roundtrip(tmp_path_factory, rows, layout, sticker_last):
    """Any rendered chat parses back to the same senders, texts and times, in both layouts."""
    rows = sorted(rows)
    rows.append((rows[-1][0].replace(day=13), "Zed", "day thirteen"))  # a day > 12 decides the order
    lines = []
    for t, who, text in rows:
        if layout == "android":
            lines.append(f"{t:%d/%m/%Y}, {t:%H:%M} - {who}: {text}")
        else:
            lines.append(f"[{t.month}/{t.day}/{t:%y}, {t:%H:%M:%S}] {who}: {text}")
    if sticker_last:
        t = rows[-1][0]
        lines.append(f"{t:%d/%m/%Y}, {t:%H:%M} - Zed: STK-20220323-WA0003.webp (file attached)" if layout == "android"
                     else f"\u200e[{t.month}/{t.day}/{t:%y}, {t:%H:%M:%S}] Zed: \u200e<attached: 00000043-STICKER-2022.webp>")
    f = tmp_path_factory.mktemp("wa") / "chat.txt"
    f.write_text("\n".join(lines), encoding="utf-8")
    msgs = list(parse_file(f, ParseContext(f)).messages)
    assert [(m.time, m.sender, m.text) for m in msgs[: len(rows)]] == rows
    assert len(msgs) == len(rows) + sticker_last
    assert sum(m.is_sticker for m in msgs) == int(sticker_last)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(bodies, min_size=1, max_size=5), st.lists(st.text(max_size=20), max_size=3))
def test_whatsapp_multiline(tmp_path_factory, first, extra):
    extra = [e for e in extra if "\r" not in e and "\n" not in e and not e[:1].isdigit() and not e.startswith(("[", "\u200e"))]
    f = tmp_path_factory.mktemp("wa") / "chat.txt"
    text = "\n".join([first[0], *extra]).rstrip("\n")
    f.write_text(f"13/01/2020, 10:00 - A: {text}\n13/01/2020, 10:01 - B: {first[-1]}\n", encoding="utf-8")
    msgs = list(parse_file(f, ParseContext(f)).messages)
    assert [m.sender for m in msgs] == ["A", "B"]
    assert msgs[0].text == text.strip("\u200e")


part = st.one_of(st.text(max_size=10), st.fixed_dictionaries(
    {"type": st.sampled_from(["bold", "link", "plain", "mention", "custom_emoji"]), "text": st.text(max_size=10)}))


@given(st.lists(part, max_size=8))
def test_telegram_entities_concatenate(parts):
    expected = "".join(p if isinstance(p, str) else p["text"] for p in parts)
    assert entities_text(parts) == expected
    ents = [{"type": "plain", "text": p} if isinstance(p, str) else p for p in parts]
    assert message_text({"text": parts, "text_entities": ents}) == expected


@given(st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=30), st.integers(1, 120))
def test_split_sessions(gaps, gap_minutes):
    t0 = datetime(2024, 1, 1)
    msgs, t = [], t0
    for g in gaps:
        t = t + timedelta(minutes=g)
        msgs.append(Message("a", t, "x"))
    sess = split(msgs, gap_minutes)
    assert sum(len(s) for s in sess) == len(msgs)
    assert len(sess) == 1 + sum(1 for g in gaps[1:] if g > gap_minutes)


def test_training_samples_follow_igsr(app, tmp_path):
    """Each sticker at position k: utterances 1..k-1 as context, the sticker as target, earlier sessions."""
    f = tmp_path / "WhatsApp Chat with Bob.txt"
    f.write_text("\n".join([
        "13/01/2020, 10:00 - Bob: hi",
        "13/01/2020, 10:01 - Me: STK-20200113-WA0001.webp (file attached)",
        "14/01/2020, 09:00 - Bob: morning",
        "14/01/2020, 09:01 - Me: how are you",
        "14/01/2020, 09:02 - Me: STK-20200113-WA0002.webp (file attached)",
    ]) + "\n", encoding="utf-8")
    rep = import_path(app, f)
    assert (rep.sessions, rep.sticker_messages, rep.samples) == (2, 2, 2)
    samples = list(training_samples(app.catalog.conn))
    assert [[u.text for u in s.context] for s in samples] == [["hi"], ["morning", "how are you"]]
    assert samples[0].history == [] and samples[1].history == [samples[0].session_id]
    assert all(s.is_me and s.sender == "Me" for s in samples)  # "Chat with Bob": the other one is the user


def test_me_option_and_overlapping_export(app, tmp_path):
    a = tmp_path / "WhatsApp Chat with Grp.txt"
    lines = [f"13/01/2020, 10:{i:02d} - {'Ann' if i % 2 else 'Cy'}: msg {i}" for i in range(10)]
    a.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    import_path(app, a, me="Ann")
    a.write_text("\n".join(lines[3:]) + "\n", encoding="utf-8")  # a later export overlapping the first
    rep = import_path(app, a, me="Ann")
    assert rep.messages == 7 and rep.messages_added == 4
    assert app.catalog.count("messages") == 10
    assert app.catalog.conn.execute("SELECT COUNT(*) FROM messages WHERE is_me=1").fetchone()[0] == 5


def test_header_shape_change_after_the_sniffed_lines(tmp_path):
    """The fast regex is built from the first lines' shape; a later header of another shape (one real
    export mixes `6/30/23` and `30/6/2023`) must still start a message, not become continuation text."""
    f = tmp_path / "chat.txt"
    lines = [f"6/30/23, 16:{i % 60:02d} - A: m{i}" for i in range(80)]
    lines += ["second line of m79", "30/6/2023, 16:15 - B: other shape", "6/30/23, 16:16 - A: back"]
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    msgs = list(parse_file(f, ParseContext(f)).messages)
    assert len(msgs) == 82
    assert msgs[79].text == "m79\nsecond line of m79"
    assert (msgs[80].sender, msgs[80].text, msgs[80].time) == ("B", "other shape", datetime(2023, 6, 30, 16, 15))
    assert (msgs[81].sender, msgs[81].time) == ("A", datetime(2023, 6, 30, 16, 16))
