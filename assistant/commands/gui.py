"""`sticker-assistant gui`: open the desktop window (or only the compact suggestion panel).

Qt is imported only when the command runs, so the rest of the CLI works on machines without it.
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop window")
    p.add_argument("--compact", action="store_true",
                   help="open only the compact, always-on-top suggestion panel")
    p.add_argument("--theme", choices=("system", "light", "dark"), help="colour palette (remembered)")
    p.set_defaults(handler=_gui)


def _gui(app, args) -> int:
    from assistant.gui.app import NO_DISPLAY_MESSAGE, has_display

    if not has_display():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 2
    from assistant.gui.app import run_gui

    return run_gui(app, compact=args.compact, palette=args.theme)
