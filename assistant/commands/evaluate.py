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
    from assistant.ml.device import training_device
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
    bar = TerminalProgress("eval:")
    opts = TrainOptions(epochs=args.epochs, seed=args.seed, device=training_device(app.config.settings.device))
    try:
        extra, calibration_note = _app_rows(app, ds, opts, bar) if args.from_history else ({}, None)
        results, f, notes = run_benchmark(ds, app.embedder, store_for(app), split=args.split, seed=args.seed,
                                          opts=opts, clip=app.clip, progress=bar, extra_fused=extra)
    except ValueError as exc:
        bar.close()
        print(f"error: {exc}")
        return 1
    bar.close()
    if calibration_note:
        notes.append(calibration_note)
    title = f"{ds.name}: {f.split} ({len(f.eval_gold)} samples, {len(f.pool_ids)} stickers; seed {args.seed})"
    text = report(results, title, notes)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


APP_DEFAULT = "the app's ranking, default weights"
APP_FITTED = "the app's ranking, weights fitted on your earlier sends"


def _app_rows(app, ds, opts, progress) -> tuple[dict, str | None]:
    """Rows for `eval --from-history`: the Suggester's ranking (the fused default's inputs with the
    trained head's reply intents alone) under the default exact-score weights and under weights
    fitted as `train` fits them (ml/calibration.py), but on the training split only: the test sends
    stay unseen, so the two rows say whether fitting the weights on your history helps you."""
    from assistant.eval.dataset import DatasetError
    from assistant.ml import calibration
    from assistant.ml.features import store_for
    from assistant.retrieval.fusion import DEFAULT_LAYOUT

    rows = {APP_DEFAULT: (DEFAULT_LAYOUT, calibration.APP_INTENTS)}
    try:
        layout, info = calibration.fit_layout(ds, app.embedder, store_for(app), opts, progress)
    except (DatasetError, ValueError) as exc:
        return rows, f"{APP_FITTED}: not run ({exc})"
    if layout is None:
        return rows, f"{APP_FITTED}: not run ({info['skipped']})"
    rows[APP_FITTED] = (layout, calibration.APP_INTENTS)
    return rows, (f"{APP_FITTED}: fitted on the latest {info['held_out']} of the {info['sends']} training sends, "
                  "the models trained on the ones before")


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
