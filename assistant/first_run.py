"""The first run, in the terminal: seed the demo data when the library is empty, show suggestions for
a demo conversation, say which features are off, and how to open the window.

`sticker-assistant launch` (what `make run` calls) runs this when there is no display; the GUI calls
`seed_if_empty` before opening its window.
"""

from __future__ import annotations

from collections.abc import Callable

from assistant.jobs import TerminalProgress


def seed_if_empty(app, out: Callable[[str], None] = print) -> bool:
    """Seed the demo data when the catalog has no stickers; returns whether it seeded."""
    from assistant.demo import seed_demo

    if app.catalog.count("stickers") > 0:
        return False
    out("Your library is empty: adding the demo sticker pack and demo chat (drawn by this app).")
    bar = TerminalProgress("demo")
    try:
        report = seed_demo(app, progress=bar)
    finally:
        bar.close()
    out(f"Demo ready: {report.stickers} stickers, {report.messages} chat messages, "
        f"{report.described} stickers read.")
    for note in report.notes:
        out(f"  note: {note}")
    return report.seeded


def first_run(app, out: Callable[[str], None] = print) -> int:
    from assistant.commands.suggest import print_suggestions
    from assistant.demo import demo_conversation
    from assistant.retrieval.suggest import for_app

    seed_if_empty(app, out)
    text = demo_conversation()
    out("\nA demo conversation:")
    for line in text.strip().splitlines():
        out(f"  {line}")
    suggester = for_app(app)
    suggestions = suggester.suggest(text, k=5)
    out("\nSuggested stickers:")
    print_suggestions(suggestions, out)
    off = suggester.features_off()
    if off:
        out("\nOff right now:")
        for line in off:
            out(f"  - {line}")
    out("\nTry your own: sticker-assistant suggest \"Sam: that was hilarious\"  (or -f chat.txt, or stdin)")
    out("Import your chats: sticker-assistant import PATH   ·   your stickers: sticker-assistant library add FOLDER")
    out("Open the window: run `make run` in a desktop session, or under a virtual display: `xvfb-run -a make run`.")
    return 0
