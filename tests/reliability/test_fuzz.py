"""Fuzz every chat importer and the pasted-conversation parser (hypothesis).

Each importer's `parse(path, ctx)` is fed files built three ways: raw bytes, a valid seed export
damaged (bytes flipped, spans cut, random text spliced in), and, for the JSON formats, structurally
valid JSON whose message fields hold values of every JSON type. The chats it yields are consumed to
the end (that is where the messages are read), strict and partial. The only allowed outcomes are
parsed chats or the importer's own `ParseError`; problems recorded with partial=True are
`ImportProblem`s. `plaintext.parse` must never raise at all.

`tests/benchmarks/bench_fuzz.py` runs the same targets with a bigger budget (`TARGETS`, `run_target`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.chats import plaintext
from assistant.chats.base import ParseContext, ParseError
from assistant.chats.store import importer_for
from assistant.domain import ImportProblem

N = int(os.environ.get("FUZZ_N", "60"))

# --- valid seeds, one per importer (small files in each exporter's layout) ------------------------
_TG_MSGS = [
    {"id": 1, "type": "message", "date": "2021-01-01T10:00:00", "date_unixtime": "1609495200", "from": "Ann",
     "from_id": "user1", "text": "hi", "text_entities": [{"type": "plain", "text": "hi"}]},
    {"id": 2, "type": "message", "date": "2021-01-01T10:01:00", "from": "Bob", "from_id": "user2",
     "file": "stickers/s.webp", "thumbnail": "stickers/s.webp_thumb.jpg", "media_type": "sticker",
     "sticker_emoji": "😀", "width": 512, "height": 512, "text": ""},
    {"id": 3, "type": "service", "date": "2021-01-01T10:02:00", "actor": "Ann", "action": "pin_message",
     "text": ["see ", {"type": "link", "text": "http://x"}]},
]
_SEEDS: dict[str, tuple[str, bytes]] = {
    "telegram": ("result.json", json.dumps({"name": "Bob", "type": "personal_chat", "id": 9,
                                            "messages": _TG_MSGS}).encode()),
    "telegram-all": ("result.json", json.dumps({
        "personal_information": {"user_id": 1, "first_name": "Ann"},
        "chats": {"list": [{"name": "Bob", "type": "personal_chat", "id": 9, "messages": _TG_MSGS},
                           {"name": None, "type": "personal_chat", "id": 10, "messages": _TG_MSGS[:1]}]}}).encode()),
    "whatsapp": ("WhatsApp Chat with Bob.txt", (
        "12/01/2021, 10:00 - Messages and calls are end-to-end encrypted.\n"
        "12/01/2021, 10:00 - Ann: hi\n12/01/2021, 10:01 - Bob: two\nlines\n"
        "13/01/2021, 22:15 - Bob: STK-20210113-WA0001.webp (file attached)\n"
        "[13/01/2021, 22:16:00] Ann: \u200e<Media omitted>\n").encode()),
    "discord": ("dc.json", json.dumps({
        "guild": {"name": "Direct Messages"}, "channel": {"id": "5", "name": "bob", "type": "DirectTextChat"},
        "messages": [{"id": "1", "type": "Default", "timestamp": "2021-01-01T10:00:00+00:00",
                      "author": {"name": "ann", "nickname": "Ann"}, "content": "hi", "reference": {},
                      "stickers": [{"id": "7", "name": "wave", "format": "Png", "sourceUrl": "s/7.png"}]},
                     {"id": "2", "type": "Reply", "timestamp": "2021-01-01T10:00:05.123+02:00",
                      "author": {"name": "bob"}, "content": "yo", "reference": {"messageId": "1"},
                      "attachments": [{"url": "a.png"}]}]}).encode()),
    "messenger": ("message_1.json", json.dumps({
        "participants": [{"name": "Ann"}, {"name": "Bob"}], "title": "Bob", "thread_path": "inbox/bob_1",
        "messages": [{"sender_name": "Bob", "timestamp_ms": 1609495260000, "content": "Ã©tÃ©"},
                     {"sender_name": "Ann", "timestamp_ms": 1609495200000,
                      "sticker": {"uri": "messages/stickers_used/x.png"}},
                     {"sender_name": "Ann", "timestamp_ms": 1609495100000, "photos": [{"uri": "p.jpg"}]}]}).encode()),
    "signal-jsonl": ("data.json", "\n".join(json.dumps(o) for o in [
        {"date": "2021-01-01 10:00:00", "sender": "Ann", "body": "hi"},
        {"date": "2021-01-01 10:01:00", "sender": "Bob", "body": "",
         "sticker": {"packId": "abc", "id": 3, "emoji": "😀", "extension": "webp"}},
        {"date": "2021-01-01 10:02:00", "sender": "Bob", "body": "x", "attachments": [{"name": "f"}]}]).encode()),
    "signal-md": ("chat.md", (
        "[2021-01-01 10:00] Ann: hi\n[2021-01-01 10:01] Bob: ![😀](./stickers/abc/3.webp)\n"
        "[2021-01-01 10:02] Bob: two\nlines\n(- ❤️ by Ann)\n").encode()),
    "line": ("[LINE] Chat with Bob.txt", (
        "[LINE] Chat history with Bob\nSaved on: 2024/01/15 10:30\n\n2024/01/15(Mon)\n"
        "10:00\tAnn\tHello\n10:01\tBob\t[Sticker]\n10:02\tAnn\t\"multi\nline\"\n2024/01/16(Tue)\n09:00\tBob\tx\n"
    ).encode()),
}


def _wechat_seed() -> bytes:
    xml = '<msg><emoji md5="71ce49ed3ce9e57e43e07f802983bf45" productid="p1" width="240"></emoji></msg>'
    rows = [["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime"],
            ["1", "1", "1", "0", "0", "1700000000", "2", "你好", "2023-11-14 22:13:20"],
            ["2", "1", "47", "0", "1", "1700000070", "2", xml, "2023-11-14 22:14:30"]]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


_SEEDS["wechat"] = ("Bob_utf8.csv", _wechat_seed())
_FORMAT = {"telegram-all": "telegram", "signal-jsonl": "signal", "signal-md": "signal"}

# --- strategies ---------------------------------------------------------------------------------
_json_scalar = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
                | st.text(max_size=30) | st.sampled_from(["", "2021-01-01T10:00:00", "1609495200", "sticker",
                                                         "message", "../../etc/passwd", "/abs/x.webp",
                                                         "9" * 30, "\x00", "<a href='x'>y</a>"]))
json_values = st.recursive(_json_scalar, lambda kids: st.lists(kids, max_size=4)
                           | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)

_KEYS = {
    "telegram": ["id", "type", "date", "date_unixtime", "from", "from_id", "actor", "text", "text_entities",
                 "file", "thumbnail", "media_type", "sticker_emoji", "photo", "width", "height",
                 "reply_to_message_id", "forwarded_from", "mime_type", "edited"],
    "discord": ["id", "type", "timestamp", "author", "content", "reference", "stickers", "attachments"],
    "messenger": ["sender_name", "timestamp_ms", "content", "sticker", "photos", "is_unsent", "videos",
                  "audio_files", "gifs", "files"],
    "signal-jsonl": ["date", "sender", "body", "sticker", "attachments", "deleted"],
}


def _message(keys: list[str]):
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=8) | json_values


def _structured(target: str):
    """Valid JSON with the format's top-level shape and fuzzed values in every message field."""
    msgs = st.lists(_message(_KEYS[target]), max_size=5)
    if target == "telegram":
        chat = st.fixed_dictionaries({"messages": msgs}, optional={"name": json_values, "type": json_values,
                                                                   "id": json_values})
        doc = chat | st.fixed_dictionaries({"chats": st.fixed_dictionaries({"list": st.lists(chat, max_size=3)})},
                                           optional={"personal_information": json_values})
    elif target == "discord":
        doc = st.fixed_dictionaries({"channel": json_values, "messages": msgs}, optional={"guild": json_values})
    elif target == "messenger":
        doc = st.fixed_dictionaries({"messages": msgs}, optional={"participants": json_values,
                                                                   "title": json_values,
                                                                   "thread_path": json_values})
    else:  # signal data.json is JSON lines
        return st.lists(_message(_KEYS[target]), max_size=6).map(
            lambda rows: "\n".join(json.dumps(r) for r in rows).encode())
    return doc.map(lambda d: json.dumps(d).encode())


