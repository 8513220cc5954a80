"""Every real export under ../shared/fixtures/exports imports with exact counts.

Expected numbers were derived from the raw files with one-off grep/json scripts (header lines,
`media_type == "sticker"`, 30-minute gaps over raw timestamps), not by running these parsers.
"""

from __future__ import annotations

import pytest

from assistant.chats.store import import_path
from tests.conftest import shared_path

E = ("fixtures", "exports")
# path, chats, messages stored, sessions, sticker messages, sticker files, (sender, exact text) present
CASES = [
    ("frozenspider__chat-history-manager/telegram_2020-01", 4, 50, 39, 3, 3, ("Ddddddd Uuuuuuuu", None)),
    ("frozenspider__chat-history-manager/telegram_2021-05/result.json", 1, 3, 1, 0, 0,
     ("Eeeee Eeeeeeeeee", "Hello there!")),
    ("frozenspider__chat-history-manager/telegram_2021-06_supergroup/result.json", 1, 4, 2, 0, 0,
     ("Tttttt Yyyyyyy", "Message text with emoji 🙂")),
    ("frozenspider__chat-history-manager/telegram_2023-01/result.json", 1, 6, 5, 0, 0, None),
    ("frozenspider__chat-history-manager/telegram_2023-10_audio-video/result.json", 1, 4, 2, 0, 0,
     ("Deleted Account", "Audio file (full) message")),
    ("frozenspider__chat-history-manager/telegram_2024-01/result.json", 1, 2, 1, 0, 0,
     ("Aaaaa Aaaaaaaaaaa", "My reply to a channel post!")),
    ("frozenspider__chat-history-manager/telegram_2024-05_boosts_file-name_etc/result.json", 1, 3, 1, 1, 0, None),
    ("frozenspider__chat-history-manager/telegram_2025-02_joined_file-size/result.json", 1, 2, 1, 0, 0, None),
    ("frozenspider__chat-history-manager/whatsapp-text_2023-10/WhatsApp Chat with +123 45 6789.txt", 1, 13, 1, 1, 0,
     ("Aaaaa Aaaaaaaaaaa", "hello there!\n\nthis is a\nmulti-line message!")),
    ("mlomb__chat-analytics/tests/samples/telegram/DM_2A_7M.json", 1, 8, 7, 0, 0, ("Bob", "https://google.com 👀")),
    ("mlomb__chat-analytics/tests/samples/discord/DM_2A_2M.json", 1, 3, 3, 0, 0,
     ("Someones nickname", "something something text")),
    ("mlomb__chat-analytics/tests/samples/discord/GC_3A_5M.json", 1, 6, 3, 0, 0,
     ("theplant", "Should honor nickname over name")),
    ("mlomb__chat-analytics/tests/samples/discord/SV_5A_5M.json", 1, 4, 1, 1, 0,
     ("mlomb", "This message has attachments and stickers.")),
    ("slatinsky__DiscordChatExporter-frontend/release/exports/example_guild", 1, 1, 1, 0, 0, ("Adam", None)),
    ("mlomb__chat-analytics/tests/samples/messenger/2A_7M.json", 1, 7, 1, 1, 0, ("Bob", "Whats up!")),
    ("mlomb__chat-analytics/tests/samples/whatsapp/2A_5M.txt", 1, 5, 1, 0, 0, ("B", "Whats up?")),
    ("mlomb__chat-analytics/tests/samples/whatsapp/4A_11M.txt", 1, 14, 2, 0, 0, ("Trent", "👩🏻‍⚖️")),
    ("mlomb__chat-analytics/tests/samples/whatsapp/4A_11M.zip", 1, 14, 2, 0, 0, ("Mallory", "im still mallory")),
    ("joweich__chat-miner/test/instagram/test_export.json", 1, 2, 2, 0, 0, ("Jane Doe", "Hello John!")),
    ("joweich__chat-miner/test/signal/test_export.txt", 1, 2, 2, 0, 0, ("John Doe", "Hello\nJane!")),
    ("joweich__chat-miner/test/telegram/test_batch_export.json", 1, 2, 1, 0, 0, ("Author 2", "Link:https://telegram.org/")),
    ("joweich__chat-miner/test/telegram/test_single_export.json", 1, 2, 1, 0, 0, ("Author 1", "Minimal Message")),
    ("starkdmi__whats_json/android/WhatsApp Chat with Dmitry S EN+Media Android.txt", 1, 60, 6, 4, 0,
     ("Elon", "😊😙")),
    ("starkdmi__whats_json/calendars/Gregorian iOS.txt", 1, 25, 4, 2, 0, ("Dmitry S", "Hello World")),
    ("starkdmi__whats_json/chats_unique/WhatsApp-chat met Dmitry S.txt", 1, 41, 6, 4, 0,
     ("Dmitry S", "Pimlico Gardens\nLondon, United Kingdom\nhttps://foursquare.com/v/4e89af95e5fa82ad4c0aa03b")),
    ("starkdmi__whats_json/ios/WhatsApp Chat - Elon Musk (EN+Media).txt", 1, 25, 4, 2, 0, ("Dmitry S", "😊")),
    ("starkdmi__whats_json/ios/WhatsApp Chat - Elon Musk (RU).zip", 1, 25, 4, 2, 0, ("Dmitry Starkov", "Hello World")),
    ("starkdmi__whats_json/languages/deutch_android_media.txt", 1, 41, 6, 4, 0, ("Dmitry S", "Hello")),
    ("starkdmi__whats_json/languages/deutch_ios.txt", 1, 23, 2, 2, 0, ("Dmitry S", "Hello World")),
    ("starkdmi__whats_json/languages/english_android.txt", 1, 60, 6, 0, 0, ("Dmitry S", "One**")),
    ("starkdmi__whats_json/languages/english_android_media.txt", 1, 60, 6, 4, 0, ("Dmitry S", "<Media omitted>\nTwo videos with caption")),
    ("starkdmi__whats_json/languages/english_ios.txt", 1, 23, 2, 2, 0, ("Dmitry S", "This message is reply to another")),
    ("starkdmi__whats_json/languages/english_ios_media.txt", 1, 25, 4, 2, 0, ("Dmitry S", "Hello World")),
    ("starkdmi__whats_json/languages/french_ios.txt", 1, 23, 2, 2, 0, ("Dmitry S", "Hello World")),
    ("starkdmi__whats_json/languages/russian_ios.txt", 1, 23, 2, 2, 0, ("Dmitry S", "Hello World")),
    ("starkdmi__whats_json/languages/spanish_ios.txt", 1, 23, 2, 2, 0, ("Dmitry S", "Hello World")),
] + [(f"joweich__chat-miner/test/whatsapp/{n}", 1, 9, 9, 0, 0,
      ("John-John Doe", "Lorem ipsum : dolor sit amet.")) for n in (
    "test_[mmddyy]_24hrs.txt", "test_ddmmyy_24hrs.txt", "test_mmddyy_24hrs.txt", "test_mmddyyyy_12hrs.txt",
    "test_yyyymmdd_24hrs.txt")]


