"""Suggestion quality: methods × metrics on msairs-dev (valid) and the intent head on GoEmotions (test).

Features come from the on-disk feature cache (~/.cache/sticker-assistant), so only the first run pays
for embedding (minutes on 2 cores); heads are trained here from the training split with seed 0.
`quick` trains fewer epochs, leaves out the two IGSR ablations and scores the intent head on the first
1,000 test rows.
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
        from assistant.eval.run import METHODS

        t = time.monotonic()
        methods = [m for m in METHODS if not (quick and m.startswith("IGSR w/o"))]
        results, f, notes = run_benchmark(load(msairs), get_embedder(), store_for(None), seed=0,
                                          opts=TrainOptions(epochs=20 if quick else 60, seed=0), methods=methods)
        parts.append(report(results, None, notes + [f"{len(f.eval_gold)} valid samples, {len(f.pool_ids)} stickers; "
                                                    f"{time.monotonic() - t:.0f} s incl. training"]))
    else:
        parts.append(f"msairs-dev not found at {msairs}")
    parts.append("")
    ge = SHARED / "goemotions"
    if ge.exists():
        parts.append(_intent_table(ge, quick))
    return "\n".join(parts)


def _intent_table(ge: Path, quick: bool) -> str:
    """The shipped intent head on GoEmotions test, its two views alone, and (full run) the peer from
    PERF-ANCHORS measured here on the same features: one linear layer on frozen e5 vectors, sigmoid
    per label, thresholds tuned on dev. Quick: the shipped head on the first 1,000 test rows only."""
    import json

    import numpy as np
    import torch
    from torch.nn import functional as F

    from assistant.ml.embedder import get_embedder
    from assistant.ml.features import text_features
    from assistant.ml.intent import SHIPPED, IntentHead, macro_f1, read_goemotions, tune_thresholds

    if not SHIPPED.exists():
        return "no shipped intent head (models/intent-goemotions.pt)"
    emb = get_embedder()
    head = IntentHead.from_file(SHIPPED, emb)
    te_x, te_y = read_goemotions(ge / "test.tsv")
    if quick:
        te_x, te_y = te_x[:1000], te_y[:1000]
    te_e = text_features(emb, te_x, "query")

    def row(name: str, p: np.ndarray, th: np.ndarray) -> str:
        dec = p >= th
        top1 = (p / np.maximum(th, 1e-3)).argmax(1)
        return (f"| {name} | {len(te_x)} | {macro_f1(te_y, dec)[0]:.3f} | {(dec == (te_y > 0)).all(1).mean():.3f} | "
                f"{te_y[np.arange(len(te_y)), top1].mean():.3f} |")

    rows = [row(f"shipped models/intent-goemotions.pt ({len(head.members)} MLPs + lexical, mix {head.mix})",
                head.probs_from_features(te_e, te_x), head.thresholds)]
    notes = []
    if not quick:
        dv_x, dv_y = read_goemotions(ge / "dev.tsv")
        dv_e = text_features(emb, dv_x, "query")
        a_dv, a_te = head.embedding_probs(dv_e), head.embedding_probs(te_e)
        rows.append(row("its embedding view alone (thresholds on dev)", a_te, tune_thresholds(a_dv, dv_y)))
        (b_dv, _), (b_te, _) = head.lexical_probs(dv_x), head.lexical_probs(te_x)
        rows.append(row("its lexical view alone (thresholds on dev)", b_te, tune_thresholds(b_dv, dv_y)))
        tr_x, tr_y = read_goemotions(ge / "train.tsv")
        tr_e = torch.tensor(text_features(emb, tr_x, "query"))
        torch.manual_seed(0)
        probe = torch.nn.Linear(tr_e.shape[1], tr_y.shape[1])
        opt = torch.optim.AdamW(probe.parameters(), lr=2e-3, weight_decay=1e-4)
        y = torch.tensor(tr_y)
        gen = torch.Generator().manual_seed(0)
        for _ in range(10):
            perm = torch.randperm(len(tr_e), generator=gen)
            for i in range(0, len(perm), 256):
                b = perm[i:i + 256]
                loss = F.binary_cross_entropy_with_logits(probe(tr_e[b] * 10.0), y[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            p_dv = torch.sigmoid(probe(torch.tensor(dv_e) * 10.0)).numpy()
            p_te = torch.sigmoid(probe(torch.tensor(te_e) * 10.0)).numpy()
        rows.append(row("peer: linear probe on frozen e5, trained here (PERF-ANCHORS: 0.402)", p_te,
                        tune_thresholds(p_dv, dv_y)))
        shipped_f1 = macro_f1(te_y, head.probs_from_features(te_e, te_x) >= head.thresholds)[0]
        probe_f1 = macro_f1(te_y, p_te >= tune_thresholds(p_dv, dv_y))[0]
        notes.append(f"shipped / linear probe macro-F1: {shipped_f1 / max(probe_f1, 1e-9):.2f}×; "
                     "published BERT-base fine-tune: 0.46")
    rec_path = SHIPPED.with_suffix(".json")
    if rec_path.exists():
        rec = json.loads(rec_path.read_text())
        t = rec.get("test", {})
        notes.append(f"recorded at training (seed {rec.get('seed')}, {rec.get('data', {}).get('train_embedded')} train "
                     f"rows embedded): dev macro-F1 {rec.get('dev_macro_f1', float('nan')):.3f}, test macro-F1 "
                     f"{t.get('macro_f1', float('nan')):.3f}, exact {t.get('exact_match', float('nan')):.3f}, "
                     f"top-1 {t.get('top1_accuracy', float('nan')):.3f}")
    return "\n".join(["| intent head (GoEmotions test) | n | macro-F1 | exact match | top-1 acc |",
                      "|---|---:|---:|---:|---:|", *rows, "", *notes])


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
