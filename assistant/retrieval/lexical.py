"""Literal word overlap between a conversation and the words on stickers (BM25).

The exact-sticker score (`fusion.exact_scores`) has a literal term beside the embedded one: a post
about "加油" and a sticker that says 加油 match on the characters themselves, which an embedding
blurs. The evaluation's BM25 baseline and the Suggester both score with these two functions, so the
term the weights were fitted on is the term the app computes.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_WORD = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    """Characters + bigrams for CJK runs, lower-cased words otherwise (no segmenter needed)."""
    text = text.lower()
    cjk = [c for c in text if _CJK.match(c)]
    tokens = cjk + [a + b for a, b in zip(cjk, cjk[1:])]
    tokens += _WORD.findall(text)
    return tokens


@lru_cache(maxsize=100_000)
def _doc_tokens(words: str) -> tuple[str, ...]:
    """A sticker's tokens, kept: the Suggester scores the same stickers' words call after call."""
    return tuple(tokenize(words))


def bm25_scores(queries: list[str], sticker_words: list[str]) -> np.ndarray:
    """queries × stickers BM25 (rank-bm25's Okapi) of each query over the stickers' words; all zero
    when no sticker has words. Document frequencies are those of `sticker_words` as given."""
    from rank_bm25 import BM25Okapi

    docs = [_doc_tokens(w) for w in sticker_words]
    if not any(docs):
        return np.zeros((len(queries), len(sticker_words)))
    bm = BM25Okapi([d if d else ("\x00",) for d in docs])
    out = np.zeros((len(queries), len(sticker_words)))
    for i, q in enumerate(queries):
        toks = tokenize(q)
        if toks:
            out[i] = bm.get_scores(toks)
    return out