def _count(app, sql, *args):
    return app.catalog.conn.execute(sql, args).fetchone()[0]


@pytest.mark.parametrize("rel,chats,messages,sessions,stickers,files,chosen", CASES, ids=[c[0] for c in CASES])
def test_fixture_counts(app, rel, chats, messages, sessions, stickers, files, chosen):
    path = shared_path(*E, *rel.split("/"))
    report = import_path(app, path)
    assert report.ok, [str(p) for p in report.problems]
    assert report.chats == chats
    assert _count(app, "SELECT COUNT(*) FROM chats") == chats
    assert _count(app, "SELECT COUNT(*) FROM messages") == messages == report.messages_added
    assert _count(app, "SELECT COUNT(*) FROM sessions") == sessions == report.sessions
    assert _count(app, "SELECT COUNT(*) FROM messages WHERE sticker_ref_id IS NOT NULL") == stickers
    assert report.sticker_messages == stickers and report.stickers_with_files == files
    assert _count(app, "SELECT COUNT(*) FROM messages WHERE session_id IS NULL") == 0
    if chosen:
        sender, text = chosen
        if text is None:
            assert _count(app, "SELECT COUNT(*) FROM messages WHERE sender=?", sender) > 0
        else:
            assert _count(app, "SELECT COUNT(*) FROM messages WHERE sender=? AND text=?", sender, text) >= 1
    again = import_path(app, path)
    assert again.messages_added == 0
    assert _count(app, "SELECT COUNT(*) FROM messages") == messages
    assert _count(app, "SELECT COUNT(*) FROM sessions") == sessions


def test_whole_exports_folder(app):
    """Dropping the whole fixtures folder imports every export in it and names what it skipped."""
    root = shared_path(*E)
    report = import_path(app, root)
    assert report.chats == sum(c[1] for c in CASES)
    # Parsed messages: every case's stored count, plus the one message SV_5A_5M.json repeats verbatim.
    assert report.messages == sum(c[2] for c in CASES) + 1
    # Overlapping Telegram exports of the same chat id (123123123) share message ids: stored once.
    assert _count(app, "SELECT COUNT(*) FROM messages") == report.messages_added < report.messages
    skipped = {p.file.rsplit("/", 1)[-1] for p in report.problems}
    assert {"target.json", "README.txt", "dont_copy_me.txt"} <= skipped
    assert all(not p.fatal for p in report.problems)
    assert any("Android exports without media" in n for n in report.notes)


def test_telegram_stickers_identity_and_me(app):
    path = shared_path(*E, "frozenspider__chat-history-manager", "telegram_2020-01")
    import_path(app, path)
    rows = app.catalog.conn.execute("SELECT id_kind, emoji, sticker_id FROM sticker_refs ORDER BY emoji").fetchall()
    assert sorted((r[0], r[1]) for r in rows) == sorted([("sha256", "👍"), ("sha256", "😆"), ("sha256", "🍖")])
    assert all(r[2] is not None for r in rows)  # the .webp files went to the library
    assert _count(app, "SELECT COUNT(*) FROM stickers") == 3
    # personal_information.user_id identifies the user; the thumbnail named .jpg is not needed.
    assert _count(app, "SELECT COUNT(*) FROM messages WHERE is_me=1 AND sticker_ref_id IS NOT NULL") == 2
    assert _count(app, "SELECT COUNT(*) FROM participants WHERE is_me=1") == 2


def test_emoji_only_and_platform_refs(app):
    import_path(app, shared_path(*E, "frozenspider__chat-history-manager", "telegram_2024-05_boosts_file-name_etc"))
    import_path(app, shared_path(*E, "mlomb__chat-analytics", "tests", "samples", "discord", "SV_5A_5M.json"))
    import_path(app, shared_path(*E, "mlomb__chat-analytics", "tests", "samples", "messenger", "2A_7M.json"))
    refs = {r[0]: (r[1], r[2]) for r in app.catalog.conn.execute("SELECT platform, id_kind, key FROM sticker_refs")}
    assert refs["telegram"] == ("emoji", "emoji:😱")
    assert refs["discord"] == ("platform", "809207919115239525")
    assert refs["messenger"] == ("platform", "123123123123123.png")
