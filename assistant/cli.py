"""`sticker-assistant`: one subcommand per area; each area's module under `assistant/commands/`
registers its own parser, so the CLI grows with the core it drives."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from assistant import __version__

# Each module defines `register(subparsers)`; its handlers take (app, args) and return an exit code.
COMMAND_MODULES = [
    "assistant.commands.importing",
    "assistant.commands.library",
    "assistant.commands.memory",
    "assistant.commands.suggest",
    "assistant.commands.train",
    "assistant.commands.evaluate",
    "assistant.commands.models",
    "assistant.commands.data",
    "assistant.commands.gui",
    "assistant.commands.launch",
    "assistant.commands.backup",
    "assistant.commands.selftest",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sticker-assistant",
        description="Suggests the right chat sticker from your own stickers and chat history, offline.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--data-dir", help="where the catalog, stickers and memories live "
                        "(default: the platform data dir, or $STICKER_ASSISTANT_DATA_DIR)")
    parser.add_argument("--models-dir", help="where model files live (default: <platform data dir>/models)")
    parser.add_argument("--chroma-url", help="use a Chroma server (e.g. http://127.0.0.1:8000) instead of "
                        "the embedded store")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--selftest", action="store_true", help="check this installation on a temporary "
                        "data folder (window offscreen, demo import, suggest) and exit; same as `selftest`")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if args.selftest and handler is None:
        from assistant.selftest import run_selftest

        return run_selftest()
    if handler is None:
        parser.print_help()
        return 0 if args.command is None else 2
    if getattr(args, "no_app", False):
        return handler(None, args) or 0
    from assistant.app import App, ModelUnavailable
    from assistant.config import Config
    from assistant.library.catalog import CatalogError

    try:
        config = Config(args.data_dir, models_dir=args.models_dir, chroma_url=args.chroma_url)
        config.setup_logging(args.verbose)
        app = App(config)
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        return handler(app, args) or 0
    except KeyboardInterrupt:
        print("\ninterrupted; finished work is kept", file=sys.stderr)
        return 130
    except CatalogError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ModelUnavailable as exc:  # a feature that needs a model that cannot load: say which, and the fix
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        app.close()


if __name__ == "__main__":
    raise SystemExit(main())