def _damaged(target: str):
    """The seed with bytes overwritten, spans cut and random text spliced in."""
    seed = _SEEDS[target][1]
    edit = st.tuples(st.sampled_from(["set", "cut", "insert"]), st.integers(0, len(seed)), st.integers(0, 255),
                     st.text(max_size=20))

    def apply(edits):
        data = bytearray(seed)
        for op, pos, byte, text in edits:
            pos = pos % (len(data) + 1)
            if op == "set" and data:
                data[min(pos, len(data) - 1)] = byte
            elif op == "cut":
                del data[pos:pos + byte % 40]
            else:
                data[pos:pos] = text.encode("utf-8", "surrogatepass")
        return bytes(data)

    return st.lists(edit, min_size=1, max_size=6).map(apply)


def inputs(target: str):
    """Every input strategy for one importer target."""
    parts = [st.binary(max_size=400), _damaged(target)]
    if target in ("telegram", "discord", "messenger", "signal-jsonl"):
        parts.append(_structured(target))
    return st.one_of(*parts)


# --- the property -------------------------------------------------------------------------------
@dataclass
class Outcome:
    parsed: int = 0  # runs that yielded every chat and message
    refused: int = 0  # runs that ended in the importer's ParseError


def consume(target: str, data: bytes, partial: bool) -> str:
    """Feed `data` to the target's importer as its usual file name; 'parsed' or 'refused', or raise."""
    name, _ = _SEEDS[target]
    with tempfile.TemporaryDirectory(prefix="fuzz-") as td:
        path = Path(td) / name
        path.write_bytes(data)
        ctx = ParseContext(path, partial=partial)
        try:
            for pc in importer_for(_FORMAT.get(target, target)).parse(path, ctx):
                for _msg in pc.messages:
                    pass
        except ParseError as exc:
            assert exc.file and exc.message, "a ParseError must name the file and the problem"
            return "refused"
        assert all(isinstance(p, ImportProblem) and p.message for p in ctx.problems)
        return "parsed"


