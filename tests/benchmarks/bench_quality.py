"""Suggestion quality: methods × metrics on msairs-dev (valid) and the intent head on GoEmotions (test).

Features come from the on-disk feature cache (~/.cache/sticker-assistant), so only the first run pays
for embedding (minutes on 2 cores); heads are trained here from the training split with seed 0.
`quick` trains fewer epochs and scores the intent head on the first 1,000 test rows.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def run(quick: bool = False) -> str:
    from assistant.eval.dataset import load
    from assistant.eval.run import report, run_benchmark
    from assistant.ml.embedder import get_embedder
    from assistant.ml.features import store_for
    from assistant.ml.train import TrainOptions

    parts = ["### Suggestion quality (msairs-dev valid; GoEmotions test)", ""]
    msairs = SHARED / "msairs-dev"
    if msairs.exists():
        t = time.monotonic()
        results, f, notes = run_benchmark(load(msairs), get_embedder(), store_for(None), seed=0,
                                          opts=TrainOptions(epochs=20 if quick else 60, seed=0))
        parts.append(report(results, None, notes + [f"{len(f.eval_gold)} valid samples, {len(f.pool_ids)} stickers; "
                                                    f"{time.monotonic() - t:.0f} s incl. training"]))
    else:
        parts.append(f"msairs-dev not found at {msairs}")
    parts.append("")
    ge = SHARED / "goemotions"
    if ge.exists():
        from assistant.ml.intent import SHIPPED, IntentHead, evaluate_intent

        if SHIPPED.exists():
            head = IntentHead.from_file(SHIPPED, get_embedder())
            res = evaluate_intent(head, ge, "test", limit=1000 if quick else None)
            parts += ["| intent head (GoEmotions test) | n | macro-F1 | exact match | top-1 acc |",
                      "|---|---:|---:|---:|---:|",
                      f"| shipped models/intent-goemotions.pt | {res['n']} | {res['macro_f1']:.3f} | "
                      f"{res['exact_match']:.3f} | {res['top1_accuracy']:.3f} |"]
        else:
            parts.append("no shipped intent head (models/intent-goemotions.pt)")
    return "\n".join(parts)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
