"""The ranking's pure parts: profile folding, diversity, exploration, explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from newstalk.feed import ranking
from newstalk.feed.ranking import Candidates, Engagement, Interests

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
DIM = 16


def candidates(
    vectors: np.ndarray, *, outlets: list[int], categories: list[str], trending: list[float]
) -> Candidates:
    n = len(vectors)
    mean = vectors.mean(axis=0).astype(np.float32)
    centred, spread, mean_dot = ranking.centred(vectors, mean)
    t = NOW.timestamp()
    return Candidates(
        ids=np.arange(1, n + 1, dtype=np.int64),
        vectors=centred,
        mean=mean,
        spread=spread,
        mean_dot=mean_dot,
        trending=np.asarray(trending, dtype=np.float32),
        first_seen=np.full(n, t - 3600.0),
        last_seen=np.full(n, t - 600.0),
        outlet_count=np.ones(n, dtype=np.int32),
        category=np.asarray([ranking.CATEGORY_INDEX[c] for c in categories], dtype=np.int16),
        lead_outlet=np.asarray(outlets, dtype=np.int64),
        languages=np.full(n, ranking.language_mask(["en"]), dtype=np.uint8),
        active=np.ones(n, dtype=bool),
        titles=[f"story {i}" for i in range(n)],
        topic_text=[ranking.topic_text(f"story {i}", [], categories[i]) for i in range(n)],
        outlets=[(o,) for o in outlets],
    )


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_folding_feedback_in_later_equals_reading_it_all_at_once() -> None:
    rng = np.random.default_rng(1)
    vecs = unit(rng, 6)
    kinds = [
        ("liked", None),
        ("listened", 80),
        ("skipped", None),
        ("shared", None),
        ("listened", 5),
        ("disliked", None),
    ]
    times = [NOW.timestamp() - 86400 * d for d in (9, 7, 5, 3, 2, 1)]
    whole, split = Engagement.empty(DIM), Engagement.empty(DIM)
    for i, ((kind, pct), t) in enumerate(zip(kinds, times, strict=True)):
        whole.add(
            event_id=i + 1,
            story_id=i + 1,
            kind=kind,
            percent=pct,
            at=t,
            vector=vecs[i],
            category="tech",
            title="",
        )
    for i in (0, 1, 2):
        split.add(
            event_id=i + 1,
            story_id=i + 1,
            kind=kinds[i][0],
            percent=kinds[i][1],
            at=times[i],
            vector=vecs[i],
            category="tech",
            title="",
        )
    split.decay_to(times[4])  # time passes before the rest arrives
    for i in (3, 4, 5):
        split.add(
            event_id=i + 1,
            story_id=i + 1,
            kind=kinds[i][0],
            percent=kinds[i][1],
            at=times[i],
            vector=vecs[i],
            category="tech",
            title="",
        )
    assert np.allclose(whole.pos, split.pos)
    assert np.allclose(whole.neg, split.neg)
    assert whole.pos_w == split.pos_w
    assert whole.through_id == split.through_id == 6
    # A week halves an event's weight.
    fresh = Engagement.empty(DIM)
    fresh.add(
        event_id=1,
        story_id=1,
        kind="liked",
        percent=None,
        at=NOW.timestamp(),
        vector=vecs[0],
        category=None,
        title="",
    )
    fresh.decay_to(NOW.timestamp() + ranking.HALF_LIFE_S)
    assert np.isclose(fresh.pos_w, 0.75)


def test_a_cluster_of_near_duplicates_gets_one_or_two_slots() -> None:
    rng = np.random.default_rng(2)
    base = unit(rng, 1)[0]
    cluster = base + 0.05 * unit(rng, 8)
    cluster /= np.linalg.norm(cluster, axis=1, keepdims=True)
    vectors = np.vstack([cluster, unit(rng, 12)])
    c = candidates(
        vectors,
        outlets=[1] * 8 + list(range(2, 14)),
        categories=["world"] * 8 + ["tech", "sports", "economy", "politics"] * 3,
        trending=[0.9] * 8 + [0.3] * 12,
    )
    picks = ranking.rank(
        c, Engagement.empty(DIM), Interests(), now=NOW, user_key="1", window_s=86400, depth=10
    )
    rows = [p.row for p in picks]
    assert len(rows) == 10
    assert rows[0] < 8  # the hottest story still leads
    assert sum(1 for r in rows if r < 8) <= 2


def test_exploration_is_one_slot_in_ten_fixed_per_listener_and_day() -> None:
    rng = np.random.default_rng(3)
    n = 120
    cats = [("tech" if i % 3 else "sports") if i < 90 else "culture" for i in range(n)]
    c = candidates(
        unit(rng, n), outlets=[i % 15 + 1 for i in range(n)], categories=cats, trending=list(rng.random(n))
    )
    likes = Interests(categories=frozenset({"tech", "sports"}))

    def feed(user: str, when: datetime) -> list[ranking.Pick]:
        return ranking.rank(
            c, Engagement.empty(DIM), likes, now=when, user_key=user, window_s=86400 * 3, depth=40
        )

    picks = feed("7", NOW)
    explore = [i for i, p in enumerate(picks) if p.reason == "explore"]
    assert len(explore) == 4  # 40 items, 10 %
    assert explore[0] == ranking.explore_offset("7", NOW.date().isoformat())
    assert np.diff(explore).tolist() == [10, 10, 10]
    assert all(cats[picks[i].row] == "culture" for i in explore)
    assert [p.row for p in feed("7", NOW + timedelta(hours=3))] == [p.row for p in picks]  # same day
    days = {tuple(p.row for p in feed("7", NOW + timedelta(days=d))) for d in range(4)}
    assert len(days) > 1  # another day, another draw


def test_explanations_speak_the_listeners_language() -> None:
    assert ranking.explain("keyword", "경제", "en") == "you follow 경제"
    assert ranking.explain("keyword", "경제", "ko") == "관심 키워드 ‘경제’"
    assert ranking.explain("trending", "tech", "en") == "trending in tech"
    assert ranking.explain("trending", "tech", "ko") == "IT·과학 분야 급상승"
    assert (
        ranking.explain("similar", "", "en", story="Rates rise", kind="liked")
        == "because you liked “Rates rise”"
    )
    assert ranking.explain("explore", "culture", "en") == "something different: culture"
    assert ranking.explain("outlet", "3", "ko", outlet="연합뉴스") == "구독한 언론사 연합뉴스"


def test_keywords_and_mutes_match_whole_words_in_latin_script() -> None:
    text = ranking.topic_text("Startups raise art funds; K-Pop stars", ["AI"], "culture")
    assert ranking._matches("art", text)
    assert ranking._matches("star", text)  # a plural counts
    assert not ranking._matches("start", text)  # a prefix does not
    assert ranking._matches("k-pop", text)
    assert ranking._matches("CULTURE", text)
    assert ranking._matches("경제", ranking.topic_text("경제성장률 발표", [], None))  # Korean: substring
