"""The intent head: the 28 GoEmotions labels from text, for the Suggester's "intent match".

Two views, mixed in logit space (the weight chosen on the dev split with the thresholds):
- an ensemble of small MLPs over the frozen embedder's query vectors (multilingual: works on Chinese
  chats too). Why an ensemble: on GoEmotions one MLP's test macro-F1 moves by ±0.01 with its seed
  alone; averaging a few members removes most of that noise for ~0.4 MB per member;
- a lexical model (bag of words + bigrams over a vocabulary learned from the training text, plus
  hashed character 3–5-grams of Latin-script words, one linear layer), which sees the exact words
  ("thanks", "lol", "sorry") and their misspellings that a 4-bit small embedder blurs.
GoEmotions is English, so the lexical view only speaks for text that has Latin-script words it knows;
any other text (Chinese, emoji only) is read by the embedding view alone.
GoEmotions is multi-label, so each label has its own sigmoid, trained with a class-balanced BCE
(rare labels such as grief or relief get their positives up-weighted); per-label thresholds are tuned
on the dev split to maximise each label's F1 (never on test). `predict` returns per-label
probabilities; `distribution` normalises them to one distribution (for ranking stickers by intent).

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
import zlib
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
_LATIN_WORD = re.compile(r"[a-z][a-z0-9']*", re.I)


def lexical_tokens(text: str) -> list[str]:
    """Lower-cased words, CJK characters and symbols, plus adjacent-token bigrams."""
    toks = [t.lower() for t in _TOKEN.findall(text)]
    return toks + [a + " " + b for a, b in zip(toks, toks[1:])]


def char_grams(text: str, buckets: int) -> list[int]:
    """Hashed character 3–5-grams of the Latin-script words (with word boundaries), in [0, buckets).

    Why hashed: a fixed table size whatever the text, and unseen spellings ("thaaanks", "sooo sad")
    still land on the grams they share with the words the model learned. crc32 is stable across runs."""
    if buckets <= 0:
        return []
    out = []
    for w in _LATIN_WORD.findall(text.lower()):
        w = f"<{w}>"
        for n in (3, 4, 5):
            out.extend(zlib.crc32(w[i:i + n].encode()) % buckets for i in range(len(w) - n + 1))
    return out


class EmbeddingMLP(nn.Module):
    """One ensemble member: an MLP from an embedder vector to one logit per label."""

    def __init__(self, dim: int, n_labels: int = len(LABELS), hidden: int = 512, dropout: float = 0.3) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_labels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Unit-norm e5 vectors have tiny coordinates; ×10 puts them where default init expects inputs.
        return self.mlp(x * 10.0)


class LexicalBag(nn.Module):
    """Mean of per-token label weights (a linear model over a bag of n-grams) plus a bias."""

    def __init__(self, size: int, n_labels: int = len(LABELS)) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(max(1, size), n_labels, mode="mean")
        nn.init.zeros_(self.bag.weight)
        self.bias = nn.Parameter(torch.zeros(n_labels))

    def forward(self, tok: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.bag(tok, offsets) * 4.0 + self.bias


class IntentHead:
    """The embedding-view ensemble, the lexical view, its vocabulary and the per-label thresholds."""

    def __init__(self, members: Sequence[EmbeddingMLP], lexical: LexicalBag, vocab: dict[str, int],
                 thresholds: np.ndarray, embedder, labels: list[str] | None = None, meta: dict | None = None,
                 mix: float = 0.5, char_buckets: int = 0) -> None:
        self.members = [m.eval() for m in members]
        self.lexical = lexical.eval()
        self.vocab = vocab
        self.char_buckets = int(char_buckets)
        self.thresholds = np.asarray(thresholds, dtype=np.float32)
        self.embedder = embedder
        self.labels = labels or list(LABELS)
        self.meta = meta or {}
        self.mix = mix  # weight of the embedding view vs the lexical view, where the lexical view speaks

    # --- the views ---------------------------------------------------------------------------
    def lexical_ids(self, text: str) -> list[int]:
        """Vocabulary ids, then hashed char-gram ids (offset past the vocabulary); [] when the text
        has no word the vocabulary knows (the lexical view then stays silent)."""
        words = [self.vocab[w] for w in lexical_tokens(text) if w in self.vocab]
        if not words:
            return []
        base = len(self.vocab)
        return words + [base + h for h in char_grams(text, self.char_buckets)]

    def _bags(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
        ids, offsets, known = [], [], []
        for t in texts:
            offsets.append(len(ids))
            row = self.lexical_ids(t)
            known.append(bool(row))
            ids.extend(row or [0])
        return (torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long),
                np.array(known, dtype=bool))

    @torch.no_grad()
    def embedding_probs(self, feats: np.ndarray) -> np.ndarray:
        """The ensemble's mean sigmoid over embedder vectors (n, dim) -> (n, labels)."""
        x = torch.as_tensor(np.asarray(feats), dtype=torch.float32)
        return torch.stack([torch.sigmoid(m(x)) for m in self.members]).mean(0).numpy()

    @torch.no_grad()
    def lexical_probs(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(per-label probabilities, whether the text had a known word) for each text."""
        tok, off, known = self._bags(texts)
        return torch.sigmoid(self.lexical(tok, off)).numpy(), known

    def probs_from_features(self, feats: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Mixed probabilities for texts whose embedder vectors are already at hand."""
        if not len(texts):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        a = self.embedding_probs(feats)
        b, known = self.lexical_probs(texts)
        return mix_views(a, b, known, self.mix)

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
            return {l: float(p) for l, p in zip(self.labels, self.embedding_probs(texts[None, :])[0])}
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
    @staticmethod
    def _half(module: nn.Module) -> dict:
        return {k: (v.half() if v.is_floating_point() else v) for k, v in module.state_dict().items()}

    def save(self, path: Path) -> None:
        """fp16 weights + vocabulary + thresholds + mix + meta, written atomically (no half file)."""
        from assistant.config import atomic_write_bytes

        first = self.members[0].mlp
        buf = io.BytesIO()
        torch.save({"format": 2, "members": [self._half(m) for m in self.members], "lexical": self._half(self.lexical),
                    "vocab": self.vocab, "char_buckets": self.char_buckets, "thresholds": self.thresholds.tolist(),
                    "labels": self.labels, "dim": first[0].in_features, "hidden": first[0].out_features,
                    "mix": self.mix, "meta": self.meta}, buf)
        atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def from_file(cls, path: Path, embedder) -> "IntentHead":
        blob = torch.load(Path(path), map_location="cpu", weights_only=False)
        n = len(blob["labels"])

        def full(state: dict) -> dict:
            return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}

        if "members" in blob:
            states, lex_state = blob["members"], full(blob["lexical"])
        else:  # format 1 (one MLP + bag in one module): heads users trained before the ensemble
            old = full(blob["state"])
            states = [{k: v for k, v in old.items() if k.startswith("mlp.")}]
            lex_state = {"bag.weight": old["bag.weight"], "bias": old["bag_bias"]}
        buckets = int(blob.get("char_buckets", 0))
        members = []
        for s in states:
            m = EmbeddingMLP(blob["dim"], n, blob["hidden"])
            m.load_state_dict(full(s))
            members.append(m)
        lexical = LexicalBag(len(blob["vocab"]) + buckets, n)
        lexical.load_state_dict(lex_state)
        return cls(members, lexical, blob["vocab"], np.array(blob["thresholds"]), embedder, blob["labels"],
                   blob.get("meta"), blob.get("mix", 0.5), buckets)

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
    if not texts:
        raise ValueError(f"{path}: no rows")
    return texts, np.stack(ys)


