"""The personal feed's ranking, as pure functions over arrays: no database, no clock, no I/O.

The service (``feed.service``) and the offline simulation (``feed.evaluate``) both call these,
so the numbers the simulation reports are the ranking the API serves.

A story's score is ``relevance + trending + recency + coverage`` (weights in ``Weights``):

- relevance: cosine of the story's e5 centroid with the listener's engagement profile (a
  time-decayed sum of the centroids of stories they opened, listened to, liked or shared,
  minus half the one of stories they skipped or disliked), with each followed keyword's e5
  embedding (or 0.8 when the keyword is in the story's title or keywords), a prior for
  followed categories, a learned per-category affinity, and followed outlets;
- trending: the stories stage's trending score in [0, 1);
- recency: half-life ``RECENCY_HALF_LIFE_H`` on the story's last article;
- coverage: how many outlets carry it (log-scaled).

Vectors are centred on the mean candidate centroid before cosines are taken: e5 puts every
news headline within ~0.8 cosine of every other, and centring spreads those into a usable
range. The top ``SHORTLIST`` stories are then re-ordered by maximal marginal relevance (MMR)
with extra penalties for the same outlet or category recently in the list, and every
``EXPLORE_EVERY``-th slot (offset chosen per listener and day) is given to a story from a
category the listener has shown no interest in.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from newstalk.stories.category import CATEGORIES, CATEGORY_KO

CATEGORY_INDEX = {name: i for i, name in enumerate(CATEGORIES)}
NO_CATEGORY = -1

# Feedback event weights: positive pulls the profile toward the story, negative pushes away.
EVENT_WEIGHTS = {"opened": 0.5, "liked": 1.5, "shared": 2.0, "skipped": -0.5, "disliked": -1.5}
LISTENED_ABANDONED_BELOW = 10  # percent: stopped almost at once, a mild negative signal
HALF_LIFE_S = 7 * 86400.0  # engagement half-life
MAX_EVENTS = 500  # a profile is built from at most this many recent events
MAX_ANCHORS = 12  # stories kept to say "because you liked ..."

RECENCY_HALF_LIFE_H = 12.0
SHORTLIST = 200  # the feed has at most this many items
MMR_POOL = 2  # MMR picks each item from this many times the items wanted (at least 50)
EXPLORE_EVERY = 10  # one slot in ten (10 %) is exploration
EXPLORE_POOL = 30
NEAR_DUPLICATE = 0.93  # raw e5 cosine above which two stories are treated as one cluster
RECENT_WINDOW = 10  # positions over which outlet and category repeats are penalized

LANG_BITS = {"ko": 1, "en": 2}
OTHER_LANG_BIT = 4


def language_mask(languages: Iterable[str]) -> int:
    """Bit mask of a story's or listener's languages (ko, en, anything else)."""
    mask = 0
    for lang in languages:
        mask |= LANG_BITS.get(lang.lower()[:2], OTHER_LANG_BIT)
    return mask


def event_weight(kind: str, percent: int | None) -> float:
    """How much one feedback event says about the listener's taste (signed)."""
    if kind == "listened":
        p = percent or 0
        if p < LISTENED_ABANDONED_BELOW:
            return -0.3
        return 0.2 + 0.8 * p / 100.0
    return EVENT_WEIGHTS.get(kind, 0.0)


@dataclass(frozen=True)
class Weights:
    """Blend weights; chosen on the simulation's tuning seed, never on its evaluation days."""

    engaged: float = 1.3
    keyword: float = 0.8
    category: float = 0.35
    learned_category: float = 0.3
    outlet: float = 0.3
    trending: float = 0.25
    recency: float = 0.2
    coverage: float = 0.1
    other_language: float = -1.0
    mmr_lambda: float = 0.75
    same_outlet: float = 0.1
    same_category: float = 0.03
    explore: bool = True


DEFAULT_WEIGHTS = Weights()


@dataclass(slots=True)
class Anchor:
    """A story the listener engaged with positively, kept to explain recommendations."""

    story_id: int
    title: str
    kind: str
    weight: float
    vector: np.ndarray


