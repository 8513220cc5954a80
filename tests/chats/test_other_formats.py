"""WeChat (MemoTrace CSV), LINE .txt and signal-export data.json: no real fixtures exist in ../shared
for these, so the inputs are small files written here in each exporter's documented layout."""

from __future__ import annotations

import json

from assistant.chats.store import import_path


def test_wechat_csv_stickers_by_md5(app, tmp_path):
    f = tmp_path / "Alice_utf8.csv"
    xml = ('<msg><emoji fromusername="wxid_a" md5="71ce49ed3ce9e57e43e07f802983bf45" '
           'productid="com.tencent.xin.emoticon.person.stiker_1" width="240" height="240"></emoji></msg>')
    rows = [["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status", "StrContent", "StrTime"],
            ["1", "1", "1", "0", "0", "1700000000", "2", "你好", "2023-11-14 22:13:20"],
            ["2", "1", "1", "0", "1", "1700000060", "2", "hi!", "2023-11-14 22:14:20"],
            ["3", "1", "47", "0", "1", "1700000070", "2", xml, "2023-11-14 22:14:30"],
            ["4", "1", "3", "0", "0", "1700009000", "2", "", "2023-11-15 00:43:20"]]
    import csv

    with open(f, "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    rep = import_path(app, f)
    assert rep.ok and rep.format == "wechat"
    assert (rep.messages, rep.sessions, rep.sticker_messages) == (4, 2, 1)
    ref = app.catalog.conn.execute("SELECT key, id_kind, pack FROM sticker_refs").fetchone()
    assert tuple(ref) == ("71ce49ed3ce9e57e43e07f802983bf45", "platform", "com.tencent.xin.emoticon.person.stiker_1")
    me = app.catalog.conn.execute("SELECT COUNT(*) FROM messages WHERE is_me=1").fetchone()[0]
    assert me == 2
    assert import_path(app, f).messages_added == 0


def test_line_txt(app, tmp_path):
    f = tmp_path / "[LINE] Chat with Alice.txt"
    f.write_text("[LINE] Chat history with Alice\nSaved on: 2024/01/15 10:30\n\n2024/01/15(Mon)\n"
                 "10:00\tAlice\tHello\n10:01\tBob\t[Sticker]\n10:02\tAlice\t[Photo]\n"
                 "2024/01/16(Tue)\n09:00\tBob\tsecond\nline\n", encoding="utf-8")
    rep = import_path(app, f)
    assert rep.ok and rep.format == "line"
    assert (rep.messages, rep.sessions, rep.sticker_messages) == (4, 2, 1)
    assert app.catalog.conn.execute("SELECT text FROM messages WHERE sender='Bob' ORDER BY time DESC").fetchone()[0] \
        == "second\nline"


def test_signal_data_json_with_exported_stickers(app, tmp_path):
    chat = tmp_path / "out" / "Alice"
    chat.mkdir(parents=True)
    pack = tmp_path / "out" / "exported_stickers" / "packabc"
    pack.mkdir(parents=True)
    from PIL import Image

    Image.new("RGBA", (64, 64), (255, 0, 0, 255)).save(pack / "3.webp")
    (pack / "data.json").write_text(json.dumps({"title": "Red pack", "stickers": {"3": {"emoji": "🔴"}}}))
    lines = [{"date": "2024-05-01T12:00:00", "sender": "Alice", "body": "hey", "sticker": None},
             {"date": "2024-05-01T12:01:00", "sender": "Me", "body": "",
              "sticker": {"id": "3", "packId": "packabc", "packKey": "k", "emoji": "🔴", "extension": "webp"}}]
    (chat / "data.json").write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    rep = import_path(app, tmp_path / "out", me="Me")
    assert rep.ok and rep.format == "signal"
    assert (rep.messages, rep.sessions, rep.sticker_messages, rep.stickers_with_files) == (2, 1, 1, 1)
    row = app.catalog.conn.execute("SELECT key, pack, sticker_id FROM sticker_refs").fetchone()
    assert row[0] == "packabc:3" and row[1] == "Red pack" and row[2] is not None


def test_signal_chat_md_stickers(app, tmp_path):
    chat = tmp_path / "Bob"
    chat.mkdir()
    (chat / "chat.md").write_text(
        "[2024-05-01 12:00:00] Bob: morning\nsecond line\n(- Ann: 👍 -)\n"
        "[2024-05-01 12:01:00] Ann: [🐺](../exported_stickers/pk1/7.webp)\n"
        "[2024-05-01 12:02:00] Bob: (( sticker ))\n", encoding="utf-8")
    rep = import_path(app, chat / "chat.md")
    assert rep.ok and rep.format == "signal"
    assert (rep.messages, rep.sticker_messages, rep.stickers_with_files) == (3, 2, 0)
    keys = sorted(r[0] for r in app.catalog.conn.execute("SELECT key FROM sticker_refs"))
    assert keys == ["none", "pk1:7"]
    assert app.catalog.conn.execute("SELECT text FROM messages WHERE sender='Bob' AND text != ''").fetchone()[0] \
        == "morning\nsecond line"


def test_messenger_mojibake_and_order(app, tmp_path):
    thread = tmp_path / "messages" / "inbox" / "ann_123"
    thread.mkdir(parents=True)
    sticker = tmp_path / "messages" / "stickers_used" / "369239263222822.png"
    sticker.parent.mkdir(parents=True)
    from PIL import Image

    Image.new("RGBA", (32, 32), (0, 0, 255, 255)).save(sticker)
    data = {"participants": [{"name": "Ann"}, {"name": "Zo\u00c3\u00ab"}], "title": "Ann",
            "thread_path": "inbox/ann_123",
            "messages": [{"sender_name": "Zo\u00c3\u00ab", "timestamp_ms": 1415147300000,
                          "sticker": {"uri": "messages/stickers_used/369239263222822.png"}},
                         {"sender_name": "Ann", "timestamp_ms": 1415147254275, "content": "\u00f0\u009f\u0098\u0086 ok"}]}
    (thread / "message_1.json").write_text(json.dumps(data), encoding="utf-8")
    rep = import_path(app, thread / "message_1.json", me="Zoë")
    assert rep.ok and (rep.messages, rep.sticker_messages, rep.stickers_with_files, rep.stickers_added) == (2, 1, 1, 1)
    rows = app.catalog.conn.execute("SELECT sender, text, is_me FROM messages ORDER BY time").fetchall()
    assert [tuple(r) for r in rows] == [("Ann", "😆 ok", 0), ("Zoë", "", 1)]


def test_telegram_thumbnail_with_webp_bytes_is_used_when_file_missing(app, tmp_path, shared):
    import shutil

    src = shared("fixtures", "exports", "frozenspider__chat-history-manager", "telegram_2020-01")
    dst = tmp_path / "export"
    shutil.copytree(src, dst)
    (dst / "chats" / "chat_02" / "stickers" / "sticker (8).webp").unlink()
    rep = import_path(app, dst)
    assert rep.sticker_messages == 3 and rep.stickers_with_files == 3
    assert app.catalog.count("stickers") == 3  # the .jpg-named thumbnail decoded as the WebP it is


def test_times_with_no_zone_are_shown_as_written_and_zoned_ones_in_this_machines_zone(app, tmp_path, shanghai_time):
    """A LINE export writes the phone's wall clock with no zone: 10:00 must read 10:00 whatever zone this
    machine is in. A WeChat CreateTime is a unix time: it reads in this machine's zone. A WeChat row
    with only its StrTime is a wall clock again, and marks its chat."""
    import csv
    from datetime import datetime

    from assistant.chats.store import shown_time

    line = tmp_path / "[LINE] Chat with Alice.txt"
    line.write_text("[LINE] Chat history with Alice\n\n2024/01/15(Mon)\n10:00\tAlice\tHello\n", encoding="utf-8")
    assert import_path(app, line).ok
    def wechat_row(name: str, create_time: str) -> None:  # one text message, StrTime 2023-11-14 22:13:20
        with open(tmp_path / f"{name}_utf8.csv", "w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows([["localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime", "Status",
                                       "StrContent", "StrTime"],
                                      ["1", "1", "1", "0", "0", create_time, "2", "hi", "2023-11-14 22:13:20"]])
        assert import_path(app, tmp_path / f"{name}_utf8.csv").ok

    wechat_row("Zoe", "1700000000")
    rows = {r["name"]: (r["local_times"], r["time"]) for r in app.catalog.conn.execute(
        "SELECT c.name, c.local_times, m.time FROM chats c JOIN messages m ON m.chat_id = c.id")}
    local, t = rows["Alice"]
    assert local == 1 and shown_time(t, bool(local)) == datetime(2024, 1, 15, 10, 0)
    local, t = rows["Zoe"]
    assert local == 0 and t == 1700000000
    assert shown_time(t, bool(local)) == datetime(2023, 11, 15, 6, 13, 20)  # 22:13:20 UTC is 06:13 in Shanghai
    wechat_row("Yan", "")  # no CreateTime: only the zoneless StrTime
    local, t = app.catalog.conn.execute("SELECT c.local_times, m.time FROM chats c JOIN messages m "
                                        "ON m.chat_id = c.id WHERE c.name = 'Yan'").fetchone()
    assert local == 1 and shown_time(t, True) == datetime(2023, 11, 14, 22, 13, 20)
    # an old Telegram export has only the local `date`: its chat is marked too; a new one is not
    for name, extra in (("Old", {}), ("New", {"date_unixtime": "1705312800"})):
        export = tmp_path / f"{name}.json"
        export.write_text(json.dumps({"name": name, "type": "personal_chat", "id": len(name) + ord(name[0]),
                                      "messages": [{"id": 1, "type": "message", "date": "2024-01-15T10:00:00",
                                                    "from": name, "from_id": "user9", "text": "hi", **extra}]}),
                          encoding="utf-8")
        assert import_path(app, export).ok
    marked = dict(app.catalog.conn.execute("SELECT name, local_times FROM chats WHERE platform = 'telegram'"))
    assert marked == {"Old": 1, "New": 0}