def macro_f1(y: np.ndarray, dec: np.ndarray) -> tuple[float, np.ndarray]:
    tp = (y * dec).sum(0)
    fp = ((1 - y) * dec).sum(0)
    fn = (y * (1 - dec)).sum(0)
    f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1e-9), 0.0)
    return float(f1.mean()), f1


def tune_thresholds(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per label, the grid threshold with the best F1 on (p, y); 0.9 for a label with no positives."""
    grid = np.linspace(0.02, 0.9, 45)
    th = np.full(p.shape[1], 0.5, dtype=np.float32)
    for j in range(p.shape[1]):
        if not y[:, j].any():  # no dev example of this label: stay conservative
            th[j] = float(grid[-1])
            continue
        d = p[:, j][None, :] >= grid[:, None]  # (grid, n)
        tp = (d * y[:, j][None, :]).sum(1)
        f = 2 * tp / np.maximum(d.sum(1) + y[:, j].sum(), 1e-9)
        th[j] = float(grid[int(np.argmax(f))])  # first best, as the loop over the grid did
    return th


MIX_GRID = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def mix_views(a: np.ndarray, b: np.ndarray, known: np.ndarray, mix: float) -> np.ndarray:
    """sigmoid(mix·logit(a) + (1−mix)·logit(b)) where the lexical view knows a word, else `a`.

    Why logit space: a weighted product of the two views' odds, so a view that is sure (p≈0.95 or
    0.02) moves the result more than an averaged probability would; on GoEmotions dev and test it
    beat averaging probabilities by ~0.005 macro-F1."""
    if mix >= 1.0:
        return np.asarray(a, dtype=np.float32)
    mixed = 1.0 / (1.0 + np.exp(-(mix * _logit(a) + (1 - mix) * _logit(b))))
    return np.where(known[:, None], mixed, a).astype(np.float32)


def tune_mix(a: np.ndarray, b: np.ndarray, known: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, float]:
    """The weight of the embedding view (probabilities `a`) against the lexical view (`b`, used where
    `known`), chosen with its thresholds on dev.

    Why: which view is stronger depends on how much data each saw and on the embedder; a fixed 0.5
    wastes the better one. Returns (mix, thresholds, dev macro-F1)."""
    best = (-1.0, 0.5, None)
    for mix in MIX_GRID:
        p = mix_views(a, b, known, mix)
        th = tune_thresholds(p, y)
        f1, _ = macro_f1(y, p >= th)
        if f1 > best[0]:
            best = (f1, mix, th)
    return best[1], best[2], best[0]


def _dev_f1(p: np.ndarray, y: np.ndarray) -> float:
    return macro_f1(y, p >= tune_thresholds(p, y))[0]


def _pos_weight(y: np.ndarray) -> torch.Tensor:
    """sqrt(neg/pos) per label, clipped to [1, 10]: rare labels count more without swamping precision."""
    pos = y.mean(0)
    return torch.tensor(np.clip(np.sqrt((1 - pos) / np.maximum(pos, 1e-4)), 1.0, 10.0), dtype=torch.float32)


def _train_member(E: np.ndarray, Y: np.ndarray, dv_E: np.ndarray, dv_y: np.ndarray, seed: int, epochs: int,
                  hidden: int, on_epoch) -> tuple[EmbeddingMLP, list[dict], int]:
    """One MLP on embedder vectors, a one-cycle learning rate over a fixed number of epochs; the last
    epoch is kept. Why not the best dev epoch: picking it per member chases dev noise (members picked
    epochs 8 to 15 and scored worse on test than fixed-schedule ones); dev F1 is still logged."""
    torch.manual_seed(seed)
    net = EmbeddingMLP(E.shape[1], Y.shape[1], hidden)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=epochs * ((len(E) + 255) // 256),
                                                pct_start=0.1)
    pw = _pos_weight(Y)
    Et, Yt, Dv = torch.tensor(E), torch.tensor(Y), torch.tensor(dv_E)
    gen = torch.Generator().manual_seed(seed)
    history = []
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(Et), generator=gen)
        losses = []
        for i in range(0, len(perm), 256):
            b = perm[i:i + 256]
            loss = F.binary_cross_entropy_with_logits(net(Et[b]), Yt[b], pos_weight=pw)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        net.eval()
        with torch.no_grad():
            f1 = _dev_f1(torch.sigmoid(net(Dv)).numpy(), dv_y)
        history.append({"train_loss": round(float(np.mean(losses)), 5), "dev_macro_f1": round(f1, 4)})
        on_epoch(ep, f1)
    return net.eval(), history, epochs


def _train_lexical(ids: list[list[int]], Y: np.ndarray, dv_ids: list[list[int]], dv_y: np.ndarray, size: int,
                   seed: int, epochs: int, on_epoch, lr: float = 2e-3) -> tuple[LexicalBag, list[dict], int]:
    """The bag-of-n-grams linear model; the epoch with the best dev macro-F1 is kept (a convex model
    whose dev curve is smooth, so the pick is stable)."""
    torch.manual_seed(seed)
    lex = LexicalBag(size, Y.shape[1])
    opt = torch.optim.AdamW(lex.parameters(), lr=lr, weight_decay=1e-4)
    pw = _pos_weight(Y)
    Yt = torch.tensor(Y)
    gen = torch.Generator().manual_seed(seed)

    def bags(rows, idx):
        flat, offs = [], []
        for j in idx:
            offs.append(len(flat))
            flat.extend(rows[j] or [0])
        return torch.tensor(flat, dtype=torch.long), torch.tensor(offs, dtype=torch.long)

    dv_tok, dv_off = bags(dv_ids, range(len(dv_ids)))
    best, history = (-1.0, None, 0), []
    for ep in range(epochs):
        lex.train()
        perm = torch.randperm(len(ids), generator=gen)
        losses = []
        for i in range(0, len(perm), 256):
            b = perm[i:i + 256]
            tok, off = bags(ids, b.tolist())
            loss = F.binary_cross_entropy_with_logits(lex(tok, off), Yt[b], pos_weight=pw)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        lex.eval()
        with torch.no_grad():
            f1 = _dev_f1(torch.sigmoid(lex(dv_tok, dv_off)).numpy(), dv_y)
        history.append({"train_loss": round(float(np.mean(losses)), 5), "dev_macro_f1": round(f1, 4)})
        on_epoch(ep, f1)
        if f1 > best[0]:
            best = (f1, {k: v.clone() for k, v in lex.state_dict().items()}, ep + 1)
    lex.load_state_dict(best[1])
    return lex.eval(), history, best[2]


def train_intent(root: Path, embedder, train_limit: int | None = None, epochs: int = 12, seed: int = 0,
                 members: int = 5, char_buckets: int = 8192, hidden: int = 512, lexical_epochs: int = 20,
                 lexical_lr: float = 1e-2, progress=None) -> tuple[IntentHead, dict]:
    """Train on GoEmotions train: `members` embedding MLPs (seeds seed, seed+1, ...; the first
    `train_limit` rows, all by default; `epochs` each) and one lexical model (all rows; its best of
    `lexical_epochs` on dev), then the views' mix and the per-label thresholds are tuned on dev.
    Returns (head, report).

    Embedder vectors go through the feature store, so only the first run pays for embedding.
    Training runs on one torch thread: these models are small, and with two threads every step waits
    at OpenMP barriers (on a busy 2-core machine the run took over twice as long)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_intent(root, embedder, train_limit, epochs, seed, members, char_buckets, hidden,
                             lexical_epochs, lexical_lr, progress)
    finally:
        torch.set_num_threads(threads)