@dataclass
class Engagement:
    """A listener's engagement, as decayed sums referenced to ``as_of`` (epoch seconds).

    Exponential decay makes the state foldable: moving to a later time multiplies every sum
    by the same factor, and a new event is added at its own decayed weight. So new feedback
    updates the profile without re-reading the history.
    """

    dim: int
    pos: np.ndarray
    neg: np.ndarray
    pos_w: float = 0.0
    neg_w: float = 0.0
    categories: np.ndarray = field(default_factory=lambda: np.zeros(len(CATEGORIES)))
    as_of: float = 0.0
    through_id: int = 0
    events: int = 0
    seen: set[int] = field(default_factory=set)
    anchors: dict[int, Anchor] = field(default_factory=dict)

    @classmethod
    def empty(cls, dim: int) -> Engagement:
        return cls(dim=dim, pos=np.zeros(dim), neg=np.zeros(dim))

    def copy(self) -> Engagement:
        return Engagement(
            dim=self.dim,
            pos=self.pos.copy(),
            neg=self.neg.copy(),
            pos_w=self.pos_w,
            neg_w=self.neg_w,
            categories=self.categories.copy(),
            as_of=self.as_of,
            through_id=self.through_id,
            events=self.events,
            seen=set(self.seen),
            anchors=dict(self.anchors),
        )

    def decay_to(self, t: float) -> None:
        """Age every sum to time ``t``; earlier times leave the state as it is."""
        if t <= self.as_of:
            return
        if self.as_of > 0:
            factor = 0.5 ** ((t - self.as_of) / HALF_LIFE_S)
            self.pos *= factor
            self.neg *= factor
            self.pos_w *= factor
            self.neg_w *= factor
            self.categories *= factor
            for anchor in self.anchors.values():
                anchor.weight *= factor
        self.as_of = t

    def add(
        self,
        *,
        event_id: int,
        story_id: int,
        kind: str,
        percent: int | None,
        at: float,
        vector: np.ndarray | None,
        category: str | None,
        title: str,
    ) -> None:
        """Fold one event in (events may come in any order; each is decayed to ``as_of``)."""
        self.decay_to(at)
        w = event_weight(kind, percent) * 0.5 ** (max(self.as_of - at, 0.0) / HALF_LIFE_S)
        self.through_id = max(self.through_id, event_id)
        self.events += 1
        self.seen.add(story_id)
        cat = CATEGORY_INDEX.get(category or "", NO_CATEGORY)
        if cat != NO_CATEGORY:
            self.categories[cat] += w
        if vector is None or w == 0:
            return
        if w > 0:
            self.pos += w * vector
            self.pos_w += w
            anchor = self.anchors.get(story_id)
            if anchor is None:
                # float16: anchors only pick which liked story to name, and there are many listeners.
                self.anchors[story_id] = Anchor(story_id, title, kind, w, vector.astype(np.float16))
            else:
                anchor.weight += w
                if EVENT_WEIGHTS.get(kind, 0.0) > EVENT_WEIGHTS.get(anchor.kind, 0.0):
                    anchor.kind = kind
            if len(self.anchors) > MAX_ANCHORS:
                weakest = min(self.anchors.values(), key=lambda a: a.weight)
                del self.anchors[weakest.story_id]
        else:
            self.neg += -w * vector
            self.neg_w += -w


@dataclass(frozen=True)
class Interests:
    """What the listener declared in their preferences (keywords with their e5 vectors)."""

    categories: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    keyword_vectors: np.ndarray | None = None  # one row per ``vector_keywords``; None until embedded
    vector_keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    followed_outlets: frozenset[int] = frozenset()
    muted_outlets: frozenset[int] = frozenset()
    muted_topics: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.categories or self.keywords or self.followed_outlets)


@dataclass
class Candidates:
    """Recent stories as arrays (one row each), plus the per-row strings explanations need."""

    ids: np.ndarray  # int64
    vectors: np.ndarray  # (n, dim) float32, centred on ``mean`` and L2-normalized
    mean: np.ndarray  # (dim,) float32: the centre
    spread: np.ndarray  # float32 |raw - mean| per row: with ``mean_dot`` it gives back raw cosines
    mean_dot: np.ndarray  # float32 centred row . mean
    trending: np.ndarray  # float32
    first_seen: np.ndarray  # float64 epoch seconds
    last_seen: np.ndarray  # float64 epoch seconds
    outlet_count: np.ndarray  # int32
    category: np.ndarray  # int16 index into CATEGORIES, -1 unknown
    lead_outlet: np.ndarray  # int64 source id of the outlet with most articles
    languages: np.ndarray  # uint8 bit mask
    active: np.ndarray  # bool: False for stories merged away or deleted since the last rebuild
    titles: list[str]
    topic_text: list[str]  # casefolded title, keywords and category, for keyword and mute matching
    outlets: list[tuple[int, ...]]

    def __len__(self) -> int:
        return len(self.ids)


