"""How the per-signal scores of a candidate sticker become one ranking.

Signals (each optional; a missing one simply carries no weight):

- ``igsr``   the trained IGSR model's context→sticker match (cosine in its sticker space)
- ``image``  CLIP text→image cosine of the context and the sticker picture (zero-shot)
- ``text``   e5 cosine of the context and the sticker's words/emoji/description
- ``intent`` the probability the intent head gives to the sticker's own intent
- ``pref``   the PESRS preference-memory read: how strongly the user's past (context → sticker)
             choices point at this sticker for a context like this one
- ``fav``    the user marked it favourite
- ``usage``  how often the user sent it (a prior, log-scaled)

Why this shape:

1. Raw scales differ wildly (e5 cosines sit in 0.7–0.9, CLIP cosines in 0.15–0.35, intent
   probabilities in 0–1), so each signal is standardised *within the candidate pool*
   (z-score, clipped to ±3). The standard deviation has a per-signal floor (``min_spread``, about
   the smallest difference that means something for that model): otherwise a signal that is
   nearly flat over the pool — all e5 cosines within 0.005, i.e. no information — would be blown
   up to the same weight as a decisive one. A signal that is exactly flat gets z = 0.
2. Content signals (igsr, image, text, intent) are combined with fixed weights; IGSR, when a
   trained checkpoint exists, gets the largest weight, as it was trained on this user's data.
3. Content and preference are mixed through a gate, after PESRS §5.6.4
   (``y = g·content + (1−g)·preference``). The gate itself belongs to the preference memory
   (``ml/preference.py``: learned by ``train``, with a training-free default that reads how close
   the best past context is: *the more the current context resembles contexts the user answered
   before, the more the past choice should decide*). Here it arrives as ``pref_share`` = 1 − g.
   With no history the share is 0 and the ranking is pure content.
4. Favourites and usage are small additive priors, never enough to beat a clearly better match.
5. The final list is laid out for intent diversity. The IGSR paper's P@k counts a hit when any
   of the top k shares the right intent, and a top k that is all "amusement" wastes k−1 slots when
   the intent guess is wrong (the kNN + intent-vote reference in issue 7 shows exactly that: P@1 31
   but P@5 only 34). With reply intents (a trained IGSR head) the Suggester ranks by the
   evaluation's exact-sticker score instead of this fused score and lays it out as the evaluation's
   fused default (`exact_scores`, `intent_slot_order`, `SlotLayout`); without them, `diverse_order`,
   a greedy MMR over the fused score that penalises each sticker whose intent already appears.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

CONTENT_SIGNALS = ("igsr", "image", "text", "intent")
PRIOR_SIGNALS = ("fav", "usage")


@dataclass(frozen=True)
class FusionWeights:
    """Default weights; chosen so no single weak signal can dominate, IGSR leads when present."""

    igsr: float = 1.0
    image: float = 0.5
    text: float = 0.7
    intent: float = 0.6
    fav: float = 0.35
    usage: float = 0.15
    # Intent diversity: penalty (in fused-score standard deviations) per earlier pick of one intent.
    diversity: float = 0.6
    # Smallest standard deviation each signal is divided by (see point 1 above).
    min_spread: dict = field(default_factory=lambda: {"igsr": 0.02, "image": 0.015, "text": 0.015,
                                                      "intent": 0.05, "pref": 0.01})
    extra: dict = field(default_factory=dict)

    def weight(self, name: str) -> float:
        return float(getattr(self, name, self.extra.get(name, 0.0)))


DEFAULT_WEIGHTS = FusionWeights()


def standardise(values: np.ndarray, min_spread: float = 0.0, clip: float | None = 3.0) -> np.ndarray:
    """z-score within the pool, clipped to ±`clip` (None: not clipped); NaN (signal absent for a
    candidate) and a flat row become 0."""
    v = np.asarray(values, dtype=np.float64)
    ok = ~np.isnan(v)
    out = np.zeros_like(v)
    if ok.sum() < 2:
        return out
    mu = v[ok].mean()
    sd = v[ok].std()
    if sd < 1e-9:
        return out
    z = (v[ok] - mu) / max(sd, min_spread)
    out[ok] = z if clip is None else np.clip(z, -clip, clip)
    return out


@dataclass
class Fused:
    scores: np.ndarray  # fused score per candidate, same order as the input
    pref_share: float  # preference share used (1 - the PESRS gate)
    used: list[str]  # signals that carried information


def fuse(signals: dict[str, np.ndarray], *, pref_share: float = 0.0,
         weights: FusionWeights = DEFAULT_WEIGHTS) -> Fused:
    """Fuse per-candidate signal arrays (NaN = absent for that candidate) into one score each.

    ``signals`` maps names from the module docstring to arrays of equal length; ``pref_share`` is
    the preference memory's share of the final score (1 − its gate), in [0, 1].
    """
    n = len(next(iter(signals.values()))) if signals else 0
    content = np.zeros(n)
    content_w = 0.0
    used = []
    for name in CONTENT_SIGNALS:
        if name not in signals:
            continue
        z = standardise(signals[name], weights.min_spread.get(name, 0.0))
        if not z.any():
            continue
        w = weights.weight(name)
        content += w * z
        content_w += w
        used.append(name)
    if content_w > 0:
        content /= content_w

    gate = 0.0
    pref = np.zeros(n)
    if "pref" in signals:
        pref = standardise(signals["pref"], weights.min_spread.get("pref", 0.0))
        if pref.any():
            gate = min(1.0, max(0.0, float(pref_share)))
            used.append("pref")
    if content_w == 0 and pref.any():
        gate = 1.0  # nothing else to go on: the user's own history is the best guess
    score = (1.0 - gate) * content + gate * pref

    for name in PRIOR_SIGNALS:
        if name in signals:
            v = np.nan_to_num(np.asarray(signals[name], dtype=np.float64))
            if v.any():
                score += weights.weight(name) * v
                used.append(name)
    return Fused(scores=score, pref_share=gate, used=used)


def diverse_order(scores: np.ndarray, intents: list[str | None], k: int,
                  weights: FusionWeights = DEFAULT_WEIGHTS) -> list[int]:
    """Greedy top-k: each pick's intent already chosen m times costs ``m · diversity · σ``.

    A sticker without an intent counts as its own group (never penalised), so unlabelled
    libraries keep the plain score order.
    """
    n = len(scores)
    if n == 0 or k <= 0:
        return []
    s = np.asarray(scores, dtype=np.float64)
    spread = float(s.std()) or 1.0
    penalty = weights.diversity * spread
    # Only the best few per intent can ever be picked: bound the greedy loop.
    order = list(np.argsort(-s, kind="stable")[: max(k * 8, 64)])
    chosen: list[int] = []
    counts: dict[str, int] = {}
    while order and len(chosen) < k:
        best_j = 0
        best_v = -math.inf
        for j, i in enumerate(order):
            it = intents[i]
            v = s[i] - (counts.get(it, 0) * penalty if it else 0.0)
            if v > best_v:
                best_v, best_j = v, j
        i = order.pop(best_j)
        chosen.append(int(i))
        if intents[i]:
            counts[intents[i]] = counts.get(intents[i], 0) + 1
    return chosen


# --- Intent slots: the final layout of the fused default and of the Suggester ----------------------
@dataclass(frozen=True)
class SlotLayout:
    """How the final ranking is laid out, and how exact stickers are scored.

    - ``slots``: the first places hold the best sticker of each of the ``slots`` most probable
      intents (most probable first): IGSR's P@k counts a hit when any of the top k has the right
      intent, and a row of one intent wastes every slot when the intent guess is wrong.
    - ``joint``: the next places go to the most probable *exact* stickers over all intents
      (exact score + ``intent``·log P(its intent)), so a sticker the user sends all the time is not
      pushed past the first ten by the next intent's runner-up.
    - the rest: grouped by intent probability, best first inside each intent (what mAP rewards).
    - ``exact_value``: with it above 0, the slots after the first are filled by expected gain
      (`gain_slots`): a place is worth P(intent) when it shows a new intent, plus ``exact_value`` ×
      the probability that this very sticker is the one sent. So a sticker the user is very likely to
      send can take the place of a long-shot intent, which one slot per intent (0) never allows.

    The exact score (`exact_scores`) is a log-linear model of "this is the sticker the user sends
    now": ``match``·z(content match) + ``prior``·log(1 + sends) + ``seen``·[sent before] +
    ``memory``·log(memory read + ``memory_floor``) + ``words``·z(context ↔ the words on the sticker,
    embedded) + ``lexical``·z(BM25 of the context over those words) + ``crowd``·log(1 + the sends of
    every sticker of its intent). Its weights are the
    maximum-likelihood fit of that model (softmax over the whole pool) on 4-fold cross-validation
    inside msairs-dev's *train* split, never on the reported split; ``joint`` and eval.run's
    INTENT_WEIGHTS and ``exact_value`` were picked there too, as the candidate whose weakest lead over
    the IGSR and most-used baselines and over issue 7's bars, in standard errors, is the largest
    (`python -m assistant.eval.tune DATASET` reproduces all of it). Read off the fit: a sticker sent
    once is no evidence of a habit (the negative ``seen`` cancels 2.2·log 2), one sent again and again
    is (PESRS: the user's own preferences), and more so when few other sends share its intent
    (``crowd`` < 0: with log P(intent) beside it, the send prior becomes a share within the intent,
    P(sticker) = P(intent) · P(sticker | intent)); the content match orders the many stickers never
    sent, and the words on a sticker,
    matched literally, add to it (a post about "加油" and a sticker that says 加油); the memory's read adds
    next to nothing once those are in, and on msairs its intent vote (eval/run.py) made the intents
    worse whatever its share, so the winning mix gives it none (the candidates and their scores are in
    `eval/tune.py`).

    The Suggester scores and lays out its list the same way, exact value included, whenever it has
    *reply* intents (the intents a trained IGSR head predicts for the sticker the user answers with,
    learned from their own sends): `Suggester._exact_scores` computes these terms from the app's
    signals, with the weights `train --from-history` refits on the user's own latest sends when there
    are enough of them (ml/calibration.py). Without one it keeps `diverse_order`: the GoEmotions head reads the emotion *of the
    context* ("my cat is sick": sadness), not the intent of the reply (caring), so it may shade a
    score but must not decide the first place.
    """

    slots: int = 5
    joint: int = 5
    match: float = 0.17
    prior: float = 2.19
    seen: float = -2.27
    memory: float = 0.01  # the memory's read adds next to nothing once match and sends are in
    memory_floor: float = 1e-3
    intent: float = 1.43
    words: float = 0.09
    lexical: float = 0.09
    crowd: float = -1.19
    exact_value: float = 4.0


DEFAULT_LAYOUT = SlotLayout()


def zscore(values: np.ndarray) -> np.ndarray:
    """Unclipped z-score over the entries that are not NaN (the exact score's features: a log-linear
    model fitted on them as they are); NaN (no value for that sticker) and a flat row give 0."""
    return standardise(values, clip=None)


EXACT_TERMS = ("match", "prior", "seen", "memory", "words", "lexical", "crowd")  # SlotLayout's weight of each


def intent_sends(usage: np.ndarray, intents) -> np.ndarray:
    """Per sticker, the sends of every sticker that shares its intent (itself included; stickers
    without an intent form one group): the ``crowd`` term's input, counted over the whole library so
    that a candidate pool cut from it sees the same totals."""
    u = np.asarray(usage, dtype=np.float64)
    total: dict = {}
    for label, x in zip(intents, u):
        total[label] = total.get(label, 0.0) + x
    return np.array([total[label] for label in intents], dtype=np.float64)


def exact_terms(match: np.ndarray, usage: np.ndarray | None = None, memory: np.ndarray | None = None,
                words: np.ndarray | None = None, lexical: np.ndarray | None = None,
                memory_floor: float = DEFAULT_LAYOUT.memory_floor,
                crowd: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The terms of the exact score (EXACT_TERMS), one value per sticker; an input left out leaves
    its terms out. `exact_scores` weighs them; eval/tune.py fits the weights on the same terms.

    ``match`` is a content score on any scale (z-scored over the candidates here), ``usage`` raw
    send counts, ``memory`` the preference memory's read mass per sticker (sums to at most 1),
    ``words`` the embedded context ↔ sticker-words similarity (NaN for a sticker without words) and
    ``lexical`` a literal word-overlap score (BM25) of the context over the sticker's words, and
    ``crowd`` the sends of the stickers sharing each one's intent (`intent_sends`), taken as
    log(1 + it): with log P(intent) in the joint score it makes the send prior a share *within* the
    intent, P(sticker) = P(intent) · P(sticker | intent), instead of counting a habit in a crowded
    intent as much as one in a rare intent."""
    terms = {"match": zscore(match)}
    if usage is not None:
        u = np.asarray(usage, dtype=np.float64)
        terms["prior"] = np.log1p(u)
        terms["seen"] = (u > 0).astype(np.float64)
    if memory is not None:
        terms["memory"] = np.log(np.asarray(memory, dtype=np.float64) + memory_floor)
    if words is not None:
        terms["words"] = zscore(words)
    if lexical is not None:
        terms["lexical"] = zscore(lexical)
    if crowd is not None:
        terms["crowd"] = np.log1p(np.asarray(crowd, dtype=np.float64))
    return terms


def exact_scores(match: np.ndarray, usage: np.ndarray | None = None, memory: np.ndarray | None = None,
                 layout: SlotLayout = DEFAULT_LAYOUT, words: np.ndarray | None = None,
                 lexical: np.ndarray | None = None, crowd: np.ndarray | None = None) -> np.ndarray:
    """One score per sticker for "is this the exact sticker the user sends now" (see SlotLayout):
    the `exact_terms`, each times its weight in `layout`."""
    out = np.zeros(len(match))
    for name, term in exact_terms(match, usage, memory, words, lexical, layout.memory_floor, crowd).items():
        weight = getattr(layout, name)
        if weight:
            out = out + weight * term
    return out


def combine_intents(sources: list[tuple[dict[str, float] | None, float]]) -> dict[str, float]:
    """A weighted mean of intent distributions (label → probability); empty or missing ones skipped."""
    total: dict[str, float] = {}
    wsum = 0.0
    for dist, w in sources:
        if not dist or w <= 0:
            continue
        s = sum(dist.values())
        if s <= 0:
            continue
        for label, p in dist.items():
            total[label] = total.get(label, 0.0) + w * p / s
        wsum += w
    return {label: p / wsum for label, p in total.items()} if wsum else {}


def intent_slot_order(scores: np.ndarray, intents, intent_probs: dict[str, float],
                      slots: int = DEFAULT_LAYOUT.slots, joint: int = DEFAULT_LAYOUT.joint,
                      intent_weight: float = DEFAULT_LAYOUT.intent, exact_value: float = 0.0) -> np.ndarray:
    """Every candidate index, best first, laid out as SlotLayout describes.

    ``exact_value`` > 0 fills the slots after the first by expected gain (`gain_slots`) instead of one
    per intent in intent order. Stickers without a known intent come last in the grouped tail and enter
    the joint places with half the smallest intent probability."""
    s = np.asarray(scores, dtype=np.float64)
    n = len(s)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    ranked = [l for l, _ in sorted(intent_probs.items(), key=lambda kv: (-kv[1], kv[0]))]
    rank_of = {l: r for r, l in enumerate(ranked)}
    unknown = len(ranked)
    group = np.array([rank_of.get(i, unknown) if i is not None else unknown + 1 for i in intents])
    order = np.lexsort((-s, group))  # by intent rank, then best score first
    top = min(slots, len(ranked))
    floor = 0.5 * min(intent_probs.values(), default=1.0) or 1e-9
    p = np.array([intent_probs.get(i, floor) if i is not None else floor for i in intents], dtype=np.float64)
    joint_score = s + intent_weight * np.log(np.maximum(p, 1e-9))
    taken = np.zeros(n, dtype=bool)
    head: list[int] = []
    if exact_value > 0 and top > 0:
        head = gain_slots(joint_score, group, np.where(group < unknown, p, 0.0), order, top, exact_value)
    else:
        seen: set[int] = set()
        for idx in order:  # by intent rank: the first sticker met of each of the `top` intents
            g = int(group[idx])
            if g < top and g not in seen:
                seen.add(g)
                head.append(int(idx))
                if len(seen) == top:
                    break
    taken[head] = True
    if joint > 0:
        cand = np.flatnonzero(~taken)
        best = cand[np.argsort(-joint_score[cand], kind="stable")[:joint]]
        head += [int(i) for i in best]
        taken[best] = True
    rest = order[~taken[order]]
    return np.concatenate([np.array(head, dtype=np.int64), rest.astype(np.int64)])


def gain_slots(joint_score: np.ndarray, group: np.ndarray, intent_p: np.ndarray, order: np.ndarray,
               places: int, exact_value: float) -> list[int]:
    """The first `places` indices, picked one at a time by expected gain.

    A place can win a hit two ways: the shown sticker's intent is the right one (IGSR's P@k, worth
    P(intent) the first time an intent is shown, nothing after) or it is the very sticker the user
    sends (exact R@k, worth its probability, the softmax of ``joint_score``: exact score + weight ·
    log P(intent), the model `tune.fit_exact_weights` fits). ``exact_value`` is what an exact hit is
    worth against an intent hit. One slot per intent in intent order is the special case 0; with more,
    a sticker the user is very likely to send takes a place from a long-shot intent. The first place
    is always the best sticker of the most probable intent: P@1, IGSR's headline, is the intent guess
    itself, and on the folds letting it go cost 1.1 points of P@1 for 0.2 of R@1.

    ``group`` is each candidate's intent rank (≥ the number of intents: unknown), ``intent_p`` its
    intent's probability (0 when unknown) and ``order`` the candidates by intent rank, then score."""
    pe = np.exp(joint_score - joint_score.max())
    pe /= pe.sum()
    head = [int(order[0])]
    shown = {int(group[order[0]])}
    taken = np.zeros(len(joint_score), dtype=bool)
    taken[head] = True
    for _ in range(min(places, len(joint_score)) - 1):
        new = np.where(np.isin(group, list(shown)), 0.0, intent_p)
        gain = np.where(taken, -np.inf, exact_value * pe + new)
        tied = np.flatnonzero(gain == gain.max())
        pick = int(tied[np.lexsort((-joint_score[tied], group[tied]))[0]])
        head.append(pick)
        taken[pick] = True
        shown.add(int(group[pick]))
    return head
