"""What the user's past sticker sends are keyed by: the messages before each send *in its session*
(IGSR: the context of a sticker at position k is utterances 1..k−1 of that session), for the
preference memory and for the history dataset that `train --from-history` and `eval --from-history`
use. A context that ran on into the previous session tied the demo's angry sticker to "good night!"."""

from __future__ import annotations


def test_context_stays_inside_the_session(demo_app):
    from assistant.chats.sessions import context_before, sticker_sends

    conn = demo_app.catalog.conn
    sends = sticker_sends(conn)
    assert sends and all(s["sticker_id"] is not None for s in sends)
    assert [(s["time"], s["id"]) for s in sends] == sorted((s["time"], s["id"]) for s in sends)
    assert len({s["session_id"] for s in sends}) > 3  # the demo chat has many sessions
    crossed = 0
    for send in sends:
        ctx = context_before(conn, send, 6)
        session_of = {r["id"]: r["session_id"] for r in conn.execute(
            "SELECT id, session_id FROM messages WHERE chat_id=?", (send["chat_id"],))}
        times = [r["time"] for r in ctx]
        assert times == sorted(times)  # oldest first
        same = conn.execute("SELECT COUNT(*) FROM messages WHERE session_id=? AND is_system=0 AND "
                            "(time < ? OR (time = ? AND id < ?))",
                            (send["session_id"], send["time"], send["time"], send["id"])).fetchone()[0]
        assert len(ctx) == min(6, same)
        chat_wide = conn.execute("SELECT COUNT(*) FROM messages WHERE chat_id=? AND is_system=0 AND "
                                 "(time < ? OR (time = ? AND id < ?))",
                                 (send["chat_id"], send["time"], send["time"], send["id"])).fetchone()[0]
        crossed += min(6, chat_wide) > len(ctx)
        assert all(session_of[r["id"]] == send["session_id"] for r in ctx)
    assert crossed > 0  # some sends come early in their session: the old chat-wide query crossed over


def test_preference_memory_keys_are_session_contexts(demo_app):
    from assistant.ml.preference import PreferenceMemory
    from assistant.ml.features import context_text

    mem = PreferenceMemory.from_catalog(demo_app)
    angry = [s for s in demo_app.catalog.stickers() if (s.ocr_text or "").replace(" ", "").upper() == "SOANGRY"]
    assert angry
    # Its send follows "the train is cancelled again" in a new session, a day after "good night!".
    i = mem.values.index(angry[0].id)
    q = demo_app.embedder.query([context_text(["the train is cancelled again", "I'll be an hour late, sorry"])])[0]
    night = demo_app.embedder.query([context_text(["going to sleep now, long day tomorrow", "good night!"])])[0]
    assert float(mem.keys[i] @ q) > 0.97  # keyed by its own session's words...
    assert float(mem.keys[i] @ night) < float(mem.keys[i] @ q) - 0.05  # ...not by last night's
    from assistant.eval.dataset import from_history

    ds = from_history(demo_app, test_frac=0.0, min_samples=4)
    for sample in ds.samples:
        texts = " ".join(t.text for t in sample.context)
        if sample.sticker == str(angry[0].id):
            assert "good night" not in texts and "train is cancelled" in texts


def test_naming_yourself_adds_that_senders_sends_and_keeps_your_own(demo_app):
    """"Me" in the window names a sender to count as the user (an export that names no owner); the
    export's own account (is_me) stays the user whatever name is picked: someone called Alex in the
    demo chat who picks "Sam", their name in another export, must not lose Alex's sends."""
    from assistant.chats.sessions import sticker_sends

    conn = demo_app.catalog.conn
    own = sticker_sends(conn)
    assert own and {r["sender"] for r in own} == {"Alex"}
    assert [r["id"] for r in sticker_sends(conn, "Sam")] == [r["id"] for r in own]  # Sam sent none yet
    last = conn.execute("SELECT * FROM messages WHERE id=?", (own[-1]["id"],)).fetchone()
    with demo_app.catalog.transaction() as tx:
        tx.execute("INSERT INTO messages(chat_id, session_id, dedupe_key, time, sender, is_me, sticker_ref_id)"
                   " VALUES(?,?,?,?,?,?,?)", (last["chat_id"], last["session_id"], "sam-sticker", last["time"] + 1,
                                              "Sam", 0, last["sticker_ref_id"]))
    named = sticker_sends(conn, "Sam")
    assert len(named) == len(own) + 1 and named[-1]["sender"] == "Sam"
    assert len(sticker_sends(conn)) == len(own)  # without a name: the account's own sends only
