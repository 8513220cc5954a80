"""`sticker-assistant train [--dataset DIR] [--from-history] [--intent] [--epochs N] [--resume] [--seed S]`.

Without a source it trains on the user's own history (every sticker they sent, with the messages
before it): the IGSR head → <data>/heads/igsr.pt and the preference memory's parameters →
<data>/heads/preference.json, which the Suggester picks up. `--dataset DIR` trains on a benchmark's
train split (→ <data>/heads/datasets/<name>/igsr.pt, for `eval`). `--intent` trains the GoEmotions
intent head (→ <data>/heads/intent.pt, or `--out models/intent-goemotions.pt` to refresh the shipped one),
with `--members N` MLPs in its embedding-view ensemble (default 5) and a JSON record next to the head; it
ignores `--epochs` (its schedule is fixed, recorded in the JSON).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.jobs import TerminalProgress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the suggestion heads (IGSR, preference memory, intent)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", type=Path, help="a benchmark directory (stickers.jsonl + samples.jsonl)")
    src.add_argument("--from-history", action="store_true", help="your own imported chats (the default)")
    src.add_argument("--intent", action="store_true", help="the GoEmotions intent head")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run with the same data")
    p.add_argument("--me", help="your name in the chats (default: the importers' 'me')")
    p.add_argument("--goemotions", type=Path, help="GoEmotions folder (default: ../shared/datasets/goemotions)")
    p.add_argument("--train-limit", type=int, default=None,
                   help="intent head: embed only the first N GoEmotions training rows (default: all)")
    p.add_argument("--members", type=int, default=5, help="intent head: embedding-view ensemble size")
    p.add_argument("--out", type=Path, help="where to write the trained head")
    p.set_defaults(handler=_train)


def _train(app, args) -> int:
    from assistant.ml import igsr
    from assistant.ml import train as training_sources
    from assistant.ml.train import TrainOptions, save_result

    bar = TerminalProgress("train:")
    try:
        if args.intent:
            return _train_intent(app, args, bar)
        opts = TrainOptions(epochs=args.epochs, seed=args.seed, device=_device(app))
        if args.dataset:
            from assistant.eval.dataset import DatasetError, load

            try:
                ds = load(args.dataset)
            except DatasetError as exc:
                print(f"error: {exc}")
                return 1
            out = args.out or Path(app.config.heads_dir) / "datasets" / ds.name / igsr.CHECKPOINT_NAME
            result, data = training_sources.train_on_dataset(app, ds, opts, progress=bar,
                                                             resume_path=out.with_suffix(".resume.pt"),
                                                             resume=args.resume)
            save_result(out, result)
            out.with_suffix(".resume.pt").unlink(missing_ok=True)
        else:
            out = args.out or igsr.checkpoint_path(app)
            try:
                result, data = training_sources.train_history_and_save(app, opts, args.me, bar, out=out,
                                                                       resume=args.resume)
            except ValueError as exc:
                print(f"error: {exc}")
                return 1
    finally:
        bar.close()
    h = result.history[result.best_epoch - 1] if result.best_epoch else result.history[-1]
    print(f"trained on {len(data)} pairs in {result.seconds:.1f} s; best epoch {result.best_epoch} "
          f"(val loss {h['val_loss']:.3f}){'; stopped early' if result.stopped_early else ''}")
    print(f"saved {out}")
    exact = result.meta.get("exact_score")
    if exact:
        from assistant.ml.calibration import describe

        print(describe(exact))
    return 0


def _train_intent(app, args, bar) -> int:
    """Train the GoEmotions intent head, score it on test, and write it with a JSON record (seed,
    data, sizes, dev and test figures, the command) next to it: `--out models/intent-goemotions.pt`
    refreshes the shipped head and models/intent-goemotions.json."""
    import json

    from assistant.config import atomic_write_text
    from assistant.ml.intent import USER_NAME, evaluate_intent, goemotions_dir, train_intent

    root = args.goemotions or goemotions_dir()
    if root is None or not all((Path(root) / f"{s}.tsv").exists() for s in ("train", "dev", "test")):
        print("error: GoEmotions not found; pass --goemotions DIR (train.tsv, dev.tsv, test.tsv)")
        return 1
    if args.members < 1 or (args.train_limit is not None and args.train_limit < 1):
        print("error: --members and --train-limit must be at least 1")
        return 1
    try:
        head, rep = train_intent(Path(root), app.embedder, train_limit=args.train_limit, seed=args.seed,
                                 members=args.members, progress=bar)
        res = evaluate_intent(head, Path(root), "test")
    except ValueError as exc:  # a malformed .tsv: the message names the file and line
        print(f"error: {exc}")
        return 1
    head.meta["test"] = {k: v for k, v in res.items() if k != "per_label_f1"}
    first = evaluate_intent(head, Path(root), "test", limit=1000)  # what the test suite re-checks cheaply
    head.meta["test_first_1000"] = {k: v for k, v in first.items() if k != "per_label_f1"}
    head.meta["test_per_label_f1"] = {k: round(v, 4) for k, v in res["per_label_f1"].items()}
    head.meta["command"] = (f"sticker-assistant train --intent --seed {args.seed} --members {args.members}"
                            + (f" --train-limit {args.train_limit}" if args.train_limit else "")
                            + (f" --out {args.out}" if args.out else ""))
    out = Path(args.out or Path(app.config.heads_dir) / USER_NAME)
    out.parent.mkdir(parents=True, exist_ok=True)
    head.save(out)
    record = dict(head.meta, file=out.name, bytes=out.stat().st_size,
                  storage="fp16 ensemble of embedding MLPs + lexical bag + vocabulary + per-label thresholds + mix")
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    bar.close()
    print(f"dev macro-F1 {rep['dev_macro_f1']:.3f}; test macro-F1 {res['macro_f1']:.3f}, exact match "
          f"{res['exact_match']:.3f}, top-1 accuracy {res['top1_accuracy']:.3f}; {rep['seconds']:.0f} s")
    print(f"saved {out} and {out.with_suffix('.json').name}")
    return 0


def _device(app) -> str:
    from assistant.ml.device import training_device

    return training_device(app.config.settings.device)
