"""`sticker-assistant suggest [TEXT | -f FILE | stdin] [-k N] [--chat ID] [--me NAME] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("suggest", help="suggest stickers for a conversation (text, a file, or stdin)",
                       description="Paste a conversation as lines of 'Name: message' (or plain lines). "
                                   "Prints the ranked sticker files with score and reasons.")
    p.add_argument("text", nargs="?", help="the conversation; omit to read -f FILE or stdin")
    p.add_argument("-f", "--file", type=Path, help="read the conversation from this file")
    p.add_argument("-k", type=int, default=None, help="how many stickers (default: the settings' suggest_k)")
    p.add_argument("--chat", type=int, help="the catalog chat id this conversation belongs to (its memories first)")
    p.add_argument("--me", help="your name in the conversation (default: the settings' me_names)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=_suggest)


def _read_input(args) -> tuple[str | None, str | None]:
    if args.text is not None and args.file is not None:
        return None, "give the conversation as TEXT or -f FILE, not both"
    if args.file is not None:
        try:
            return args.file.read_text(encoding="utf-8-sig"), None
        except UnicodeDecodeError:
            return None, f"{args.file}: not UTF-8 text"
        except OSError as exc:
            return None, f"{args.file}: cannot read ({exc.strerror or exc})"
    if args.text is not None:
        return args.text, None
    if sys.stdin is None or sys.stdin.isatty():
        return None, "no conversation given: pass TEXT, -f FILE, or pipe it on stdin"
    return sys.stdin.read(), None


def print_suggestions(suggestions, out: Callable[[str], None] = print) -> None:
    if not suggestions:
        out("  (no stickers to suggest: add some with `sticker-assistant library add FOLDER` "
            "or import a chat export)")
        return
    for rank, s in enumerate(suggestions, 1):
        st = s.sticker
        label = st.ocr_text.strip().replace("\n", " ") or st.emoji or f"sticker {st.id}"
        out(f"{rank:2}. {s.score:+.2f}  {st.path}  [{label}]")
        if s.reasons:
            out(f"      {'; '.join(s.reasons)}")


def _suggest(app, args) -> int:
    text, err = _read_input(args)
    if err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not text or not text.strip():
        print("error: the conversation is empty", file=sys.stderr)
        return 2
    from assistant.retrieval.suggest import for_app

    suggester = for_app(app)
    k = args.k if args.k is not None else app.config.settings.suggest_k
    if k < 1:
        print("error: -k must be at least 1", file=sys.stderr)
        return 2
    suggestions = suggester.suggest(text, k=k, chat=args.chat, me=args.me)
    off = suggester.features_off()
    if args.json:
        print(json.dumps({
            "suggestions": [{"rank": i, "sticker_id": s.sticker.id, "file": str(s.sticker.path) if s.sticker.path else None,
                             "score": round(s.score, 4), "reasons": s.reasons,
                             "parts": {k_: round(v, 4) for k_, v in s.parts.items()},
                             "words": s.sticker.ocr_text, "emoji": s.sticker.emoji}
                            for i, s in enumerate(suggestions, 1)],
            "memories": [{"session_id": m.session_id, "chat_id": m.chat_id, "summary": m.summary,
                          "score": round(m.score, 4)} for m in suggester.last_memories],
            "features_off": off}, ensure_ascii=False, indent=2))
        return 0
    print_suggestions(suggestions)
    if suggester.last_memories:
        print("\nMemories used:")
        for m in suggester.last_memories[:3]:
            summary = " ".join(m.summary.split())
            print(f"  - {summary[:100] + '…' if len(summary) > 100 else summary}")
    if off:
        print("\nOff right now:")
        for line in off:
            print(f"  - {line}")
    return 0