def _train_intent(root, embedder, train_limit, epochs, seed, members, char_buckets, hidden, lexical_epochs,
                  lexical_lr, progress) -> tuple[IntentHead, dict]:
    from assistant.ml.features import text_features

    t0 = time.monotonic()
    tr_x, tr_y = read_goemotions(root / "train.tsv")
    dv_x, dv_y = read_goemotions(root / "dev.tsv")
    counts = Counter(w for t in tr_x for w in set(lexical_tokens(t)))
    vocab = {"<none>": 0}
    for w, c in counts.most_common():
        if c >= 3:
            vocab[w] = len(vocab)
    n_emb = len(tr_x) if train_limit is None else min(train_limit, len(tr_x))
    total = members * epochs + lexical_epochs
    step = [0]

    def tick(what: str):
        def on_epoch(ep: int, f1: float) -> None:
            step[0] += 1
            if progress:
                progress(step[0], total, f"intent {what} epoch {ep + 1} dev macro-F1 {f1:.3f}")
        return on_epoch

    def embed_progress(done, tot, what):
        if progress:
            progress(0, total, f"embedding GoEmotions {done}/{tot}")

    emb = text_features(embedder, tr_x[:n_emb], "query", progress=embed_progress)
    dv_emb = text_features(embedder, dv_x, "query", progress=embed_progress)

    scratch = IntentHead([], LexicalBag(1), vocab, np.full(len(LABELS), 0.5), embedder, char_buckets=char_buckets)
    size = len(vocab) + max(0, char_buckets)
    lex, lex_hist, lex_ep = _train_lexical([scratch.lexical_ids(t) for t in tr_x], tr_y,
                                           [scratch.lexical_ids(t) for t in dv_x], dv_y, size, seed, lexical_epochs,
                                           tick("lexical"), lr=lexical_lr)
    nets, member_log = [], []
    for k in range(members):
        net, hist, ep = _train_member(emb, tr_y[:n_emb], dv_emb, dv_y, seed + k, epochs, hidden,
                                      tick(f"member {k + 1}/{members}"))
        nets.append(net)
        member_log.append({"seed": seed + k, "epochs": ep, "dev_macro_f1": hist[-1]["dev_macro_f1"],
                           "history": hist})

    head = IntentHead(nets, lex, vocab, np.full(len(LABELS), 0.5), embedder, char_buckets=char_buckets)
    a = head.embedding_probs(dv_emb)
    b, known = head.lexical_probs(dv_x)
    mix, th, dev_f1 = tune_mix(a, b, known, dv_y)
    head.mix, head.thresholds = mix, th
    seconds = time.monotonic() - t0
    head.meta = {"seed": seed, "members": members, "epochs": epochs, "hidden": hidden, "char_buckets": char_buckets,
                 "data": {"train": len(tr_x), "train_embedded": n_emb, "dev": len(dv_x),
                          "source": "GoEmotions (shared/datasets/goemotions)"},
                 "vocabulary": len(vocab), "dev_macro_f1": dev_f1, "mix": mix,
                 "dev_macro_f1_embedding_view": _dev_f1(a, dv_y), "dev_macro_f1_lexical_view": _dev_f1(b, dv_y),
                 "lexical": {"best_epoch": lex_ep, "epochs": lexical_epochs, "lr": lexical_lr,
                             "history": lex_hist}, "ensemble": member_log,
                 "thresholds_tuned_on": "GoEmotions dev", "mix_tuned_on": "GoEmotions dev",
                 "command": f"sticker-assistant train --intent --seed {seed}", "seconds": seconds}
    return head, {"dev_macro_f1": dev_f1, "seconds": seconds}


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