TARGETS: dict[str, tuple[Callable[[], object], Callable[[object], str]]] = {
    t: (lambda t=t: st.tuples(inputs(t), st.booleans()),
        lambda arg, t=t: consume(t, arg[0], arg[1])) for t in _SEEDS
}


def _paste(text: str) -> str:
    out = plaintext.parse(text)
    assert isinstance(out, list)
    return "parsed"


_PASTE_LINES = st.sampled_from([
    "12/01/2021, 10:00 - Ann: hi", "[12/01/2021, 10:00:00] Bob: yo", "Ann, [01.01.21 10:00]", "Ann — 01/01/2021 10:00",
    "Ann 2021-01-01 10:00:00", "Ann: hi", "", "\r", "\ufeff", "\u202e", "<b>x</b>"])
TARGETS["plaintext"] = (lambda: st.text(max_size=300) | st.lists(_PASTE_LINES | st.text(max_size=20), max_size=12)
                        .flatmap(lambda ls: st.sampled_from(["\n", "\r\n", "\r"]).map(lambda sep: sep.join(ls))),
                        _paste)


_APP = None


def _app():
    """One App on a throw-away data dir for the end-to-end target (made on first use)."""
    global _APP
    if _APP is None:
        import atexit
        import shutil

        from assistant.app import App

        d = tempfile.mkdtemp(prefix="fuzz-app-")
        _APP = App(data_dir=Path(d) / "data")
        atexit.register(shutil.rmtree, d, True)
    return _APP


