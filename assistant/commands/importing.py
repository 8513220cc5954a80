"""`sticker-assistant import PATH...`: chat exports (files, folders, .zip) into the catalog."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.chats.detect import FORMATS
from assistant.jobs import TerminalProgress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import chat exports (Telegram, WhatsApp, Discord, Messenger, Signal, "
                       "WeChat, LINE): files, export folders or .zip")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--partial", action="store_true",
                   help="import what can be read from damaged files (skipped parts are listed)")
    p.add_argument("--me", help="your own name in these chats (otherwise taken from the export or settings)")
    p.add_argument("--format", dest="fmt", choices=FORMATS, help="skip detection and read as this format")
    p.set_defaults(handler=_import)


def format_report(report) -> str:
    from assistant.domain import printable

    lines = [f"{printable(report.source)}  [{report.format}]",
             f"  chats: {report.chats}",
             f"  messages: {report.messages} read, {report.messages_added} new",
             f"  sessions: {report.sessions}",
             f"  stickers found: {report.sticker_messages} (with files: {report.stickers_with_files}, "
             f"new in library: {report.stickers_added})",
             f"  training samples: {report.samples}"]
    if report.problems:
        lines.append(f"  skipped / problems ({len(report.problems)}):")
        lines.extend(f"    - {p}" + ("  [not imported]" if p.fatal else "") for p in report.problems)
    for note in report.notes:
        lines.append(f"  note: {printable(note)}")
    if report.cancelled:
        lines.append("  cancelled: finished chats are kept")
    return "\n".join(lines)


def _import(app, args) -> int:
    from assistant.chats.store import import_path

    rc = 0
    for path in args.paths:
        bar = TerminalProgress(f"{path.name}:")
        try:
            report = import_path(app, path, progress=bar, partial=args.partial, me=args.me, fmt=args.fmt)
        finally:
            bar.close()
        print(format_report(report))
        if not report.ok:
            rc = 1
    return rc
