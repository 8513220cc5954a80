"""The intent head: the 28 GoEmotions labels from text, for the Suggester's "intent match".

Two views, mixed in probability space (the weight chosen on the dev split with the thresholds):
- a small MLP over the frozen embedder's query vectors (multilingual: works on Chinese chats too);
- a lexical model (bag of words + bigrams, a linear layer over a vocabulary learned from the training
  text), which sees the exact words ("thanks", "lol", "sorry") a 4-bit small embedder blurs.
GoEmotions is multi-label, so each label has its own sigmoid, trained with a class-balanced BCE
(rare labels such as grief or relief get their positives up-weighted); per-label thresholds are tuned
on the dev split to maximise each label's F1. `predict` returns per-label probabilities;
`distribution` normalises them to one distribution (for ranking stickers by intent).

API:
    head = IntentHead.load(app)          # the user's trained head, else the shipped default in
                                         # models/, else trains one on GoEmotions (minutes, cached)
    head.predict(["thanks so much!"])    # [{label: prob}], the 28 labels
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

log = logging.getLogger(__name__)

LABELS = ["admiration", "amusement", "anger", "annoyance", "approval", "caring", "confusion", "curiosity",
          "desire", "disappointment", "disapproval", "disgust", "embarrassment", "excitement", "fear",
          "gratitude", "grief", "joy", "love", "nervousness", "optimism", "pride", "realization", "relief",
          "remorse", "sadness", "surprise", "neutral"]

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
SHIPPED = REPO_MODELS / "intent-goemotions.pt"
USER_NAME = "intent.pt"

_TOKEN = re.compile(r"[\u3400-\u9fff]|[a-z0-9']+|[^\sa-z0-9\u3400-\u9fff]", re.I)


def lexical_tokens(text: str) -> list[str]:
    toks = [t.lower() for t in _TOKEN.findall(text)]
    return toks + [a + " " + b for a, b in zip(toks, toks[1:])]


class IntentNet(nn.Module):
    """MLP over embedder features + a linear bag-of-ngrams model; logits per label."""

    def __init__(self, dim: int, vocab_size: int, n_labels: int = len(LABELS), hidden: int = 512,
                 dropout: float = 0.3) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_labels))
        self.bag = nn.EmbeddingBag(max(1, vocab_size), n_labels, mode="mean")
        nn.init.zeros_(self.bag.weight)
        self.bag_bias = nn.Parameter(torch.zeros(n_labels))

    def forward_parts(self, x: torch.Tensor, tok: torch.Tensor, offsets: torch.Tensor):
        return self.mlp(x * 10.0), self.bag(tok, offsets) * 4.0 + self.bag_bias


class IntentHead:
    """A trained IntentNet plus its vocabulary and per-label thresholds."""

    def __init__(self, net: IntentNet, vocab: dict[str, int], thresholds: np.ndarray, embedder,
                 labels: list[str] | None = None, meta: dict | None = None, mix: float = 0.5) -> None:
        self.net = net.eval()
        self.vocab = vocab
        self.thresholds = np.asarray(thresholds, dtype=np.float32)
        self.embedder = embedder
        self.labels = labels or list(LABELS)
        self.meta = meta or {}
        self.mix = mix  # weight of the embedding view vs the lexical view

    # --- inference ---------------------------------------------------------------------------
    def _bags(self, texts: Sequence[str]):
        ids, offsets = [], []
        for t in texts:
            offsets.append(len(ids))
            row = [self.vocab[w] for w in lexical_tokens(t) if w in self.vocab]
            ids.extend(row or [0])
        return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)

    @torch.no_grad()
    def probs_from_features(self, feats: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        tok, off = self._bags(texts)
        a, b = self.net.forward_parts(torch.as_tensor(feats, dtype=torch.float32), tok, off)
        return (self.mix * torch.sigmoid(a) + (1 - self.mix) * torch.sigmoid(b)).numpy()

    def probs(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        from assistant.ml.features import text_features

        feats = text_features(self.embedder, texts, "query") if texts else np.zeros((0, 384), np.float32)
        return self.probs_from_features(feats, texts)

    def predict(self, texts):
        """Per-label probabilities (independent sigmoids): a list of texts gives a list of dicts.

        A single embedder query vector (1-D array, as the Suggester already holds one) gives one dict
        from the embedding view alone (no words to read for the lexical view)."""
        if isinstance(texts, np.ndarray) and texts.ndim == 1:
            with torch.no_grad():
                a, _ = self.net.forward_parts(torch.as_tensor(texts[None, :], dtype=torch.float32),
                                              torch.zeros(1, dtype=torch.long), torch.zeros(1, dtype=torch.long))
            return {l: float(p) for l, p in zip(self.labels, torch.sigmoid(a)[0].numpy())}
        return [{l: float(p) for l, p in zip(self.labels, row)} for row in self.probs(list(texts))]

    def distribution(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """The same, divided by the per-label threshold and normalised to sum to 1: a label at its
        decision threshold counts as much as any other label at its own."""
        p = self.probs(texts) / np.maximum(self.thresholds, 1e-3)
        p = p / np.maximum(p.sum(1, keepdims=True), 1e-9)
        return [{l: float(x) for l, x in zip(self.labels, row)} for row in p]

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Multi-label decisions with the tuned thresholds; at least the top label (like GoEmotions)."""
        dec = probs >= self.thresholds
        top = probs / np.maximum(self.thresholds, 1e-3)
        dec[np.arange(len(probs)), top.argmax(1)] = True
        return dec

    # --- persistence -------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        from assistant.config import atomic_write_bytes

        state = {k: (v.half() if v.is_floating_point() else v) for k, v in self.net.state_dict().items()}
        buf = io.BytesIO()
        torch.save({"state": state, "vocab": self.vocab, "thresholds": self.thresholds.tolist(), "labels": self.labels,
                    "dim": self.net.mlp[0].in_features, "hidden": self.net.mlp[0].out_features,
                    "mix": self.mix, "meta": self.meta}, buf)
        atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def from_file(cls, path: Path, embedder) -> "IntentHead":
        blob = torch.load(Path(path), map_location="cpu", weights_only=False)
        net = IntentNet(blob["dim"], len(blob["vocab"]), len(blob["labels"]), blob["hidden"])
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state"].items()})
        return cls(net, blob["vocab"], np.array(blob["thresholds"]), embedder, blob["labels"], blob.get("meta"),
                   blob.get("mix", 0.5))

    @classmethod
    def load(cls, app) -> "IntentHead":
        """The user's head (heads_dir/intent.pt), else the shipped models/intent-goemotions.pt, else
        train one on ../shared/datasets/goemotions (or $STICKER_ASSISTANT_GOEMOTIONS) and save it."""
        with _lock:
            key = str(app.config.heads_dir)
            if key in _loaded:
                return _loaded[key]
            for p in (Path(app.config.heads_dir) / USER_NAME, SHIPPED):
                if p.exists():
                    try:
                        head = cls.from_file(p, app.embedder)
                        break
                    except Exception as exc:  # noqa: BLE001 - fall through to the next source
                        log.error("intent head %s unreadable: %s", p, exc)
            else:
                root = goemotions_dir()
                if root is None:
                    raise FileNotFoundError("no intent head is installed and the GoEmotions data is not found; "
                                            "set STICKER_ASSISTANT_GOEMOTIONS to its folder")
                head, _ = train_intent(root, app.embedder)
                head.save(Path(app.config.heads_dir) / USER_NAME)
            _loaded[key] = head
            return head


