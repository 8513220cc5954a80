"""`sticker-assistant library add|scan|list|search|show|tag|delete|export|dedupe|reindex|describe|caption`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from assistant.jobs import CancelToken, TerminalProgress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("library", help="add, describe, search and manage your stickers")
    ls = p.add_subparsers(dest="library_command", metavar="ACTION")

    add = ls.add_parser("add", help="add sticker folders, packs (.zip/.wastickers) or files, recursively")
    add.add_argument("paths", nargs="+", type=Path)
    add.add_argument("--pack", help="pack name for every sticker added (default: each file's folder name)")
    add.add_argument("--no-describe", action="store_true", help="skip OCR and labels (run `describe` later)")
    add.set_defaults(handler=_add)

    scan = ls.add_parser("scan", help="re-scan every folder added before: new, changed and removed files")
    scan.add_argument("--no-describe", action="store_true")
    scan.set_defaults(handler=_scan)

    desc = ls.add_parser("describe", help="read words (OCR) and labels for stickers not described yet")
    desc.add_argument("ids", nargs="*", type=int, help="sticker ids (default: every sticker not described yet)")
    desc.add_argument("--all", action="store_true", help="describe every sticker again (user edits are kept)")
    desc.add_argument("--no-ocr", action="store_true")
    desc.set_defaults(handler=_describe)

    cap = ls.add_parser("caption", help="write a one-line description of each sticker with your multimodal "
                                        "GGUF (models import describer / describer-projector)")
    cap.add_argument("ids", nargs="*", type=int, help="sticker ids (default: every sticker without a description)")
    cap.add_argument("--redo", action="store_true", help="describe again even where a description exists "
                                                         "(descriptions you edited are kept)")
    cap.set_defaults(handler=_caption)

    for name, helptext in (("list", "list stickers, filtered"), ("search", "search stickers by words")):
        q = ls.add_parser(name, help=helptext)
        if name == "search":
            q.add_argument("query", help="words on the sticker, tags, description, pack (and image match with CLIP)")
        _filter_args(q)
        q.set_defaults(handler=_list)

    show = ls.add_parser("show", help="everything about one sticker")
    show.add_argument("id", type=int)
    show.set_defaults(handler=_show)

    tag = ls.add_parser("tag", help="add or remove tags; edit attributes; favourite or hide")
    tag.add_argument("id", type=int)
    tag.add_argument("tags", nargs="*", help="tags to add")
    tag.add_argument("--remove", nargs="+", default=[], metavar="TAG")
    tag.add_argument("--set", nargs=2, action="append", default=[], metavar=("FIELD", "VALUE"),
                     help="edit an attribute (ocr_text, description, intent, style, emoji, pack, expression, "
                          "gesture, posture, subject); kept across re-describes")
    tag.add_argument("--favourite", choices=["on", "off"])
    tag.add_argument("--hidden", choices=["on", "off"])
    tag.set_defaults(handler=_tag)

    delete = ls.add_parser("delete", help="delete stickers (files, thumbnails and vectors too)")
    delete.add_argument("ids", nargs="+", type=int)
    delete.set_defaults(handler=_delete)

    exp = ls.add_parser("export", help="export a pack (or ids) to a folder, or a .zip when DEST ends in .zip")
    exp.add_argument("dest", type=Path)
    exp.add_argument("--pack")
    exp.add_argument("--ids", nargs="+", type=int)
    exp.set_defaults(handler=_export)

    dd = ls.add_parser("dedupe", help="list near-duplicate groups (same picture re-encoded); --merge folds them")
    dd.add_argument("--distance", type=int, default=6, help="max differing bits of the 64-bit hash (default 6)")
    dd.add_argument("--merge", action="store_true", help="merge each group into its oldest sticker")
    dd.set_defaults(handler=_dedupe)

    ri = ls.add_parser("reindex", help="rewrite sticker vectors; --check compares Chroma with the catalog")
    ri.add_argument("--rebuild", action="store_true", help="drop the sticker collections and rebuild them")
    ri.add_argument("--check", action="store_true")
    ri.set_defaults(handler=_reindex)

    p.set_defaults(handler=_list, query=None, pack=None, tag=None, emoji=None, intent=None, style=None,
                   favourite=False, hidden=False, used=None, limit=50, offset=0, json=False)


def _filter_args(q: argparse.ArgumentParser) -> None:
    q.add_argument("--pack")
    q.add_argument("--tag")
    q.add_argument("--emoji")
    q.add_argument("--intent", help="one of the 28 GoEmotions labels")
    q.add_argument("--style", help="cartoon, real, text; or animal, human-like, people, emoji, other")
    q.add_argument("--favourite", action="store_true", help="favourites only")
    q.add_argument("--hidden", action="store_true", help="hidden stickers only")
    q.add_argument("--used", action="store_true", default=None, help="only stickers sent in imported chats")
    q.add_argument("--unused", dest="used", action="store_false", help="only stickers never sent")
    q.add_argument("--limit", type=int, default=50)
    q.add_argument("--offset", type=int, default=0)
    q.add_argument("--json", action="store_true", help="one JSON object per line")


def _print_report(report) -> None:
    from assistant.domain import printable

    for note in report.notes:
        print(printable(note))
    for problem in report.problems:
        print(f"problem: {problem}")
    if report.cancelled:
        print("cancelled; finished files are kept, run the same command again to resume")


def _import(app, paths: list[Path], pack: str | None, describe: bool) -> int:
    from assistant.library.ingest import add_folder

    cancel = CancelToken()
    rc = 0
    for path in paths:
        bar = TerminalProgress(f"{path.name}:")
        try:
            report = add_folder(app, path, pack=pack, progress=bar, cancel=cancel)
        except KeyboardInterrupt:
            cancel.cancel()
            bar.close()
            print("interrupted; finished files are kept")
            return 130
        bar.close()
        _print_report(report)
        if not report.ok:
            rc = 1
    if describe:
        rc = _run_describe(app, None, ocr=True) or rc
    return rc


def _add(app, args) -> int:
    return _import(app, args.paths, args.pack, not args.no_describe)


def _scan(app, args) -> int:
    folders = [Path(p) for p in app.catalog.get_kv("library.folders", []) or []]
    if not folders:
        print("no folders added yet: use `sticker-assistant library add FOLDER`")
        return 0
    return _import(app, folders, None, not args.no_describe)


def _run_describe(app, ids, ocr: bool) -> int:
    from assistant.library.attributes import describe

    if app.clip is None:
        print("note: no image–text model installed: no zero-shot labels or image search "
              "(intents come from emoji); `sticker-assistant models import clip FILE` adds it")
    bar = TerminalProgress("describing:")
    try:
        n = describe(app, ids, progress=bar, ocr=ocr)
    finally:
        bar.close()
    print(f"described {n} stickers")
    return 0


def _describe(app, args) -> int:
    ids = args.ids or None
    if args.all:
        ids = [r[0] for r in app.catalog.conn.execute("SELECT id FROM stickers ORDER BY id")]
    return _run_describe(app, ids, ocr=not args.no_ocr)


def _caption(app, args) -> int:
    from assistant.library import captions
    from assistant.ml.describer import DescriberError

    bar = TerminalProgress("captions:")
    cancel = CancelToken()
    try:
        report = captions.caption(app, args.ids or None, redo=args.redo, progress=bar, cancel=cancel)
    except (captions.CaptionsUnavailable, DescriberError) as exc:
        bar.close()
        print(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        bar.close()
        print("stopped; descriptions written so far are kept")
        return 130
    bar.close()
    print(f"{report.written} descriptions written"
          + (f", {report.kept_user_edits} kept as you edited them" if report.kept_user_edits else ""))
    for sid, why in report.failed:
        print(f"  sticker {sid}: {why}")
    return 1 if report.failed and not report.written else 0


def _list(app, args) -> int:
    from assistant.library import manage

    rows = manage.search(app, getattr(args, "query", None), pack=args.pack, tag=args.tag, emoji=args.emoji,
                         intent=args.intent, style=args.style, favourite=True if args.favourite else None,
                         used=args.used, hidden=True if args.hidden else False, limit=args.limit,
                         offset=args.offset)
    for s in rows:
        if args.json:
            print(json.dumps({"id": s.id, "fmt": s.fmt, "pack": s.pack, "emoji": s.emoji, "text": s.ocr_text,
                              "tags": s.tags, "intent": s.intent, "style": s.style, "favourite": s.favourite,
                              "hidden": s.hidden, "uses": s.use_count, "path": str(s.path)}, ensure_ascii=False))
            continue
        flags = ("★" if s.favourite else "") + ("hidden " if s.hidden else "")
        words = " ".join(s.ocr_text.split())[:40]
        print(f"{s.id:6}  {s.fmt:5} {s.emoji or '':2} {s.pack or '-':20.20} {s.intent or '-':14} "
              f"{flags}{words!r}" + (f" #{' #'.join(s.tags)}" if s.tags else ""))
    if not rows and not args.json:
        print("no stickers match")
    return 0


def _show(app, args) -> int:
    from assistant.library import manage

    try:
        d = manage.details(app, args.id)
    except manage.LibraryError as exc:
        print(f"error: {exc}")
        return 1
    s = d["sticker"]
    print(f"sticker {s.id}: {s.fmt} {s.width}x{s.height}" + (f", animated, {d['frames']} frames" if s.animated else ""))
    print(f"  file: {s.path}  ({d['size_bytes']:,} bytes, sha256 {s.sha256[:16]}…)")
    print(f"  thumbnail: {d['thumbnail']}")
    print(f"  pack: {s.pack or '-'}   emoji: {s.emoji or '-'}   tags: {', '.join(s.tags) or '-'}")
    print(f"  words: {' / '.join(s.ocr_text.splitlines()) or '-'}")
    print(f"  description: {s.description or '-'}")
    conf = f" ({d['intent_conf']:.2f})" if d["intent_conf"] is not None else ""
    print(f"  intent: {s.intent or '-'}{conf}   style: {s.style or '-'}")
    for name in ("expression", "gesture", "posture", "subject"):
        a = d["attrs"].get(name)
        if a:
            print(f"  {name}: {a['label']} ({a['conf']:.2f}, {a.get('source', '?')})")
    print(f"  favourite: {s.favourite}   hidden: {s.hidden}   sent {s.use_count} times")
    if d["user_edited"]:
        print(f"  edited by you: {', '.join(d['user_edited'])}")
    for src in d["sources"]:
        print(f"  source: {src['path']}" + ("  (missing)" if src["missing"] else ""))
    return 0


def _tag(app, args) -> int:
    from assistant.library import manage

    try:
        s = manage.get(app, args.id)
        if args.tags or args.remove:
            tags = manage.set_tags(app, args.id, args.tags, replace=False, remove=args.remove)
            print(f"tags: {', '.join(tags) or '-'}")
        for field, value in args.set:
            manage.set_attribute(app, s.id, field, value)
            print(f"{field}: {value}")
        if args.favourite:
            manage.set_favourite(app, s.id, args.favourite == "on")
        if args.hidden:
            manage.set_hidden(app, s.id, args.hidden == "on")
    except manage.LibraryError as exc:
        print(f"error: {exc}")
        return 1
    return 0


def _delete(app, args) -> int:
    from assistant.library import manage

    n = manage.delete(app, args.ids)
    print(f"deleted {n} stickers")
    return 0 if n == len(set(args.ids)) else 1


def _export(app, args) -> int:
    from assistant.library import manage

    try:
        n = manage.export_pack(app, args.dest, pack=args.pack, ids=args.ids)
    except (manage.LibraryError, OSError) as exc:
        print(f"error: {exc}")
        return 1
    print(f"exported {n} stickers to {args.dest}")
    return 0


def _dedupe(app, args) -> int:
    from assistant.library import manage

    groups = manage.near_duplicates(app, args.distance)
    if not groups:
        print("no near-duplicates")
        return 0
    for g in groups:
        print("group: " + ", ".join(str(i) for i in g))
        if args.merge:
            manage.merge(app, g[0], g[1:])
            print(f"  merged into {g[0]}")
    if not args.merge:
        print(f"{len(groups)} groups; `library dedupe --merge` merges each into its first sticker, or "
              "merge by hand with the GUI")
    return 0


def _reindex(app, args) -> int:
    from assistant.library import index

    if args.check:
        missing, extra = index.check(app)
        print(f"{len(missing)} stickers without vectors, {len(extra)} vectors without a sticker")
        if not (missing or extra):
            return 0
        if not args.rebuild:
            print("run `sticker-assistant library reindex --rebuild` to fix")
            return 1
    bar = TerminalProgress("indexing:")
    try:
        n = index.rebuild(app, progress=bar) if args.rebuild else index.reindex(app, progress=bar)
    finally:
        bar.close()
    print(f"indexed {n} stickers")
    return 0
