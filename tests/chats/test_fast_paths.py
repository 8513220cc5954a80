"""The chunked/streamed fast paths give the same answer wherever the chunk or block boundaries fall.

WhatsApp text is split per 16 KiB chunk (messages built in C, special lines found by substring
tests); Telegram JSON is read in 1 MiB blocks by a structure walker with the C JSON scanner per
message. Both are checked here against themselves with tiny chunks/blocks (so every boundary case
is hit), plus the behaviours those paths own.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.chats import telegram, whatsapp
from assistant.chats.base import ParseContext, ParseError
from tests.conftest import shared_path

M = "\u200e"


def _wa(path, partial=False):
    ctx = ParseContext(path, partial=partial)
    pc = whatsapp.parse_file(path, ctx)
    msgs = list(pc.messages)
    return msgs, pc.chat.participants, [p.message for p in ctx.problems]


def _tg(path, partial=False):
    ctx = ParseContext(path, partial=partial)
    out = [(pc.chat.name, pc.chat.source_id, list(pc.messages)) for pc in telegram.parse_file(path, ctx)]
    return out, [p.message for p in ctx.problems]


# --- WhatsApp -------------------------------------------------------------------------------------
BODIES = ["hello", "<Media omitted>", "STK-20220323-WA0003.webp (file attached)", "IMG-20220323-WA0002.jpg (file attached)",
          "sticker omitted", M + "sticker omitted", M + "image omitted", M + "<attached: 00000043-STICKER-2022.webp>",
          M + "<attached: 00000044-PHOTO-2022.jpg>", "<not media>", "ends)", "a: b", "Привет 😊", "ok" + M, "", "."]
CONTS = ["second line", "", "  indented", "13 not a header", "STK-20220323-WA0003.webp"]


@st.composite
def chats(draw):
    layout = draw(st.sampled_from(["android", "ios"]))
    t = datetime(2021, 3, 13, 9, 0)
    lines = []
    for _ in range(draw(st.integers(1, 40))):
        t += timedelta(seconds=draw(st.sampled_from([0, 61, 3600, 86400])))
        who = draw(st.sampled_from(["Ann", "Bob" + M, "Çem"]))
        body = draw(st.sampled_from(BODIES))
        if layout == "android":
            head = f"{t:%d/%m/%Y}, {t:%H:%M} - "
        else:
            head = draw(st.sampled_from(["", M])) + f"[{t.day}/{t.month}/{t:%y}, {t:%H:%M:%S}] "
        lines.append(head + f"{who}: {body}")
        if draw(st.integers(0, 9)) == 0:
            lines.append(head + "Messages are end-to-end encrypted.")
        lines.extend(draw(st.lists(st.sampled_from(CONTS), max_size=2)))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=chats(), chunk=st.sampled_from([40, 97, 256, 1000]))
def test_whatsapp_chunk_boundaries_change_nothing(tmp_path_factory, monkeypatch, text, chunk):
    f = tmp_path_factory.mktemp("wa") / "chat.txt"
    f.write_text(text, encoding="utf-8")
    whole = _wa(f, partial=True)
    with monkeypatch.context() as m:
        m.setattr(whatsapp, "CHUNK", chunk)
        assert _wa(f, partial=True) == whole
    assert len(whole[0]) == sum(1 for ln in text.split("\n") if ln[:1] in ("[", M) or ln[:2].isdigit() and " - " in ln)


def test_whatsapp_name_colon_at_line_end_is_an_empty_message(tmp_path):
    f = tmp_path / "chat.txt"
    f.write_text("13/01/2020, 10:00 - Messages and calls are end-to-end encrypted.\n"
                 "13/01/2020, 10:01 - Ann:\n13/01/2020, 10:02 - Bob: .\n13/01/2020, 10:03 - Bob: ok\n", encoding="utf-8")
    msgs, who, _ = _wa(f)
    assert [(m.sender, m.text, m.is_system) for m in msgs] == [
        ("", "Messages and calls are end-to-end encrypted.", True), ("Ann", "", False), ("Bob", ".", False),
        ("Bob", "ok", False)]
    assert who == ["Ann", "Bob"]


def test_whatsapp_header_shape_change_and_marks_late_in_the_file(tmp_path, monkeypatch):
    """The first headers all use one shape (the specialised regex); later ones another (a switch to
    the general regex), and bidi marks appear only in a later chunk (the marks-aware regex)."""
    lines = [f"13/01/2020, 10:{i % 60:02d} - Ann: line {i}" for i in range(80)]
    lines += ["1/2/21, 9:05 - Bob: short date", "a continuation", f"1/2/21, 9:06 - {M}Bob{M}: {M}marked{M}",
              "1/2/21, 9:07 - Ann: STK-20210201-WA0001.webp (file attached)"]
    f = tmp_path / "chat.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(whatsapp, "CHUNK", 512)
    msgs, who, _ = _wa(f)
    assert len(msgs) == 83
    assert (msgs[80].sender, msgs[80].text, msgs[80].time) == ("Bob", "short date\na continuation",
                                                                datetime(2021, 2, 1, 9, 5))
    assert (msgs[81].sender, msgs[81].text) == ("Bob", "marked")
    assert msgs[82].is_sticker and msgs[82].sticker.name == "STK-20210201-WA0001.webp"
    assert who == ["Ann", "Bob"]


def test_whatsapp_unreadable_time_names_its_line(tmp_path):
    f = tmp_path / "chat.txt"
    f.write_text("13/01/2020, 10:00 - Ann: hi\nmore\n13/01/2020, 25:61 - Bob: bad time\n", encoding="utf-8")
    with pytest.raises(ParseError) as err:
        _wa(f)
    assert err.value.location == "line 3" and "25:61" in err.value.message
    msgs, _, problems = _wa(f, partial=True)
    assert [m.time for m in msgs] == [datetime(2020, 1, 13, 10, 0), None] and len(problems) == 1


# --- Telegram -------------------------------------------------------------------------------------
TG_ALL = ("fixtures", "exports", "frozenspider__chat-history-manager", "telegram_2020-01", "result.json")


@pytest.mark.parametrize("indent", [None, 1, 4])
@pytest.mark.parametrize("block", [1, 7, 100])
def test_telegram_block_boundaries_change_nothing(tmp_path, monkeypatch, indent, block):
    doc = json.loads(shared_path(*TG_ALL).read_text(encoding="utf-8"))
    doc["chats"]["list"][0]["messages"][0]["id"] = 2**70  # past 64 bits: fine for JSON, and cut by blocks
    f = tmp_path / "result.json"
    f.write_text(json.dumps(doc, indent=indent, ensure_ascii=False), encoding="utf-8")
    whole = _tg(f)
    monkeypatch.setattr(telegram, "READ", block)
    monkeypatch.setattr(telegram, "_LOW", 0)
    assert _tg(f) == whole
    assert whole[0][0][2][0].source_id == str(2**70)


def test_telegram_export_all_and_single_chat_read_alike(tmp_path):
    """A chat inside 'export all data' gives the same messages as the same chat exported alone."""
    doc = json.loads(shared_path(*TG_ALL).read_text(encoding="utf-8"))
    (tmp_path / "all").mkdir()
    (tmp_path / "one").mkdir()
    (tmp_path / "all" / "result.json").write_text(json.dumps(doc), encoding="utf-8")
    chat = doc["chats"]["list"][1]
    (tmp_path / "one" / "result.json").write_text(json.dumps(chat, indent=1), encoding="utf-8")
    every, _ = _tg(tmp_path / "all" / "result.json")
    alone, _ = _tg(tmp_path / "one" / "result.json")
    assert len(every) == 4 and alone == [every[1]]
    assert len(alone[0][2]) == len(chat["messages"])


@pytest.mark.parametrize("block", [1 << 20, 1, 2, 3, 5, 7])
@pytest.mark.parametrize("shape", ["single", "all"])
def test_telegram_non_object_message_is_reported_in_both_shapes(tmp_path, monkeypatch, shape, block):
    monkeypatch.setattr(telegram, "READ", block)  # small blocks cut the number below somewhere
    monkeypatch.setattr(telegram, "_LOW", 0 if block < 10 else telegram._LOW)  # (no early top-up)
    msgs = [{"id": 1, "type": "message", "date_unixtime": "1600000000", "from": "Ann", "text": "hi"}, 123456789,
            {"id": 2, "type": "message", "date_unixtime": "1600000060", "from": "Bob", "text": "yo"}]
    chat = {"name": "C", "type": "personal_chat", "id": 7, "messages": msgs}
    doc = chat if shape == "single" else {"chats": {"list": [chat]}}
    f = tmp_path / "result.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ParseError) as err:
        _tg(f)
    assert err.value.location == "message 2"
    out, problems = _tg(f, partial=True)
    assert [m.text for m in out[0][2]] == ["hi", "yo"] and problems == ["a message is not a JSON object"]
    assert out[0][2][0].time == datetime(2020, 9, 13, 12, 26, 40)


def test_telegram_garbage_after_messages_is_refused_without_reading_on(tmp_path):
    """An invalid byte mid-file is an error at once (no buffering of the rest of a big file)."""
    head = json.dumps({"name": "B", "id": 1, "messages": [{"id": 1, "from": "A", "text": "x"}]})[:-2]
    f = tmp_path / "result.json"
    f.write_bytes(head.encode() + b", @" + b" " * (3 << 20) + b"]}")
    with pytest.raises(ParseError) as err:
        _tg(f)
    assert "invalid or truncated JSON" in err.value.message and err.value.location.startswith("message 2")
    out, problems = _tg(f, partial=True)
    assert len(out[0][2]) == 1 and any("ends early or is invalid" in p for p in problems)


def _long_chat(n: int) -> list[dict]:
    """n messages cycled from the real export-all fixture (service, stickers, entity lists)."""
    doc = json.loads(shared_path(*TG_ALL).read_text(encoding="utf-8"))
    src = [m for c in doc["chats"]["list"] for m in c["messages"]]
    out = []
    for i in range(n):
        m = dict(src[i % len(src)], id=i + 1, date_unixtime=str(1600000000 + 60 * i))
        m["text_entities"] = [{"type": "plain", "text": m["text"]}] if isinstance(m["text"], str) else []
        out.append(m)
    return out


@pytest.mark.parametrize("block", [300, 1 << 16])  # 300: most messages are longer than a block
@pytest.mark.parametrize("layout", ["tdesktop", "indent4", "one-per-line", "compact"])
@pytest.mark.parametrize("odd", [None, "big-int", "escaped-surrogate", "bad-utf8", "truncated"])
def test_telegram_block_parser_matches_the_per_message_path(tmp_path, monkeypatch, layout, odd, block):
    """Long arrays switch to whole blocks parsed by orjson; the messages, and the errors, are the
    same as the per-message stdlib path gives (which the block parser hands back to when a block
    will not parse)."""
    msgs = _long_chat(700)
    k = next(i for i in range(300, 700) if msgs[i]["type"] == "message" and isinstance(msgs[i]["text"], str))
    msgs[k]["text_entities"] = []
    if odd == "big-int":
        msgs[k]["id"] = 2**70
    elif odd == "escaped-surrogate":  # valid JSON for the stdlib, refused by orjson
        msgs[k]["text"] = "@SURROGATE@"
    elif odd == "bad-utf8":
        msgs[k]["text"] = "\ud800"  # written raw below: not UTF-8
    chats = [{"name": f"C{k}", "type": "personal_chat", "id": k, "messages": msgs[: 700 - 200 * k]} for k in range(3)]
    doc = {"personal_information": {"user_id": 1}, "chats": {"list": chats}}
    if layout == "tdesktop":
        text = json.dumps(doc, indent=1, ensure_ascii=False)
    elif layout == "indent4":
        text = json.dumps(doc, indent=4, ensure_ascii=False)
    elif layout == "compact":
        text = json.dumps(doc, ensure_ascii=False)
    else:
        text = json.dumps(doc, ensure_ascii=False).replace("}, {\"id\"", "}\n, {\"id\"")
    data = text.replace("@SURROGATE@", "\\ud800").encode("utf-8", "surrogatepass")
    if odd == "truncated":
        data = data[: len(data) * 3 // 5]
    f = tmp_path / "result.json"
    f.write_bytes(data)
    monkeypatch.setattr(telegram, "READ", 4096)  # many blocks, cut everywhere
    monkeypatch.setattr(telegram, "_BLOCK", block)
    batched = _tg(f, partial=True)
    monkeypatch.setattr(telegram, "_BATCH_AFTER", 10**9)
    assert _tg(f, partial=True) == batched
    got = [len(m) for _, _, m in batched[0]]
    if odd is None:
        assert got == [700, 500, 300]
    if odd == "big-int":
        assert batched[0][0][2][k].source_id == str(2**70)
    if odd == "escaped-surrogate":
        assert got == [700, 500, 300] and batched[0][0][2][k].text == "\ud800"
    if odd == "bad-utf8":
        assert got == [k] and "not valid UTF-8" in batched[1][0]