_loaded: dict[str, IntentHead] = {}
_lock = threading.Lock()


def goemotions_dir() -> Path | None:
    import os

    for p in (os.environ.get("STICKER_ASSISTANT_GOEMOTIONS"),
              Path(__file__).resolve().parents[3] / "shared" / "datasets" / "goemotions"):
        if p and (Path(p) / "train.tsv").exists():
            return Path(p)
    return None


def read_goemotions(path: Path) -> tuple[list[str], np.ndarray]:
    """(texts, multi-hot labels) from a GoEmotions .tsv (text, comma-separated ids, comment id)."""
    texts, ys = [], []
    with open(path, encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if len(row) < 2:
                raise ValueError(f"{path}:{n}: expected text<TAB>labels<TAB>id")
            y = np.zeros(len(LABELS), dtype=np.float32)
            try:
                for i in row[1].split(","):
                    y[int(i)] = 1.0
            except (ValueError, IndexError) as exc:
                raise ValueError(f"{path}:{n}: bad label list {row[1]!r}") from exc
            texts.append(row[0])
            ys.append(y)
    return texts, np.stack(ys)


def macro_f1(y: np.ndarray, dec: np.ndarray) -> tuple[float, np.ndarray]:
    tp = (y * dec).sum(0)
    fp = ((1 - y) * dec).sum(0)
    fn = (y * (1 - dec)).sum(0)
    f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1e-9), 0.0)
    return float(f1.mean()), f1