def centre(vectors: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Subtract the centre and re-normalize each row (float32)."""
    return centred(vectors, mean)[0]


def centred(vectors: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred unit rows, each row's distance from the centre, and each centred row . centre."""
    x = np.asarray(vectors, dtype=np.float32) - mean
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    out: np.ndarray = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return out, norms[..., 0].astype(np.float32), (out @ mean).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Pick:
    """One ranked story: its row in the candidates, final score and why it is there."""

    row: int
    score: float
    reason: str  # keyword | outlet | category | similar | habit | trending | recent | explore
    argument: str  # the keyword, outlet id, category, anchor story id, ... the reason names


def _seed(user_key: str, day: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{user_key}:{day}".encode()).digest()[:8], "big")


def explore_offset(user_key: str, day: str) -> int:
    """Where the first exploration slot goes (positions 3..9, then every 10th): fixed per listener and day."""
    return 3 + _seed(user_key, day) % (EXPLORE_EVERY - 3)


@functools.lru_cache(maxsize=4096)
def normalize_term(term: str) -> str:
    """Casefolded, punctuation to spaces, single-spaced: how terms and story texts are compared."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in term.casefold()).split())


def _matches(term: str, text: str) -> bool:
    """Keyword or muted topic in a story's ``topic_text``; whole words for Latin script."""
    topic = normalize_term(term)
    if not topic:
        return False
    if topic.isascii():
        return f" {topic} " in text or f" {topic}s " in text
    return topic in text


def topic_text(title: str, keywords: Iterable[str], category: str | None) -> str:
    """The text keywords and muted topics are matched against: casefolded, space-padded, no punctuation."""
    return f" {normalize_term(' '.join([title, *keywords, category or '']))} "


def blocked(c: Candidates, row: int, interests: Interests) -> bool:
    """A muted topic in the story, or every outlet carrying it muted."""
    text = c.topic_text[row]
    if any(_matches(t, text) for t in interests.muted_topics):
        return True
    outlets = c.outlets[row]
    return bool(outlets) and all(o in interests.muted_outlets for o in outlets)


def rank(
    c: Candidates,
    engagement: Engagement,
    interests: Interests,
    *,
    now: datetime,
    user_key: str,
    window_s: float,
    weights: Weights = DEFAULT_WEIGHTS,
    depth: int = SHORTLIST,
) -> list[Pick]:
    """Order the candidates for one listener at ``now``; stories first seen after ``now`` are left out."""
    n = len(c)
    if n == 0:
        return []
    t_now = now.timestamp()
    valid = c.active & (c.first_seen <= t_now) & (c.last_seen >= t_now - window_s)
    if engagement.seen:
        valid &= ~np.isin(c.ids, np.fromiter(engagement.seen, dtype=np.int64))
    if interests.muted_outlets:
        muted = np.fromiter(interests.muted_outlets, dtype=np.int64)
        # Rows led by a muted outlet are checked in full below; most are dropped there.
        lead_muted = np.isin(c.lead_outlet, muted)
    else:
        lead_muted = np.zeros(n, dtype=bool)
    if not valid.any():
        return []

    engaged = engagement.pos_w > 0
    probes: list[np.ndarray] = []
    if engaged:
        probes.append(engagement.pos - engagement.pos_w * c.mean)
    if engagement.neg_w > 0:
        probes.append(engagement.neg - engagement.neg_w * c.mean)
    kw_vectors = interests.keyword_vectors
    if kw_vectors is not None and len(kw_vectors):
        probes.extend(list(kw_vectors - c.mean))
    sims = np.zeros((n, 0), dtype=np.float32)
    if probes:
        p = np.asarray(probes, dtype=np.float32)
        p /= np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-9)
        sims = c.vectors @ p.T
        # Standardize each probe over today's candidates: a one-word keyword reaches a cosine
        # of 0.2 with its best story, a rich profile 0.6; what counts is how far a story
        # stands out from the rest.
        sample = sims[valid]
        sims = (sims - sample.mean(axis=0)) / np.maximum(sample.std(axis=0), 1e-6)
    col = 0
    s_eng = np.zeros(n, dtype=np.float32)
    if engaged:
        conf = engagement.pos_w / (engagement.pos_w + 1.5)
        s_eng = np.clip(sims[:, 0] / 3.0, -1.0, 1.0) * conf
        col = 1
    if engagement.neg_w > 0:
        conf_n = engagement.neg_w / (engagement.neg_w + 1.5)
        s_eng = s_eng - 0.5 * conf_n * np.clip(sims[:, col] / 3.0, -1.0, 1.0)
        col += 1
    kw_sims = sims[:, col:]
    s_kw = kw_sims.max(axis=1) if kw_sims.shape[1] else np.zeros(n, dtype=np.float32)
    s_kw = np.clip((s_kw - 1.0) / 2.0, 0.0, 1.0)

    cats = c.category
    known = cats >= 0
    s_cat = np.zeros(n, dtype=np.float32)
    if interests.categories:
        followed = [CATEGORY_INDEX[x] for x in interests.categories if x in CATEGORY_INDEX]
        s_cat = np.isin(cats, followed).astype(np.float32)
    s_habit = np.zeros(n, dtype=np.float32)
    if engagement.events:
        affinity = np.tanh(engagement.categories / 2.0).astype(np.float32)
        s_habit[known] = affinity[cats[known]]
    s_out = np.zeros(n, dtype=np.float32)
    if interests.followed_outlets:
        s_out = np.isin(c.lead_outlet, np.fromiter(interests.followed_outlets, dtype=np.int64)).astype(
            np.float32
        )
    lang_pen = np.zeros(n, dtype=np.float32)
    if interests.languages:
        wanted = language_mask(interests.languages)
        lang_pen = np.where((c.languages & wanted) == 0, weights.other_language, 0.0).astype(np.float32)
    age_h = np.maximum(t_now - c.last_seen, 0.0) / 3600.0
    s_rec = (0.5 ** (age_h / RECENCY_HALF_LIFE_H)).astype(np.float32)
    s_cov = np.minimum(np.log1p(c.outlet_count) / math.log(20.0), 1.0).astype(np.float32)

    parts = {
        "similar": weights.engaged * s_eng,
        "keyword": weights.keyword * s_kw,
        "category": weights.category * s_cat,
        "habit": weights.learned_category * s_habit,
        "outlet": weights.outlet * s_out,
        "trending": weights.trending * c.trending,
        "recent": weights.recency * s_rec,
    }
    total = sum(parts.values()) + weights.coverage * s_cov + lang_pen
    total = np.where(valid, total, -np.inf)

    # Shortlist: the best by score, walked in order so muted topics and lexical keyword
    # hits (which need the strings) are only checked for stories that could be shown.
    depth = min(depth, SHORTLIST)
    want = min(max(depth * MMR_POOL, 50), int(valid.sum()))
    pool = min(n, want + 50)
    top = np.argpartition(-total, pool - 1)[:pool] if pool < n else np.arange(n)
    top = top[np.argsort(-total[top], kind="stable")]
    keywords = list(interests.keywords)
    check_mutes = bool(interests.muted_topics)
    rows: list[int] = []
    for r in top.tolist():
        if total[r] == -np.inf:
            break
        if (check_mutes or lead_muted[r]) and blocked(c, r, interests):
            continue
        if keywords and s_kw[r] < 0.8:
            text = c.topic_text[r]
            if any(_matches(k, text) for k in keywords):
                boost = weights.keyword * (0.8 - s_kw[r])
                total[r] += boost
                parts["keyword"][r] += boost
        rows.append(r)
        if len(rows) >= want:
            break
    if not rows:
        return []
    short = np.asarray(rows, dtype=np.int64)
    order = _mmr(c, short, total[short], weights, min(depth, len(short)))
    reasons = _reasons(c, short, order, parts, interests, engagement, kw_sims)
    picks = [
        Pick(int(short[i]), float(total[short[i]]), reason, arg)
        for i, (reason, arg) in zip(order, reasons, strict=True)
    ]
    if weights.explore and (engaged or not interests.empty):
        picks = _explore(c, picks, valid, total, engagement, interests, user_key, now, depth)
    return picks


def _mmr(c: Candidates, short: np.ndarray, scores: np.ndarray, weights: Weights, depth: int) -> list[int]:
    """Greedy MMR over the shortlist for ``depth`` steps; returns positions into ``short``."""
    m = len(short)
    lo, hi = float(scores.min()), float(scores.max())
    rel = (scores - lo) / (hi - lo) if hi > lo else np.ones(m, dtype=np.float32)
    lam = weights.mmr_lambda
    base = (lam * rel).astype(np.float64)
    vecs = c.vectors[short]
    sim = (vecs @ vecs.T).astype(np.float64)
    # Raw cosines, recovered from the centred ones: raw = spread * centred + mean.
    spread = c.spread[short].astype(np.float64)
    dot = c.mean_dot[short].astype(np.float64) * spread
    raw = np.outer(spread, spread) * sim + dot[:, None] + dot[None, :] + float(c.mean @ c.mean)
    # What choosing j costs every other item: the diversity term, or a knock-out for a near-duplicate.
    cost = np.where(raw > NEAR_DUPLICATE, 1.0 + (1 - lam), (1 - lam) * np.maximum(sim, 0.0))
    penalty = np.zeros(m)
    _, outlet_codes = np.unique(c.lead_outlet[short], return_inverse=True)
    cat_codes = c.category[short].astype(np.int64)
    same_outlet = [np.flatnonzero(outlet_codes == k) for k in range(int(outlet_codes.max()) + 1)]
    same_cat = {k: np.flatnonzero(cat_codes == k) for k in set(cat_codes.tolist())}
    cat_recent: dict[int, int] = {}
    recent: deque[int] = deque()
    order: list[int] = []
    value = base.copy()
    for _ in range(depth):
        j = int(np.argmax(value - penalty))
        if value[j] == -np.inf:
            break
        order.append(j)
        value[j] = -np.inf
        np.minimum(value, base - cost[j], out=value)
        recent.append(j)
        penalty[same_outlet[outlet_codes[j]]] += weights.same_outlet
        cat = int(cat_codes[j])
        cat_recent[cat] = cat_recent.get(cat, 0) + 1
        if cat_recent[cat] > 2:
            penalty[same_cat[cat]] += weights.same_category
        if len(recent) > RECENT_WINDOW:
            old = recent.popleft()
            penalty[same_outlet[outlet_codes[old]]] -= weights.same_outlet
            old_cat = int(cat_codes[old])
            if cat_recent[old_cat] > 2:
                penalty[same_cat[old_cat]] -= weights.same_category
            cat_recent[old_cat] -= 1
    return order


RELEVANCE_FLOOR = 0.06


PERSONAL = ("similar", "keyword", "category", "habit", "outlet")


def _reasons(
    c: Candidates,
    short: np.ndarray,
    order: Sequence[int],
    parts: dict[str, np.ndarray],
    interests: Interests,
    engagement: Engagement,
    kw_sims: np.ndarray,
) -> list[tuple[str, str]]:
    """The largest contribution names the reason; relevance wins over trending when it counts."""
    rows = short[np.asarray(order, dtype=np.int64)]
    personal = np.stack([parts[k][rows] for k in PERSONAL])
    best = personal.argmax(axis=0)
    strong = personal.max(axis=0) >= RELEVANCE_FLOOR
    trending_wins = parts["trending"][rows] >= parts["recent"][rows] * 0.5
    anchors = list(engagement.anchors.values())
    anchor_vecs = None
    if anchors:
        a = np.asarray([x.vector for x in anchors], dtype=np.float32) - c.mean
        anchor_vecs = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-9)
    out = []
    for k, row in enumerate(rows.tolist()):
        cat = int(c.category[row])
        cat_name = CATEGORIES[cat] if cat >= 0 else ""
        reason = PERSONAL[int(best[k])] if strong[k] else ""
        if reason == "keyword":
            text = c.topic_text[row]
            hit = [w for w in interests.keywords if _matches(w, text)]
            if hit:
                out.append(("keyword", hit[0]))
                continue
            if kw_sims.shape[1]:
                out.append(("keyword", interests.vector_keywords[int(np.argmax(kw_sims[row]))]))
                continue
        elif reason == "similar" and anchor_vecs is not None:
            j = int(np.argmax(anchor_vecs @ c.vectors[row]))
            out.append(("similar", str(anchors[j].story_id)))
            continue
        elif reason == "outlet":
            followed = [o for o in c.outlets[row] if o in interests.followed_outlets]
            out.append(("outlet", str(followed[0] if followed else c.lead_outlet[row])))
            continue
        elif reason in ("category", "habit") and cat_name:
            out.append((reason, cat_name))
            continue
        out.append(("trending" if trending_wins[k] else "recent", cat_name))
    return out


