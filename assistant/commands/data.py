"""`sticker-assistant demo [--force] [--memories]`: seed the data dir with the project's own demo data."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="add the demo sticker pack and demo chat (drawn by this app) to the data dir",
                       description="Draws ~25 demo stickers with words on them, imports them as two packs, "
                                   "imports a small demo chat that uses them, and reads the words (OCR). "
                                   "Runs once per data dir unless --force.")
    p.add_argument("--force", action="store_true", help="seed again even if the demo is already here")
    p.add_argument("--memories", action="store_true",
                   help="also summarise the demo chat's sessions into the memory bank (needs the summarizer LLM)")
    p.add_argument("--no-ocr", action="store_true", help="skip reading the words on the stickers")
    p.set_defaults(handler=_demo)


def _demo(app, args) -> int:
    from assistant.demo import seed_demo
    from assistant.jobs import TerminalProgress

    bar = TerminalProgress("demo")
    try:
        report = seed_demo(app, force=args.force, describe=not args.no_ocr, memories=args.memories, progress=bar)
    finally:
        bar.close()
    if report.seeded:
        print(f"Demo data added to {app.config.data_dir}: {report.stickers} new stickers, "
              f"{report.messages} chat messages, {report.described} stickers read"
              + (f", {report.memories} memories" if args.memories else "") + ".")
        print("Try: sticker-assistant suggest \"Sam: I fixed your bike for you\"")
    for note in report.notes:
        print(f"note: {note}")
    return 0
