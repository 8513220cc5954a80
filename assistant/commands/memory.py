"""`sticker-assistant memory build|list|show|search|clear|reindex`: the memory bank from the shell."""

from __future__ import annotations

import argparse
import sys

from assistant.jobs import CancelToken, TerminalProgress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("memory", help="summarize past chat sessions into the memory bank and search it")
    msub = p.add_subparsers(dest="memory_command", metavar="ACTION")

    b = msub.add_parser("build", help="summarize every session without an up-to-date memory (resumable)")
    b.add_argument("--chat", type=int, help="only this chat id")
    b.add_argument("--force", action="store_true", help="summarize again even when up to date")
    b.add_argument("--progress", action="store_true", help="show the progress bar even when not on a terminal")
    b.set_defaults(handler=_build)

    lst = msub.add_parser("list", help="one line per memory")
    lst.add_argument("--chat", type=int, help="only this chat id")
    lst.set_defaults(handler=_list)

    sh = msub.add_parser("show", help="one memory in full")
    sh.add_argument("session", type=int, help="session id")
    sh.set_defaults(handler=_show)

    se = msub.add_parser("search", help="the memories closest to a text (a pasted conversation works)")
    se.add_argument("text", nargs="+", help="words to search for, or - to read stdin")
    se.add_argument("-k", type=int, default=5)
    se.add_argument("--chat", type=int, help="rank this chat's memories first")
    se.set_defaults(handler=_search)

    cl = msub.add_parser("clear", help="forget memories (sessions stay and can be summarized again)")
    cl.add_argument("--chat", type=int, help="only this chat id")
    cl.add_argument("--yes", action="store_true", help="do not ask")
    cl.set_defaults(handler=_clear)

    ri = msub.add_parser("reindex", help="rebuild the vector index of memories from the catalog")
    ri.set_defaults(handler=_reindex)
    p.set_defaults(handler=_list)


def _build(app, args) -> int:
    from assistant.memory import memories
    from assistant.ml.llm import LLMError

    bar = TerminalProgress("memories:", force=args.progress)
    cancel = CancelToken()
    try:
        report = memories.build(app, args.chat, progress=bar, cancel=cancel, force=args.force)
    except KeyboardInterrupt:
        bar.close()
        print("\ninterrupted; finished sessions are kept. Run `memory build` again to continue.", file=sys.stderr)
        return 130
    except LLMError as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    bar.close()
    print(report.line())
    for problem in report.failed:
        print(f"  {problem}")
    return 1 if report.failed and not report.summarized else 0


def _when(m) -> str:
    return f"{m.start:%Y-%m-%d %H:%M}" if m.start else "????-??-?? --:--"


def _list(app, args) -> int:
    from assistant.memory import memories

    mems = memories.list_memories(app, getattr(args, "chat", None))
    if not mems:
        print("no memories yet: import chats, then run `sticker-assistant memory build`")
        return 0
    for m in mems:
        summary = " ".join(m.summary.split())
        print(f"{m.session_id:6} chat {m.chat_id:<4} {_when(m)} [{m.language}] {summary[:100]}")
    return 0


def _print_memory(m, score: bool = False) -> None:
    head = f"session {m.session_id} · chat {m.chat_id} · {_when(m)}"
    if m.end:
        head += f" – {m.end:%H:%M}"
    if score:
        head += f" · score {m.score:.3f}"
    print(head)
    print(f"  {m.summary}")
    if m.topics:
        print(f"  topics: {', '.join(m.topics)}")
    if m.mood:
        print(f"  mood: {m.mood}")
    if m.participants:
        print(f"  participants: {', '.join(m.participants)}")
    print(f"  language: {m.language}")


def _show(app, args) -> int:
    from assistant.memory import memories

    m = memories.show(app, args.session)
    if m is None:
        print(f"no memory for session {args.session} (see `memory list`)", file=sys.stderr)
        return 1
    _print_memory(m)
    return 0


def _search(app, args) -> int:
    from assistant.memory import memories

    text = sys.stdin.read() if args.text == ["-"] else " ".join(args.text)
    hits = memories.search(app, text, k=args.k, chat_id=args.chat)
    if not hits:
        print("no memories match (is the bank empty? run `memory build`)")
        return 0
    for m in hits:
        _print_memory(m, score=True)
    return 0


def _clear(app, args) -> int:
    from assistant.memory import memories

    scope = f"chat {args.chat}" if args.chat is not None else "all chats"
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"refusing to clear memories of {scope} without --yes", file=sys.stderr)
            return 2
        if input(f"Forget the memories of {scope}? [y/N] ").strip().lower() not in ("y", "yes"):
            return 1
    n = memories.clear(app, args.chat)
    print(f"cleared {n} memories ({scope})")
    return 0


def _reindex(app, args) -> int:  # noqa: ARG001
    from assistant.memory import memories

    bar = TerminalProgress("re-index:")
    n = memories.reindex(app, progress=bar)
    bar.close()
    print(f"re-indexed {n} memories")
    return 0