def _through_store(arg) -> str:
    """The whole import path (detect, importer, store) on one input: a report, never an exception."""
    from assistant.chats.store import import_path
    from assistant.domain import ImportReport

    (target, data), partial = arg
    app = _app()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as td:
        path = Path(td) / _SEEDS[target][0]
        path.write_bytes(data)
        rep = import_path(app, path, partial=partial)
    assert isinstance(rep, ImportReport)
    assert all(isinstance(p, ImportProblem) and p.message for p in rep.problems)
    if rep.ok:
        return "parsed"
    assert any(p.fatal for p in rep.problems) or rep.messages
    return "refused"


TARGETS["import_path"] = (lambda: st.tuples(st.sampled_from(sorted(_SEEDS)).flatmap(
    lambda t: inputs(t).map(lambda d: (t, d))), st.booleans()), _through_store)


def run_target(name: str, examples: int, seed: int | None = None) -> tuple[int, list[str]]:
    """Run one target for `examples` inputs; (executions, distinct crash signatures) for the benchmark."""
    strategy_fn, check = TARGETS[name]
    runs = 0
    crashes: dict[str, str] = {}

    @settings(max_examples=examples, deadline=None, database=None, derandomize=seed is not None,
              suppress_health_check=list(HealthCheck))
    @given(strategy_fn())
    def prop(arg):
        nonlocal runs
        runs += 1
        try:
            check(arg)
        except Exception as exc:  # noqa: BLE001 - the benchmark counts them
            tb = traceback.extract_tb(exc.__traceback__)[-1]
            crashes.setdefault(f"{type(exc).__name__} at {Path(tb.filename).name}:{tb.lineno}", repr(arg)[:200])

    prop()
    return runs, sorted(crashes)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzz_target(target):
    strategy_fn, check = TARGETS[target]

    @settings(max_examples=N, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy_fn())
    def prop(arg):
        assert check(arg) in ("parsed", "refused")

    prop()


def test_store_stays_consistent_after_fuzzing():
    """After the end-to-end target ran, the catalog it wrote into is intact."""
    if _APP is None:
        _through_store((("telegram", _SEEDS["telegram"][1]), False))
    assert _APP.catalog.integrity_check() == "ok"
    fk = _APP.catalog.conn.execute("PRAGMA foreign_key_check").fetchall()
    assert fk == []


@pytest.mark.parametrize("target", sorted(_SEEDS))
def test_seeds_parse(target):
    """The seeds are valid exports: the fuzzer starts from inputs that reach the message code."""
    assert consume(target, _SEEDS[target][1], False) == "parsed"


@pytest.mark.parametrize("target, data", [
    ("discord", b'{"channel": 5, "guild": [], "messages": [{"author": 1, "reference": true, "type": [1], '
                b'"stickers": [{"name": {"a": 1}}]}]}'),
    ("messenger", b'{"participants": 5, "messages": [{"timestamp_ms": 1e300}, {"timestamp_ms": -100000000000000000000}]}'),
    ("telegram", b'{"name": "B", "id": 2, "messages": [{"id": 1, "text": "caf\xe9"}]}'),
    ("telegram-all", b'{"chats": {"list": [{"name": "B", "id": 2, "messages": [{"id": 1, "text": "caf\xe9"}]}]}}'),
], ids=["discord-types", "messenger-timestamps", "telegram-utf8", "telegram-all-utf8"])
def test_crashes_the_fuzzer_found_stay_fixed(target, data):
    """Inputs that once raised AttributeError/TypeError/OverflowError/UnicodeDecodeError."""
    for partial in (False, True):
        assert consume(target, data, partial) in ("parsed", "refused")