def _explore(
    c: Candidates,
    picks: list[Pick],
    valid: np.ndarray,
    total: np.ndarray,
    engagement: Engagement,
    interests: Interests,
    user_key: str,
    now: datetime,
    depth: int,
) -> list[Pick]:
    """Give every EXPLORE_EVERY-th slot to a story from a category outside the listener's interests.

    The draw depends only on the listener, the day and the candidates, not on how deep the
    list was ranked, so a longer list starts with the same items.
    """
    known = {CATEGORY_INDEX[x] for x in interests.categories if x in CATEGORY_INDEX}
    if engagement.events:
        known |= {int(i) for i in np.argsort(-engagement.categories)[:2] if engagement.categories[i] > 0}
    outside = valid & ~np.isin(c.category, list(known)) & (c.category >= 0)
    pool = np.flatnonzero(outside)
    if len(pool) == 0:
        return picks
    # Among those, the most newsworthy (trending, then recent), not the most personal.
    newsworthy = c.trending[pool] + 0.5 * (0.5 ** ((now.timestamp() - c.last_seen[pool]) / 3600 / 12))
    ordered = pool[np.argsort(-newsworthy, kind="stable")[: EXPLORE_POOL * 2]].tolist()
    allowed: list[int] = []
    for r in ordered:
        if not blocked(c, r, interests):
            allowed.append(r)
            if len(allowed) >= EXPLORE_POOL:
                break
    if not allowed:
        return picks
    day = now.date().isoformat()
    rng = np.random.default_rng(_seed(user_key, day))
    # Ordered by story id first, so every process (whatever its row order) draws the same stories.
    allowed.sort(key=lambda r: int(c.ids[r]))
    draws = [allowed[int(i)] for i in rng.permutation(len(allowed))]
    out = list(picks)
    position = explore_offset(user_key, day)
    while position < min(len(out) + 1, depth) and draws:
        row = draws.pop()
        if any(p.row == row for p in out[:position]):
            continue
        out = [p for p in out if p.row != row]
        out.insert(position, Pick(row, float(total[row]), "explore", CATEGORIES[int(c.category[row])]))
        position += EXPLORE_EVERY
    return out[:depth]


