"""`sticker-assistant launch`: what `make run` does — the window when there is a display, otherwise
the same first run in the terminal, saying plainly why and how to get the window."""

from __future__ import annotations

import argparse
import os
import sys


def has_display() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    if os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("launch", help="open the app (seeding the demo data on first run); "
                                      "in a terminal without a display, run the first run there")
    p.add_argument("--terminal", action="store_true", help="never open the window")
    p.set_defaults(handler=_launch)


def _launch(app, args) -> int:
    from assistant.first_run import first_run, seed_if_empty

    if args.terminal or not has_display():
        if not args.terminal:
            print("No display found (no $DISPLAY or $WAYLAND_DISPLAY): running the first run in the terminal.\n"
                  "To open the window, run `make run` in a desktop session, or under a virtual display: "
                  "`xvfb-run -a make run`.\n")
        return first_run(app)
    seed_if_empty(app)
    from assistant.gui.app import run_gui

    return run_gui(app)
