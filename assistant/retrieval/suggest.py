"""The runtime suggestion path: pasted conversation in, ranked stickers with readable reasons out.

    conversation ──► chats/plaintext.py ──► utterances ──► one context vector (e5 "query:")
       relevant memories (memory bank) ─────────────┐            │
    candidates: text ∪ image ∪ preference ∪ favourites ∪ most used
    signals per candidate: IGSR · CLIP image · e5 text · intent · preference memory · favourite · usage
       ──► retrieval/fusion.py: with a trained IGSR head's reply intents, the evaluated fused default
           (exact-sticker score, intent slots by expected gain); else the gated fused score, MMR
       ──► top k, hidden ones never

Why it is shaped like this (latency goal: p50 ≤ 100 ms warm, 10,000 stickers, 20-message context):
- Per-process state is built once per *library version* and reused: the sticker rows, their text
  (and image) vectors as NumPy matrices, intents, favourites, usage, the preference memory and the
  intent head. The version is a cheap aggregate over the catalog (count, max id, max indexed_at,
  hidden/favourite checksums, messages), so editing, hiding or importing invalidates it.
- Up to `MATRIX_LIMIT` stickers, candidates come from the app's own vector index
  (retrieval/vector_index.py: exact below 20k rows, an IVF with a self-checked recall@10 ≥ 0.99
  above), kept in memory and synced incrementally with the catalog (new, re-indexed and removed
  stickers by their indexed_at stamp, hidden flags), persisted under cache/ so a restart does not
  pull every vector out of Chroma again. Pool members' scores are exact cosines from the same rows.
  Above the limit (memory), candidates come from Chroma's HNSW and only the pool's vectors are fetched.
- The context is embedded once; that one vector feeds text match, the preference-memory read and the
  intent head. The LLM is never on this path (memories are summaries made earlier).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.app import ModelUnavailable
from assistant.domain import Sticker, Suggestion, Utterance
from assistant.memory.bank import STICKER_IMAGES, STICKER_TEXTS
from assistant.retrieval.fusion import (DEFAULT_LAYOUT, DEFAULT_WEIGHTS, FusionWeights, SlotLayout, diverse_order,
                                        exact_scores, fuse, intent_sends, intent_slot_order, standardise, zscore)
from assistant.retrieval.lexical import bm25_scores
from assistant.retrieval.vector_index import IndexFileError, VectorIndex

log = logging.getLogger(__name__)
_FALLBACK_DIM = 384  # multilingual-e5-small's width, for the zero vector when the embedder is off

MATRIX_LIMIT = 150_000  # in-memory vector index up to here (150k x (384 + 512) float32 = 540 MB); above
# it, HNSW candidates from Chroma (bench_search: recall 0.94 at 100k with the app's settings)
POOL_PER_SIGNAL = 150  # candidates taken from each retrieval signal
RECHECK_AFTER = 100  # real queries an IVF index serves before a library rebuild re-checks its recall
MOST_USED = 20
CONTEXT_TURNS = 6  # the last turns that make the context string (as ml/features.context_text)
SIMILAR_FLOOR = 0.80  # e5 cosine below which a past context never counts as "similar" in the reasons
FAVOURITE_LOG_ODDS = math.log(2.0)  # a favourite's odds of being the sticker sent now, doubled (exact score)


def parse_conversation(conversation: str | list[Utterance], me: str | None = None) -> list[Utterance]:
    """Utterances from pasted text (through chats/plaintext.py) or passed through as they are."""
    if isinstance(conversation, str):
        from assistant.chats import plaintext

        return list(plaintext.parse(conversation))
    return list(conversation)


@dataclass
class _Library:
    """Everything about the sticker library the suggester needs, built once per library version."""

    version: tuple
    ids: np.ndarray  # sticker ids, row order of the matrices
    stickers: dict[int, Sticker]
    row_of: dict[int, int]
    text: VectorIndex | None  # e5 passage vectors by sticker id, or None above MATRIX_LIMIT
    image: VectorIndex | None  # CLIP image vectors (stickers without one are absent)
    intents: list[str | None]
    hidden: np.ndarray
    favourite: np.ndarray
    usage: np.ndarray  # log-scaled use count in [0, 1]
    use_count: np.ndarray
    intent_sends: np.ndarray  # per sticker, the sends of all stickers of its intent (fusion.intent_sends)
    extras: dict = field(default_factory=dict)  # lazily built per-version models (preference, igsr...)


class Suggester:
    """Suggest stickers for a conversation. Thread-safe; one per App is enough (see `for_app`)."""

    def __init__(self, app, weights: FusionWeights = DEFAULT_WEIGHTS, layout: SlotLayout = DEFAULT_LAYOUT) -> None:
        self.app = app
        self.weights = weights
        self.layout = layout
        self._lock = threading.RLock()
        self._lib: _Library | None = None
        self._vec_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.matrix_limit = MATRIX_LIMIT
        self._indexes: dict[str, VectorIndex] = {}  # outlive library versions: synced, not rebuilt
        self._absent: dict[str, dict[int, float]] = {}  # id -> stamp of stickers the store had no vector for
        self.last_timings: dict[str, float] = {}
        self.last_memories: list = []
        self.last_reply_intents: dict[str, float] = {}  # a trained IGSR head's reply intents, last call

    # --- public -------------------------------------------------------------------------------
    def suggest(self, conversation: str | list[Utterance], k: int = 8, chat: int | None = None,
                me: str | None = None) -> list[Suggestion]:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        utterances = parse_conversation(conversation)
        lib = self.library()
        timings["library"] = time.perf_counter() - t0
        if len(lib.ids) == 0:
            self.last_timings = timings
            return []
        me = me or self._default_me()
        ctx_text = self.context_text(utterances, lib)
        qvec = self._query_vector(ctx_text)
        timings["embed"] = time.perf_counter() - t0 - sum(timings.values())

        memories = self._memories(ctx_text, qvec, chat)
        self.last_memories = memories
        timings["memories"] = time.perf_counter() - t0 - sum(timings.values())

        pool, signals, notes = self._score(lib, qvec, ctx_text, utterances, memories, me, chat)
        timings["score"] = time.perf_counter() - t0 - sum(timings.values())

        fused = fuse(signals, pref_share=notes.get("pref_share", 0.0), weights=self.weights)
        self.last_reply_intents = dict(notes.get("reply_intents") or {})
        intents = [lib.intents[lib.row_of[i]] for i in pool]
        # With reply intents the list is ranked by the evaluated exact-sticker score (see `_order`)
        scores = notes["exact"] if "exact" in notes else fused.scores
        order = self._order(scores, intents, notes, max(k * 3, k))
        visible = self._still_visible([pool[j] for j in order])
        out: list[Suggestion] = []
        for j in order:
            sid = pool[j]
            if sid not in visible:
                continue
            parts = {name: float(v[j]) for name, v in signals.items() if not math.isnan(float(v[j]))}
            parts["pref_share"] = fused.pref_share
            st = lib.stickers[sid]
            out.append(Suggestion(sticker=st, score=float(scores[j]), parts=parts,
                                  reasons=self._reasons(st, j, signals, notes, fused.pref_share)))
            if len(out) >= k:
                break
        timings["fuse"] = time.perf_counter() - t0 - sum(timings.values())
        timings["total"] = time.perf_counter() - t0
        self.last_timings = timings
        return out

    def _order(self, scores: np.ndarray, intents: list[str | None], notes: dict, n: int) -> list[int]:
        """The first `n` pool positions.

        With reply intents (a trained IGSR head's prediction of the intent of the sticker the user
        answers with), `scores` are the exact-sticker scores (`_exact_scores`) and the layout is the
        evaluation's fused default (`fusion.intent_slot_order` with `SlotLayout.exact_value`): the
        first place is the best sticker of the most probable intent, the next ones go by expected gain
        (a new likely intent, or a sticker this user very likely sends now), the rest to the best
        stickers over all intents. Without reply intents, `diverse_order` over the fused score, where
        the context's emotion is one signal among others (see `fusion.SlotLayout` for why it must not
        pick the first place)."""
        reply = notes.get("reply_intents")
        if not reply:
            return diverse_order(scores, intents, n, self.weights)
        layout = notes.get("layout", self.layout)
        order = intent_slot_order(scores, intents, reply, layout.slots, max(layout.joint, n - layout.slots),
                                  intent_weight=layout.intent, exact_value=layout.exact_value)
        return [int(j) for j in order[:n]]

    def warm(self, me: str | None = None, progress=None, cancel=None) -> dict[str, float]:
        """Do ahead of time what the first suggestion would otherwise do while the user waits.

        That is: build the library state and vector index, load the text embedder, the trained heads
        and CLIP, run a trained IGSR head over the library's stickers, open the memory bank, and build
        the preference memory. The last step embeds the context before every sticker the user ever
        sent. Those vectors are cached on disk (FeatureStore), so a later start only reads them back.
        The GUI runs this in a worker at start and after each import. Returns the seconds each step
        took (logs, bench_suggest)."""
        steps = [("library", self.library),
                 ("embedder", lambda: self._query_vector("")),
                 ("models", lambda: (self._igsr(), self._intent_head(), self.app.clip)),
                 ("learned match", self._warm_igsr),
                 ("memory bank", lambda: self.app.catalog.count("memories") and self.app.bank),
                 ("habits", lambda: self._preference(me or self._default_me()))]
        took: dict[str, float] = {}
        for i, (name, step) in enumerate(steps):
            if cancel is not None:
                cancel.check()
            if progress is not None:
                progress(i, len(steps), f"Preparing suggestions: {name}")
            t = time.perf_counter()
            try:
                step()
            except ModelUnavailable as exc:  # the first real call says what is off; warming goes on
                log.info("warm-up: %s unavailable (%s)", name, exc)
            took[name] = time.perf_counter() - t
        if progress is not None:
            progress(len(steps), len(steps), "Suggestions ready")
        return took

    def _warm_igsr(self) -> None:
        """The trained IGSR head's vector of every visible sticker, computed once: otherwise each call
        pays for the pool members it has not met yet (their features read back, the adapter run)."""
        lib = self.library()
        scorer = self._igsr(lib)
        if scorer is not None and len(lib.ids):
            scorer.sticker_matrix([int(i) for i in lib.ids[~lib.hidden]])

    def features_off(self) -> list[str]:
        """Signals that are off right now, each with how to turn it on (for the CLI and the GUI)."""
        off = []
        if "embedder" in self.app.failed or ("embedder" in self.app._overrides
                                              and self.app._overrides["embedder"] is None):
            off.append("text embedder unavailable: text matching and memories off — run "
                       "`sticker-assistant models verify` (it says how to repair it)")
        if self.app.clip is None:
            off.append("CLIP not installed: image matching off — run `sticker-assistant models install clip` "
                       "or `sticker-assistant models import clip FILE`")
        if self._igsr() is None:
            off.append("no trained IGSR model yet: learned matching off — run `sticker-assistant train`")
        if self._intent_head() is None:
            off.append("no intent head yet: intent matching off — run `sticker-assistant train`")
        try:
            if self.app.catalog.count("memories") == 0:
                off.append("memory bank empty: past sessions are not used — run "
                           "`sticker-assistant memory build`")
        except Exception:  # noqa: BLE001 - an old catalog without the table must not stop suggestions
            pass
        return off

    def invalidate(self) -> None:
        with self._lock:
            self._lib = None

    # --- library state ------------------------------------------------------------------------
    def _version(self) -> tuple:
        conn = self.app.catalog.conn
        row = conn.execute(
            "SELECT COUNT(*), COALESCE(MAX(id),0), COALESCE(MAX(indexed_at),0), COALESCE(SUM(hidden*id),0), "
            "COALESCE(SUM(favourite*id),0), COALESCE(MAX(described_at),0) FROM stickers").fetchone()
        msg = conn.execute("SELECT COALESCE(MAX(id),0), COUNT(*) FROM messages").fetchone()
        kv = self.app.catalog.get_kv("library_version", 0)
        return tuple(row) + tuple(msg) + (kv,)

    def library(self) -> _Library:
        """The cached library state, rebuilt when the catalog changed since it was built."""
        version = self._version()
        with self._lock:
            if self._lib is None or self._lib.version != version:
                self._lib = self._build(version)
            return self._lib

    def _build(self, version: tuple) -> _Library:
        app = self.app
        stickers = app.catalog.stickers(None, app.config.stickers_dir)
        ids = np.array([s.id for s in stickers], dtype=np.int64)
        row_of = {int(s.id): i for i, s in enumerate(stickers)}
        n = len(stickers)
        text = image = None
        if 0 < n <= self.matrix_limit:
            stamps = dict(app.catalog.conn.execute("SELECT id, COALESCE(indexed_at, 0) FROM stickers"))
            hidden = {s.id for s in stickers if s.hidden}
            text = self._sync_index(STICKER_TEXTS, stamps, hidden)
            if app.clip is not None:
                image = self._sync_index(STICKER_IMAGES, stamps, hidden)
        from assistant.ml.emoji_intents import intent_for_emoji

        intents = [s.intent or intent_for_emoji(s.emoji) for s in stickers]
        use = np.array([s.use_count for s in stickers], dtype=np.float64)
        usage = np.log1p(use) / max(np.log1p(use.max()) if n else 1.0, 1e-9) if n else use
        return _Library(version=version, ids=ids, stickers={s.id: s for s in stickers}, row_of=row_of,
                        text=text, image=image, intents=intents,
                        hidden=np.array([s.hidden for s in stickers], dtype=bool),
                        favourite=np.array([s.favourite for s in stickers], dtype=bool),
                        usage=usage, use_count=use, intent_sends=intent_sends(use, intents))

    def _index_path(self, collection: str) -> Path:
        return Path(self.app.config.cache_dir) / "vector-index" / f"{collection}.npz"

    def _sync_index(self, collection: str, stamps: dict[int, float], hidden: set[int]) -> VectorIndex | None:
        """The collection's index brought in line with the catalog: rows of deleted stickers removed,
        new and re-indexed ones (indexed_at changed) fetched from the vector store, hidden flags
        copied. Loaded from cache/ or built from the store the first time; reconciled id by id when
        the store's count disagrees (vectors written or removed behind the catalog's back). None when
        the store holds no vectors for the catalog's stickers."""
        idx = self._indexes.get(collection)
        path = self._index_path(collection)
        if idx is None and path.exists():
            try:
                idx = VectorIndex.load(path)
            except (IndexFileError, OSError) as exc:
                log.warning("rebuilding the %s index: %s", collection, exc)
        absent = self._absent.setdefault(collection, {})
        try:
            if idx is None:
                idx = self._build_index(collection, stamps, absent)
                if idx is None:
                    return None
            else:
                have = idx.stamps()
                idx.remove([i for i in have if i not in stamps], relayout=False)
                stale = [i for i, st in stamps.items()
                         if (i in have and have[i] != st) or (i not in have and absent.get(i) != st)]
                self._fetch_into(idx, collection, stale, stamps, absent)
                if self.app.bank.count(collection) != len(idx):
                    # Orphan vectors, or vectors changed without a new indexed_at: compare ids.
                    store = {int(i) for i in self.app.bank.ids(collection)}
                    idx.remove([i for i in idx.stamps() if i not in store], relayout=False)
                    self._fetch_into(idx, collection, [i for i in store if i in stamps and i not in idx],
                                     stamps, absent)
                if idx.maintain() or len(stale) > 1000:
                    self._save_index(idx, path)
        except ValueError as exc:  # the store's vectors changed width (another model): start over
            log.warning("rebuilding the %s index: %s", collection, exc)
            idx = self._build_index(collection, stamps, absent)
            if idx is None:
                return None
        for i in list(absent):
            if i not in stamps:
                del absent[i]
        was = idx.hidden_ids()
        idx.set_hidden(was - hidden, False)
        idx.set_hidden(hidden - was, True)
        if idx.mode == "ivf" and idx.served_since_check >= RECHECK_AFTER:
            idx.recheck()  # the real queries served since (e.g. CLIP text vs images) join the recall check
        self._indexes[collection] = idx
        return idx if len(idx) else None

    def _build_index(self, collection: str, stamps: dict[int, float], absent: dict[int, float]):
        absent.clear()
        got = self.app.bank.get(collection, include_embeddings=True)
        keep = [j for j, i in enumerate(got["ids"]) if int(i) in stamps]
        if not keep:
            self._indexes.pop(collection, None)
            absent.update(stamps)
            return None
        keys = [int(got["ids"][j]) for j in keep]
        vecs = np.asarray(got["embeddings"], dtype=np.float32)[keep]
        idx = VectorIndex.build(keys, vecs, [stamps[i] for i in keys])
        absent.update({i: st for i, st in stamps.items() if i not in idx})
        self._save_index(idx, self._index_path(collection))
        return idx

    def _fetch_into(self, idx: VectorIndex, collection: str, ids: list[int], stamps: dict[int, float],
                    absent: dict[int, float]) -> None:
        """Upsert these stickers' vectors from the store; those it has none for are remembered (with
        their stamp) so they are not asked for again until they are re-indexed."""
        for a in range(0, len(ids), 5000):
            chunk = ids[a:a + 5000]
            got = self.app.bank.get(collection, ids=[str(i) for i in chunk], include_embeddings=True)
            found = [int(i) for i in got["ids"]]
            if found:
                idx.upsert(found, np.asarray(got["embeddings"], dtype=np.float32), [stamps[i] for i in found],
                           relayout=False)
            missing = set(chunk) - set(found)
            idx.remove(missing, relayout=False)
            absent.update({i: stamps[i] for i in missing})
            for i in found:
                absent.pop(i, None)

    def _save_index(self, idx: VectorIndex, path: Path) -> None:
        try:
            idx.save(path)
        except OSError as exc:  # a read-only or full disk costs a rebuild next start, nothing else
            log.warning("could not save the vector index %s: %s", path, exc)

    # --- context ------------------------------------------------------------------------------
    def context_text(self, utterances: list[Utterance], lib: _Library | None = None) -> str:
        """The last turns as one string; a sticker turn is rendered as its words or emoji."""
        lib = lib or self._lib
        texts = []
        for u in utterances:
            t = u.text.strip()
            if not t and u.sticker_id is not None and lib is not None and u.sticker_id in lib.stickers:
                s = lib.stickers[u.sticker_id]
                t = " ".join(x for x in (s.ocr_text.strip(), s.emoji or "") if x)
            if t:
                texts.append(t)
        try:
            from assistant.ml.features import context_text
        except ImportError:
            return "\n".join(texts[-CONTEXT_TURNS:])
        return context_text(texts, max_turns=CONTEXT_TURNS)

    def _query_vector(self, text: str) -> np.ndarray:
        """The context's text vector (cached); a zero vector when the embedder cannot load."""
        with self._lock:
            v = self._vec_cache.get(text)
            if v is not None:
                self._vec_cache.move_to_end(text)
                return v
        try:
            v = self.app.embedder.query([text or "."])[0].astype(np.float32)
        except ModelUnavailable:
            # Text matching is off: a zero vector scores every sticker alike on text, so the other
            # signals (emoji, usage, preference, CLIP) decide; features_off() says why.
            return np.zeros(_FALLBACK_DIM, np.float32)
        with self._lock:
            self._vec_cache[text] = v
            while len(self._vec_cache) > 256:
                self._vec_cache.popitem(last=False)
        return v

    def _default_me(self) -> str | None:
        names = self.app.config.settings.me_names
        return names[0] if names else None

    # --- optional signals (each absent module or model just switches its signal off) ----------
    def _memories(self, ctx_text: str, qvec: np.ndarray, chat: int | None) -> list:
        try:
            from assistant.memory import memories as memories_mod
        except ImportError:
            return []
        try:
            if self.app.catalog.count("memories") == 0:
                return []
            # retrieve() embeds the context itself; hand it the vector already computed for this text
            # so the one expensive step of the path runs once, not twice.
            return list(memories_mod.retrieve(_KnownVectors(self.app, {ctx_text: qvec}), ctx_text, k=5,
                                              chat_id=chat))
        except Exception as exc:  # noqa: BLE001 - memories help; their failure must not stop suggestions
            log.warning("memory retrieval failed, suggesting without memories: %s", exc)
            return []

    def _extra(self, key: str, build, lib: _Library | None = None):
        """A model kept with the library state `lib` (the current one when not given: a caller that
        holds it passes it, as reading the catalog's version costs a few milliseconds each time)."""
        lib = lib or self.library()
        with self._lock:
            if key not in lib.extras:
                try:
                    lib.extras[key] = build()
                except ImportError:
                    lib.extras[key] = None
                except Exception as exc:  # noqa: BLE001 - a broken checkpoint switches one signal off
                    log.warning("%s unavailable: %s", key, exc)
                    lib.extras[key] = None
            return lib.extras[key]

    def _igsr(self, lib: _Library | None = None):
        def build():
            from assistant.ml import igsr

            return igsr.load_scorer(self.app)

        return self._extra("igsr", build, lib)

    def _intent_head(self, lib: _Library | None = None):
        def build():
            from assistant.ml import intent

            # IntentHead.load trains a head on GoEmotions when none is installed (minutes): never on
            # this path. Only a head already on disk (the user's, or the one shipped in models/) is used.
            if not any(p.exists() for p in (Path(self.app.config.heads_dir) / intent.USER_NAME, intent.SHIPPED)):
                return None
            return intent.IntentHead.load(self.app)

        return self._extra("intent", build, lib)

    def _preference(self, me: str | None, lib: _Library | None = None):
        def build():
            from assistant.ml.preference import PreferenceMemory

            return PreferenceMemory.from_catalog(self.app, me)

        return self._extra(f"preference:{me}", build, lib)

    # --- scoring ------------------------------------------------------------------------------
    def _score(self, lib: _Library, qvec: np.ndarray, ctx_text: str, utterances: list[Utterance],
               memories: list, me: str | None, chat: int | None):
        notes: dict = {"memories": memories}
        n = len(lib.ids)
        visible = ~lib.hidden
        candidates: set[int] = set()

        # Text match: the app's vector index (exact scores; hidden never returned), or HNSW candidates
        # from Chroma for huge libraries.
        if lib.text is not None:
            candidates |= self._index_rows(lib, lib.text, qvec)
        else:
            for hit in self.app.bank.query(STICKER_TEXTS, qvec, k=POOL_PER_SIGNAL, where={"hidden": False}):
                r = lib.row_of.get(int(hit.id))
                if r is not None:
                    candidates.add(r)

        # Image match (CLIP text tower of the context against sticker pictures).
        clip = self.app.clip
        if clip is not None:
            cvec = self._clip_text(clip, ctx_text)
            if lib.image is not None:
                candidates |= self._index_rows(lib, lib.image, cvec)
            else:
                for hit in self.app.bank.query(STICKER_IMAGES, cvec, k=POOL_PER_SIGNAL, where={"hidden": False}):
                    r = lib.row_of.get(int(hit.id))
                    if r is not None:
                        candidates.add(r)
            notes["clip_vec"] = cvec

        # Preference memory (PESRS): the user's own past context -> sticker choices.
        pref_scores = pref_mass = None
        pref = self._preference(me, lib)
        if pref is not None and len(pref) > 0:
            now = time.time()
            weights = pref.read(qvec, now=now)  # {sticker_id: attention mass}, sums to 1
            # The signal is the *lift*: attention this context gives a sticker minus that sticker's
            # share of all the user's sends. Read raw, the memory's mass mostly mirrors how often
            # each sticker was sent (e5 cosines between any two chats sit within a few hundredths),
            # which would push the user's one favourite reply into every conversation; usage is a
            # separate small prior in the fusion.
            base = _send_shares(pref)
            pref_scores = np.zeros(n)
            pref_mass = np.zeros(n)  # the raw read, a term of the exact score
            for sid in set(weights) | set(base):
                r = lib.row_of.get(int(sid))
                if r is not None:
                    pref_scores[r] = weights.get(sid, 0.0) - base.get(sid, 0.0)
                    pref_mass[r] = weights.get(sid, 0.0)
            best, peak = pref.confidence(qvec, now=now)
            notes["pref_share"] = 1.0 - pref.gate_value(best, peak)  # PESRS gate: share of the match
            notes["pref_counts"] = _similar_sends(pref, qvec)
            candidates |= _top_rows(pref_scores, visible & (pref_scores > 0), POOL_PER_SIGNAL)
            notes["pref_scores"] = pref_scores

        # Favourites and the user's most-used stickers are always in the pool.
        candidates |= set(np.flatnonzero(lib.favourite & visible).tolist())
        candidates |= _top_rows(lib.usage, visible & (lib.use_count > 0), MOST_USED)
        if not candidates and not qvec.any():
            # Text matching is off (no embedder): the visible library, favourites and most used first.
            candidates |= _top_rows(lib.usage + lib.favourite, visible, POOL_PER_SIGNAL)

        rows = np.array(sorted(r for r in candidates if visible[r]), dtype=np.int64)
        pool = [int(lib.ids[r]) for r in rows]
        signals: dict[str, np.ndarray] = {}
        if len(rows) == 0:
            return pool, signals, notes

        if lib.text is not None:
            # a sticker without a text vector scores 0, as its row of zeros did in the matrix before
            with self._lock:
                signals["text"] = np.nan_to_num(lib.text.scores(pool, qvec), nan=0.0)
        else:
            signals["text"] = self._pool_cosines(STICKER_TEXTS, pool, qvec)
        if clip is not None:
            if lib.image is not None:
                with self._lock:
                    signals["image"] = lib.image.scores(pool, notes["clip_vec"])
            else:
                signals["image"] = self._pool_cosines(STICKER_IMAGES, pool, notes["clip_vec"])

        probs: dict[str, float] = {}
        igsr = self._igsr(lib)
        if igsr is not None:
            q = igsr.query_vectors(qvec[None, :], self._memory_vector(memories))[0]
            signals["igsr"] = np.asarray(igsr.scores(q, pool), dtype=np.float64)
            probs = q.intent
            if q.intent:
                notes["reply_intents"] = dict(q.intent)
        head = self._intent_head(lib)
        if head is not None:
            # The dedicated head reads intents best: both its views (the e5 vector already computed,
            # and the words), each label scaled by its tuned threshold and normalised to sum to 1.
            p = head.probs_from_features(qvec[None, :], [ctx_text])[0] / np.maximum(head.thresholds, 1e-3)
            p = p / max(float(p.sum()), 1e-9)
            probs = {label: float(x) for label, x in zip(head.labels, p)}
        if not probs:
            probs = _emoji_intents(utterances)  # no trained model yet: the chat's own emoji say something
        if probs:
            notes["intent_probs"] = probs
            signals["intent"] = np.array([probs.get(lib.intents[r], 0.0) if lib.intents[r] else np.nan
                                          for r in rows], dtype=np.float64)

        if pref_scores is not None:
            signals["pref"] = pref_scores[rows]
        signals["fav"] = lib.favourite[rows].astype(np.float64)
        signals["usage"] = lib.usage[rows]
        notes["text_z"] = standardise(signals["text"], self.weights.min_spread.get("text", 0.0))
        notes["intents"] = [lib.intents[r] for r in rows]
        if notes.get("reply_intents"):
            notes["layout"] = layout = self._active_layout(lib)
            notes["exact"] = self._exact_scores(lib, rows, signals, None if pref_mass is None else pref_mass[rows],
                                                ctx_text, layout)
        return pool, signals, notes

    def _active_layout(self, lib: _Library) -> SlotLayout:
        """`self.layout` with the exact-score weights `train` fitted on this user's history
        (ml/calibration.py), re-read when that file changes."""
        from assistant.ml import calibration

        try:
            stamp = calibration.path(self.app).stat().st_mtime_ns
        except OSError:
            return self.layout
        return self._extra(f"layout:{stamp}", lambda: calibration.load_layout(self.app, self.layout), lib)

    def _exact_scores(self, lib: _Library, rows: np.ndarray, signals: dict[str, np.ndarray],
                      memory: np.ndarray | None, ctx_text: str, layout: SlotLayout) -> np.ndarray:
        """"Is this the sticker the user sends now", scored over the pool as the evaluation's fused
        default scores it (`fusion.exact_scores` with `SlotLayout`'s fitted weights): the IGSR match,
        the user's send counts, the preference memory's raw read, the context against the text of
        stickers with words on them (NaN for the rest, as in the evaluation) and BM25 of the context
        over those words, and how many sends the sticker's intent holds in the whole library (`crowd`).

        Why not the fused score: it is a weighted sum of z-scores, fine for ordering but no
        log-probability, and the slots' expected gain needs one. On msairs-dev's folds, the fused
        score in this layout found half the exact stickers the exact score finds (R@10 3.7 against
        8.0, mAP 37.5 against 41.1; the intents alike). Two signals the benchmark has no data for
        add on top: CLIP's picture match, weighted as the learned match (it is the same kind of
        evidence), and a favourite, `FAVOURITE_LOG_ODDS`. `layout`'s weights are msairs' or, after
        `train`, this user's own (`_active_layout`)."""
        words = [(st.ocr_text or st.emoji or "").strip() for st in (lib.stickers[int(lib.ids[r])] for r in rows)]
        has_words = np.array([bool(w) for w in words])
        text = np.where(has_words, signals["text"], np.nan)
        lexical = bm25_scores([ctx_text], words)[0] if has_words.any() else None
        out = exact_scores(signals["igsr"], lib.use_count[rows], memory, layout, words=text, lexical=lexical,
                           crowd=lib.intent_sends[rows])
        if "image" in signals:
            out = out + layout.match * zscore(signals["image"])
        return out + FAVOURITE_LOG_ODDS * lib.favourite[rows]

    def _index_rows(self, lib: _Library, index: VectorIndex, vec: np.ndarray) -> set[int]:
        """Candidate rows from the vector index (under the lock: a library rebuild syncs the same
        index in place)."""
        with self._lock:
            ids, _ = index.search(vec, POOL_PER_SIGNAL)
        return {lib.row_of[i] for i in ids.tolist() if i in lib.row_of}

    def _memory_vector(self, memories: list) -> np.ndarray | None:
        """R_m for IGSR: the mean query vector of the retrieved memories' summaries (cached per text)."""
        texts = [m.summary for m in memories if getattr(m, "summary", "")]
        if not texts:
            return None
        vecs = [self._query_vector(t) for t in texts]
        return np.mean(vecs, axis=0, keepdims=True).astype(np.float32)

    def _clip_text(self, clip, ctx_text: str) -> np.ndarray:
        key = f"clip\x00{ctx_text}"
        with self._lock:
            v = self._vec_cache.get(key)
        if v is None:
            # CLIP's text tower reads 77 tokens: the last turns carry what the sticker answers.
            v = clip.encode_texts([ctx_text[-300:] or "."])[0].astype(np.float32)
            with self._lock:
                self._vec_cache[key] = v
        return v

    def _pool_cosines(self, collection: str, pool: list[int], vec: np.ndarray) -> np.ndarray:
        got = self.app.bank.get(collection, ids=[str(i) for i in pool], include_embeddings=True)
        by_id = {int(i): np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"])}
        out = np.full(len(pool), np.nan)
        for j, sid in enumerate(pool):
            e = by_id.get(sid)
            if e is not None:
                out[j] = float(e @ vec / max(np.linalg.norm(e), 1e-12))
        return out

    def _still_visible(self, ids: list[int]) -> set[int]:
        """Hidden is re-checked against the catalog at answer time: a sticker hidden a moment ago
        must not appear even if the cached state has not noticed yet."""
        if not ids:
            return set()
        rows = self.app.catalog.conn.execute(
            f"SELECT id FROM stickers WHERE hidden=0 AND id IN ({','.join('?' * len(ids))})", ids).fetchall()
        return {r[0] for r in rows}

    # --- reasons ------------------------------------------------------------------------------
    def _reasons(self, st: Sticker, j: int, signals: dict, notes: dict, gate: float) -> list[str]:
        """Readable reasons, strongest first."""
        scored: list[tuple[float, str]] = []
        counts = notes.get("pref_counts") or {}
        c = counts.get(st.id, 0)
        if c:
            scored.append((2.0 + gate, f"you sent this after similar messages {c}×" if c > 1
                           else "you sent this after a similar message"))
        elif "pref" in signals and signals["pref"][j] > 0.02:
            scored.append((1.0 + gate, "close to what you sent in conversations like this"))
        words = " ".join(st.ocr_text.split())
        if words and notes["text_z"][j] > 1.0:
            shown = words if len(words) <= 24 else words[:23] + "…"
            scored.append((notes["text_z"][j], f"words on it: {shown}"))
        probs = notes.get("intent_probs")
        reply = notes.get("reply_intents")
        label = notes["intents"][j]
        if reply and label in reply:
            # the layout placed it by the reply intents the trained head predicts: say that
            p = float(reply[label])
            if p >= 0.1:
                scored.append((p * 2, f"a likely reply: {label} {p:.2f}"))
        elif probs and "intent" in signals and not math.isnan(signals["intent"][j]):
            p = float(signals["intent"][j])
            if label and p >= 0.1:
                scored.append((p * 2, f"intent: {label} {p:.2f}"))
        if "igsr" in signals and standardise(signals["igsr"], self.weights.min_spread.get("igsr", 0.0))[j] > 1.0:
            scored.append((1.5, f"learned match {signals['igsr'][j]:.2f}"))
        if "image" in signals and not math.isnan(signals["image"][j]) and \
                standardise(signals["image"], self.weights.min_spread.get("image", 0.0))[j] > 1.0:
            scored.append((1.0, f"the picture fits (CLIP {signals['image'][j]:.2f})"))
        if st.favourite:
            scored.append((0.9, "favourite"))
        if st.use_count >= 2 and not counts.get(st.id):
            scored.append((0.5, f"you have sent it {st.use_count}×"))
        if not scored:
            scored.append((0.0, f"text match {signals['text'][j]:.2f}"))
        scored.sort(key=lambda x: -x[0])
        return [r for _, r in scored]


class _KnownVectors:
    """The App as seen by memories.retrieve, with query vectors for texts already embedded."""

    def __init__(self, app, known: dict[str, np.ndarray]) -> None:
        self._app = app
        self.embedder = _KnownEmbedder(app.embedder, known)

    def __getattr__(self, name: str):
        return getattr(self._app, name)


class _KnownEmbedder:
    def __init__(self, base, known: dict[str, np.ndarray]) -> None:
        self._base = base
        self._known = known
        self.dim = base.dim

    def query(self, texts: list[str]) -> np.ndarray:
        if all(t in self._known for t in texts):
            return np.stack([self._known[t] for t in texts])
        return self._base.query(texts)

    def passage(self, texts: list[str]) -> np.ndarray:
        return self._base.passage(texts)


def _emoji_intents(utterances: list[Utterance], turns: int = 3) -> dict[str, float]:
    """Intent probabilities from the emoji in the last turns (😂 → amusement), for when no intent
    model is trained: a weak but honest cue, the same table that labels stickers by their emoji."""
    from assistant.ml.emoji_intents import intent_for_emoji

    counts: dict[str, float] = {}
    for u in utterances[-turns:]:
        for ch in u.text:
            if ord(ch) < 0x2100:
                continue
            label = intent_for_emoji(ch)
            if label:
                counts[label] = counts.get(label, 0.0) + 1.0
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def _send_shares(pref) -> dict[int, float]:
    """Each sticker's share of all the sends in the preference memory (cached on the memory)."""
    shares = getattr(pref, "_suggest_shares", None)
    if shares is None:
        shares = {}
        for v in pref.values:
            shares[int(v)] = shares.get(int(v), 0.0) + 1.0 / len(pref.values)
        pref._suggest_shares = shares
    return shares


def _similar_sends(pref, qvec: np.ndarray) -> dict[int, int]:
    """How often the user sent each sticker after a context clearly closer to this one than the rest
    of their history (cosine at least 1.5 standard deviations above the mean, and at least
    SIMILAR_FLOOR): the "you sent this after similar messages N×" reason."""
    keys = getattr(pref, "keys", None)
    if keys is None or not len(keys):
        return {}
    sims = keys @ qvec
    threshold = max(SIMILAR_FLOOR, float(sims.mean() + 1.5 * sims.std()))
    out: dict[int, int] = {}
    for i in np.flatnonzero(sims >= threshold):
        v = int(pref.values[int(i)])
        out[v] = out.get(v, 0) + 1
    return out


def _top_rows(values: np.ndarray, mask: np.ndarray, k: int) -> set[int]:
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return set()
    v = values[idx]
    if len(idx) > k:
        part = np.argpartition(-v, k - 1)[:k]
        idx = idx[part]
    return set(idx.tolist())


_instances_lock = threading.Lock()


def for_app(app) -> Suggester:
    """The one Suggester of this App (its cached state lives as long as the App)."""
    with _instances_lock:
        s = getattr(app, "_suggester", None)
        if s is None:
            s = Suggester(app)
            app._suggester = s
        return s


def suggest(app, conversation: str | list[Utterance], k: int = 8, chat: int | None = None,
            me: str | None = None) -> list[Suggestion]:
    return for_app(app).suggest(conversation, k=k, chat=chat, me=me)
