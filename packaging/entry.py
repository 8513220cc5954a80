"""Entry point of the packaged app (PyInstaller runs this file as __main__).

Double-clicking the app passes no arguments: that opens the window (`launch`), which is what a desktop
user expects; from a terminal every `sticker-assistant` subcommand and `--selftest` work as usual.
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()  # a frozen app re-executes itself for worker processes
    argv = sys.argv[1:] or ["launch"]
    from assistant.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
