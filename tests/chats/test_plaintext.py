"""Pasted conversations (the Suggest panel's input) in each app's copy format."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from assistant.chats.plaintext import parse


def pairs(utts):
    return [(u.speaker, u.text) for u in utts]


def test_whatsapp_desktop_and_export_lines():
    u = parse("[21:49, 3/27/2022] Bob: are you coming?\n[21:50, 3/27/2022] Ann: yes!\nsee you soon")
    assert pairs(u) == [("Bob", "are you coming?"), ("Ann", "yes!\nsee you soon")]
    assert u[0].time == datetime(2022, 3, 27, 21, 49)
    u = parse("\u200e[3/27/22, 21:49:16] Dmitry S: \u200eHello\n27/03/2022, 21:49 - Elon: hi")
    assert pairs(u)[0] == ("Dmitry S", "Hello")


def test_telegram_discord_wechat_copies():
    tg = "Ann, [27.03.2022 21:49]\nhello there\n\nBob, [27.03.2022 21:50]\nhi\nhow are you"
    assert pairs(parse(tg)) == [("Ann", "hello there"), ("Bob", "hi\nhow are you")]
    assert parse(tg)[1].time == datetime(2022, 3, 27, 21, 50)
    dc = "Ann — Today at 21:49\nlol\nBob — Today at 21:50\nsame"
    assert pairs(parse(dc)) == [("Ann", "lol"), ("Bob", "same")]
    wx = "张三 2022-03-27 21:49:16\n今天吃什么\n李四 2022-03-27 21:50:02\n火锅"
    assert pairs(parse(wx)) == [("张三", "今天吃什么"), ("李四", "火锅")]


def test_named_and_bare_lines():
    assert pairs(parse("Ann: hi\nBob: hey: what's up\n")) == [("Ann", "hi"), ("Bob", "hey: what's up")]
    assert pairs(parse("just one thought\nand another")) == [("", "just one thought"), ("", "and another")]
    assert parse("") == [] and parse("\n \n") == []


@given(st.text(max_size=300))
def test_never_raises_and_keeps_words(text):
    utts = parse(text)
    for u in utts:
        assert isinstance(u.speaker, str) and isinstance(u.text, str)
    if text.strip() and not any(c in text for c in ":[—\u200e"):
        # plain lines: every non-empty line is one utterance, in order
        assert [u.text for u in utts] == [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n")
                                          .lstrip("\ufeff").split("\n") if ln.strip()]


names = st.text(st.characters(whitelist_categories=("Lu", "Ll")), min_size=1, max_size=10)
words = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd"), whitelist_characters=" !?"),
                min_size=1, max_size=30).map(str.strip).filter(bool)


@given(st.lists(st.tuples(names, words), min_size=1, max_size=10))
def test_named_lines_roundtrip(rows):
    assert pairs(parse("\n".join(f"{n}: {t}" for n, t in rows))) == rows
