"""`sticker-assistant train [--dataset DIR] [--from-history] [--intent] [--epochs N] [--resume] [--seed S]`.

Without a source it trains on the user's own history (every sticker they sent, with the messages
before it): the IGSR head → <data>/heads/igsr.pt and the preference memory's parameters →
<data>/heads/preference.json, which the Suggester picks up. `--dataset DIR` trains on a benchmark's
train split (→ <data>/heads/datasets/<name>/igsr.pt, for `eval`). `--intent` trains the GoEmotions
intent head (→ <data>/heads/intent.pt, or `--out models/intent-goemotions.pt` to refresh the shipped one).
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
    p.add_argument("--train-limit", type=int, default=10240,
                   help="GoEmotions training rows embedded for the intent head's embedding view")
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
        else:
            out = args.out or igsr.checkpoint_path(app)
            try:
                result, data = training_sources.train_on_history(app, opts, me=args.me, progress=bar,
                                                                 resume_path=out.with_suffix(".resume.pt"),
                                                                 resume=args.resume)
            except ValueError as exc:
                print(f"error: {exc}")
                return 1
        save_result(out, result)
        out.with_suffix(".resume.pt").unlink(missing_ok=True)
    finally:
        bar.close()
    h = result.history[result.best_epoch - 1] if result.best_epoch else result.history[-1]
    print(f"trained on {len(data)} pairs in {result.seconds:.1f} s; best epoch {result.best_epoch} "
          f"(val loss {h['val_loss']:.3f}){'; stopped early' if result.stopped_early else ''}")
    print(f"saved {out}")
    return 0


def _train_intent(app, args, bar) -> int:
    from assistant.ml.intent import USER_NAME, evaluate_intent, goemotions_dir, train_intent

    root = args.goemotions or goemotions_dir()
    if root is None or not (Path(root) / "train.tsv").exists():
        print("error: GoEmotions not found; pass --goemotions DIR (train.tsv, dev.tsv, test.tsv)")
        return 1
    head, rep = train_intent(Path(root), app.embedder, train_limit=args.train_limit, seed=args.seed,
                             progress=bar)
    res = evaluate_intent(head, Path(root), "test")
    head.meta["test"] = {k: v for k, v in res.items() if k != "per_label_f1"}
    head.meta["command"] = (f"sticker-assistant train --intent --seed {args.seed} --train-limit {args.train_limit}"
                            + (f" --out {args.out}" if args.out else ""))
    out = args.out or Path(app.config.heads_dir) / USER_NAME
    head.save(out)
    bar.close()
    print(f"dev macro-F1 {rep['dev_macro_f1']:.3f}; test macro-F1 {res['macro_f1']:.3f}, "
          f"top-1 accuracy {res['top1_accuracy']:.3f}; {rep['seconds']:.0f} s")
    print(f"saved {out}")
    return 0


def _device(app) -> str:
    from assistant.ml.device import pick_device

    d = pick_device(app.config.settings.device)
    return d if d in ("cpu", "cuda") else "cpu"