def explain(
    reason: str, argument: str, language: str, *, outlet: str = "", story: str = "", kind: str = ""
) -> str:
    """The line shown with an item, in Korean for Korean listeners and English otherwise."""
    ko = language == "ko"
    cat = (CATEGORY_KO.get(argument, argument) if ko else argument) or ("뉴스" if ko else "the news")
    if reason == "keyword":
        return f"관심 키워드 ‘{argument}’" if ko else f"you follow {argument}"
    if reason == "outlet":
        return f"구독한 언론사 {outlet}" if ko else f"you follow {outlet}"
    if reason == "category":
        return f"관심 분야 {cat}" if ko else f"you follow {cat}"
    if reason == "habit":
        return f"자주 듣는 {cat} 소식" if ko else f"you often listen to {cat}"
    if reason == "similar":
        if ko:
            verb = {"liked": "좋아한", "shared": "공유한", "listened": "들은", "opened": "열어 본"}.get(
                kind, "본"
            )
            return f"{verb} ‘{story}’와 비슷한 소식"
        verb = {"liked": "liked", "shared": "shared", "listened": "listened to", "opened": "read"}.get(
            kind, "read"
        )
        return f"because you {verb} “{story}”"
    if reason == "trending":
        return f"{cat} 분야 급상승" if ko else f"trending in {cat}"
    if reason == "explore":
        return f"색다른 소식: {cat}" if ko else f"something different: {cat}"
    return f"{cat} 최신 소식" if ko else f"new in {cat}"
