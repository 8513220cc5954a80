"""`sticker-assistant eval DATASET_DIR | --from-history | intent`: methods × metrics as Markdown.

- `eval DIR`: every method trained on DIR's train split, reported on its test split (or valid).
- `eval --from-history`: the same on your own chats, split by time (earlier sends train, the latest
  20% test).
- `eval intent`: macro-F1 and accuracy of the intent head on GoEmotions' test split.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.jobs import TerminalProgress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="measure suggestion quality (methods × metrics) or the intent head")
    p.add_argument("target", nargs="?", help="a benchmark directory, or 'intent'")
    p.add_argument("--from-history", action="store_true", help="evaluate on your own imported chats")
    p.add_argument("--split", help="split to report on (default: test, else valid)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--me", help="your name in the chats (default: the importers' 'me')")
    p.add_argument("--goemotions", type=Path, help="GoEmotions folder for `eval intent`")
    p.add_argument("--out", type=Path, help="also write the Markdown report here")
    p.set_defaults(handler=_eval)


def _eval(app, args) -> int:
    if args.target == "intent":
        return _eval_intent(app, args)
    from assistant.eval.dataset import DatasetError, from_history, load
    from assistant.eval.run import report, run_benchmark
    from assistant.ml.device import pick_device
    from assistant.ml.features import store_for
    from assistant.ml.train import TrainOptions

    if not args.from_history and not args.target:
        print("error: give a benchmark directory, `--from-history`, or `intent`")
        return 2
    try:
        ds = from_history(app, me=args.me) if args.from_history else load(args.target)
    except DatasetError as exc:
        print(f"error: {exc}")
        return 1
    device = pick_device(app.config.settings.device)
    bar = TerminalProgress("eval:")
    try:
        results, f, notes = run_benchmark(ds, app.embedder, store_for(app), split=args.split, seed=args.seed,
                                          opts=TrainOptions(epochs=args.epochs, seed=args.seed,
                                                            device=device if device == "cuda" else "cpu"),
                                          clip=app.clip, progress=bar)
    except ValueError as exc:
        bar.close()
        print(f"error: {exc}")
        return 1
    bar.close()
    title = f"{ds.name}: {f.split} ({len(f.eval_gold)} samples, {len(f.pool_ids)} stickers; seed {args.seed})"
    text = report(results, title, notes)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


def _eval_intent(app, args) -> int:
    from assistant.ml.intent import IntentHead, evaluate_intent, goemotions_dir, report_markdown

    root = args.goemotions or goemotions_dir()
    if root is None or not (Path(root) / "test.tsv").exists():
        print("error: GoEmotions not found; pass --goemotions DIR (with test.tsv)")
        return 1
    try:
        head = IntentHead.load(app)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}")
        return 1
    res = evaluate_intent(head, Path(root), args.split or "test")
    text = report_markdown(res)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0
