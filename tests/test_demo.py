"""Demo data: drawn deterministically, seeded once, and the first run prints real suggestions."""

from __future__ import annotations

import hashlib

from assistant import demo


def test_stickers_are_distinct_and_deterministic(tmp_path):
    specs, notes = demo.available_stickers()
    assert len(specs) >= 20
    a = demo.write_stickers(tmp_path / "a", specs)
    b = demo.write_stickers(tmp_path / "b", specs)
    sha_a = {n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in a.items()}
    sha_b = {n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in b.items()}
    assert sha_a == sha_b  # same bytes every run: the demo chat's stickers resolve to the library's
    assert len(set(sha_a.values())) == len(specs)
    assert {s.pack for s in specs} >= {"Demo Blobs"}


def test_english_only_with_a_note_when_no_cjk_font(monkeypatch):
    monkeypatch.setattr(demo, "cjk_font_path", lambda: None)
    specs, notes = demo.available_stickers()
    assert specs and not any(s.cjk for s in specs)
    assert notes and "CJK" in notes[0]


def test_seeding_is_idempotent(app):
    first = demo.seed_demo(app, describe=False)
    assert first.seeded and first.stickers >= 20 and first.messages > 40
    counts = {t: app.catalog.count(t) for t in ("stickers", "messages", "chats", "sticker_refs")}
    again = demo.seed_demo(app, describe=False)
    assert not again.seeded and again.notes
    assert {t: app.catalog.count(t) for t in counts} == counts
    forced = demo.seed_demo(app, describe=False, force=True)
    assert forced.seeded and forced.stickers == 0 and forced.messages == 0
    assert {t: app.catalog.count(t) for t in counts} == counts
    # The demo chat's sticker messages resolved to the drawn stickers, sent by the user.
    sent = app.catalog.conn.execute(
        "SELECT COUNT(*) FROM messages m JOIN sticker_refs r ON m.sticker_ref_id=r.id "
        "WHERE r.sticker_id IS NOT NULL AND m.is_me=1").fetchone()[0]
    assert sent >= 15
    assert all(s.emoji for s in app.catalog.stickers())


def test_cli_demo_then_suggest_prints_ranked_files(data_dir, capsys):
    from assistant import cli

    assert cli.main(["--data-dir", str(data_dir), "demo", "--no-ocr"]) == 0
    capsys.readouterr()
    assert cli.main(["--data-dir", str(data_dir), "suggest", "Sam: I fixed your bike for you\n"
                     "Sam: the brakes work again", "-k", "3"]) == 0
    out = capsys.readouterr().out
    ranked = [ln for ln in out.splitlines() if ln[:3].strip().rstrip(".").isdigit()]
    assert len(ranked) == 3, out
    assert all(".webp" in ln and str(data_dir) in ln for ln in ranked)
    assert "Off right now" in out
    assert cli.main(["--data-dir", str(data_dir), "suggest", "--json", "Sam: lol that joke"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["suggestions"] and data["suggestions"][0]["reasons"]


def test_first_run_seeds_and_prints(app):
    from assistant.first_run import first_run

    lines: list[str] = []
    assert first_run(app, out=lines.append) == 0
    text = "\n".join(lines)
    assert "Suggested stickers:" in text and ".webp" in text
    assert "xvfb-run" in text
    assert app.catalog.count("stickers") >= 20