def tune_thresholds(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    grid = np.linspace(0.02, 0.9, 45)
    th = np.full(p.shape[1], 0.5, dtype=np.float32)
    for j in range(p.shape[1]):
        if not y[:, j].any():  # no dev example of this label: stay conservative
            th[j] = float(grid[-1])
            continue
        best = -1.0
        for t in grid:
            d = p[:, j] >= t
            tp = float((d * y[:, j]).sum())
            f = 2 * tp / max(1e-9, d.sum() + y[:, j].sum())
            if f > best:
                best, th[j] = f, t
    return th


MIX_GRID = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def tune_mix(net: IntentNet, vocab: dict[str, int], embedder, dv_emb: np.ndarray, dv_x: list[str],
             dv_y: np.ndarray) -> tuple[float, np.ndarray, float]:
    """The weight of the embedding view against the lexical view, chosen with its thresholds on dev.

    Why: which view is stronger depends on how much data each saw and on the embedder; a fixed 0.5
    wastes the better one. Returns (mix, thresholds, dev macro-F1)."""
    best = (-1.0, 0.5, None)
    for mix in MIX_GRID:
        p = IntentHead(net, vocab, np.full(len(LABELS), 0.5), embedder, mix=mix).probs_from_features(dv_emb, dv_x)
        th = tune_thresholds(p, dv_y)
        f1, _ = macro_f1(dv_y, p >= th)
        if f1 > best[0]:
            best = (f1, mix, th)
    return best[1], best[2], best[0]


def train_intent(root: Path, embedder, train_limit: int | None = None, epochs: int = 12, seed: int = 0,
                 progress=None) -> tuple[IntentHead, dict]:
    """Train on GoEmotions train (embedding view: the first `train_limit` rows, all by default;
    lexical view: all), pick the epoch, the views' mix and per-label thresholds on dev. Returns (head, report)."""
    from assistant.ml.features import text_features

    t0 = time.monotonic()
    torch.manual_seed(seed)
    tr_x, tr_y = read_goemotions(root / "train.tsv")
    dv_x, dv_y = read_goemotions(root / "dev.tsv")
    counts = Counter(w for t in tr_x for w in set(lexical_tokens(t)))
    vocab = {"<none>": 0}
    for w, c in counts.most_common():
        if c >= 3:
            vocab[w] = len(vocab)
    n_emb = len(tr_x) if train_limit is None else min(train_limit, len(tr_x))
    emb = text_features(embedder, tr_x[:n_emb], "query")
    dv_emb = text_features(embedder, dv_x, "query")
    net = IntentNet(emb.shape[1], len(vocab))
    head = IntentHead(net, vocab, np.full(len(LABELS), 0.5), embedder)
    tok_cache = [[vocab[w] for w in lexical_tokens(t) if w in vocab] or [0] for t in tr_x]
    pos = tr_y.mean(0)
    pos_weight = torch.tensor(np.clip(np.sqrt((1 - pos) / np.maximum(pos, 1e-4)), 1.0, 10.0), dtype=torch.float32)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    Y = torch.tensor(tr_y)
    E = torch.tensor(emb)
    gen = torch.Generator().manual_seed(seed)
    best = (-1.0, None, None)
    history = []
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(tr_x), generator=gen)
        for i in range(0, len(perm), 256):
            b = perm[i:i + 256]
            ids, offs = [], []
            for j in b.tolist():
                offs.append(len(ids))
                ids.extend(tok_cache[j])
            tok, off = torch.tensor(ids), torch.tensor(offs)
            has_emb = b < n_emb
            x = torch.zeros(len(b), E.shape[1])
            x[has_emb] = E[b[has_emb]]
            a, lex = net.forward_parts(x, tok, off)
            loss_lex = F.binary_cross_entropy_with_logits(lex, Y[b], pos_weight=pos_weight)
            loss = loss_lex
            if bool(has_emb.any()):
                loss = loss + F.binary_cross_entropy_with_logits(a[has_emb], Y[b][has_emb], pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        p = head.probs_from_features(dv_emb, dv_x)
        th = tune_thresholds(p, dv_y)
        f1, _ = macro_f1(dv_y, head.decide(p) if False else (p >= th))
        history.append({"epoch": ep + 1, "dev_macro_f1": f1})
        if progress:
            progress(ep + 1, epochs, f"intent epoch {ep + 1} dev macro-F1 {f1:.3f}")
        if f1 > best[0]:
            best = (f1, {k: v.clone() for k, v in net.state_dict().items()}, th)
    net.load_state_dict(best[1])
    mix, th, dev_f1 = tune_mix(net, vocab, embedder, dv_emb, dv_x, dv_y)
    best = (dev_f1, best[1], th)
    head = IntentHead(net.eval(), vocab, best[2], embedder, mix=mix,
                      meta={"seed": seed, "data": {"train": len(tr_x), "train_embedded": n_emb, "dev": len(dv_x),
                                                    "source": "GoEmotions (shared/datasets/goemotions)"},
                            "epochs": epochs, "history": history, "dev_macro_f1": best[0], "mix": mix,
                            "command": f"sticker-assistant train --intent --seed {seed}",
                            "seconds": time.monotonic() - t0})
    return head, {"dev_macro_f1": best[0], "seconds": time.monotonic() - t0}


def evaluate_intent(head: IntentHead, root: Path, split: str = "test", limit: int | None = None) -> dict:
    """Macro-F1 (dev-tuned thresholds), exact-match accuracy and top-1 accuracy (the most probable
    label, relative to its threshold, is one of the gold labels)."""
    from assistant.ml.features import text_features

    x, y = read_goemotions(root / f"{split}.tsv")
    if limit:
        x, y = x[:limit], y[:limit]
    p = head.probs_from_features(text_features(head.embedder, x, "query"), x)
    dec = p >= head.thresholds
    f1, per = macro_f1(y, dec)
    top1 = (p / np.maximum(head.thresholds, 1e-3)).argmax(1)
    return {"split": split, "n": len(x), "macro_f1": f1, "macro_f1_top1_fallback": macro_f1(y, head.decide(p))[0],
            "exact_match": float((dec == (y > 0)).all(1).mean()), "top1_accuracy": float(y[np.arange(len(y)), top1].mean()),
            "per_label_f1": {l: float(v) for l, v in zip(head.labels, per)}}


def report_markdown(res: dict, title: str = "Intent head on GoEmotions") -> str:
    lines = [f"### {title}", "", "| split | n | macro-F1 | exact-match acc | top-1 acc |", "|---|---:|---:|---:|---:|",
             f"| {res['split']} | {res['n']} | {res['macro_f1']:.3f} | {res['exact_match']:.3f} | {res['top1_accuracy']:.3f} |"]
    return "\n".join(lines)


def dump_meta(head: IntentHead) -> str:
    return json.dumps(head.meta, indent=2)
