"""`sticker-assistant selftest` (also `sticker-assistant --selftest`): run the app's real path once on a
throw-away data folder and say what worked; see assistant/selftest.py. Packaging runs it on every build."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("selftest", help="check that this installation works: open the window offscreen, "
                                        "import the demo chat, suggest (uses a temporary data folder)")
    p.add_argument("--window-ms", type=int, default=300, help="how long the window stays open (ms)")
    p.set_defaults(handler=_selftest, no_app=True)


def _selftest(_app, args) -> int:
    from assistant.selftest import run_selftest

    return run_selftest(window_ms=args.window_ms)
