"""Incremental story clustering with real e5 embeddings: Korean and English coverage of one event."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from newstalk.providers.embeddings import E5SmallEmbeddings
from newstalk.stories.cluster import ArticleFeatures, StoryClusterer, features_from_title

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
PARALLEL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "news" / "ko-en-news-parallel"

# (event, source, language, minutes after T0, title); arrivals interleave across events.
ARTICLES = [
    ("quake", 1, "en", 0, "Magnitude 7.1 earthquake strikes off northeastern Japan, tsunami warning issued"),
    ("rates", 2, "ko", 5, "한국은행, 기준금리 0.25%포인트 인상…연 3.5%"),
    ("quake", 3, "ko", 12, "일본 동북부 해역서 규모 7.1 강진…쓰나미 경보 발령"),
    ("derby", 4, "en", 20, "Son Heung-min scores twice as Tottenham beat Arsenal in north London derby"),
    ("rates", 5, "en", 31, "Bank of Korea raises key interest rate to 3.5% to curb inflation"),
    ("derby", 6, "ko", 40, "손흥민 멀티골 폭발…토트넘, 북런던 더비서 아스널 꺾어"),
    ("quake", 7, "en", 55, "Japan lifts tsunami warning after strong earthquake off its northeast coast"),
    ("rates", 8, "ko", 70, "한은 기준금리 인상에 대출 이자 부담 커져"),
    ("derby", 9, "en", 90, "Tottenham's Son Heung-min stars with two goals in derby win over Arsenal"),
    ("quake", 10, "ko", 95, "일본 강진 후 쓰나미 경보 해제…동북부 해안 피해 조사"),
    ("rates", 11, "en", 120, "South Korea's central bank hikes interest rate by a quarter point"),
    ("derby", 12, "ko", 150, "손흥민, 아스널전 두 골…토트넘 더비 승리 이끌어"),
]


@cache
def e5() -> E5SmallEmbeddings:
    return E5SmallEmbeddings()


@cache
def _vectors(titles: tuple[str, ...]) -> np.ndarray:
    return e5().encode(list(titles))


def features(titles: list[tuple[int, int, str, datetime, str]]) -> list[ArticleFeatures]:
    vectors = _vectors(tuple(t[4] for t in titles))
    return [
        features_from_title(aid, src, lang, at, title, v)
        for (aid, src, lang, at, title), v in zip(titles, vectors, strict=True)
    ]


def event_features() -> list[ArticleFeatures]:
    return features(
        [
            (i, src, lang, T0 + timedelta(minutes=m), title)
            for i, (_, src, lang, m, title) in enumerate(ARTICLES)
        ]
    )


def stream(clusterer: StoryClusterer, feats: list[ArticleFeatures], first_id: int = 1) -> dict[int, int]:
    """Feed articles in order the way the stage does; returns article id -> story id."""
    out: dict[int, int] = {}
    next_id = first_id
    for f in feats:
        clusterer.evict(f.published_at)
        a = clusterer.assign(f)
        assert a.reason
        if a.story_id is None:
            clusterer.new_story(next_id, f)
            out[f.article_id] = next_id
            next_id += 1
        else:
            clusterer.add(a.story_id, f)
            out[f.article_id] = a.story_id
    return out


def test_groups_ko_en_coverage_of_each_event_and_keeps_events_apart() -> None:
    c = StoryClusterer(window=WINDOW)
    got = stream(c, event_features())
    stories: dict[str, set[int]] = {}
    for i, (event, *_rest) in enumerate(ARTICLES):
        stories.setdefault(event, set()).add(got[i])
    # No story mixes events (each story's articles come from one event).
    owner: dict[int, str] = {}
    for i, (event, *_rest) in enumerate(ARTICLES):
        assert owner.setdefault(got[i], event) == event, (got, event)
    # The quake and the derby stay whole in both languages. Of the rate hike, the Korean
    # follow-up on loan interest ("한은 기준금리 인상에 대출 이자 부담 커져") resembles the
    # Korean hike headline less than precision-first joining asks (a story of its own).
    assert len(stories["quake"]) == 1, stories
    assert len(stories["derby"]) == 1, stories
    assert len(stories["rates"]) <= 2, stories
    for event in ("quake", "derby"):
        state = c.stories[next(iter(stories[event]))]
        assert state.size == 4
        assert state.languages == {"ko", "en"}
        assert len(state.source_ids) == 4
    for state in c.stories.values():
        assert np.isclose(np.linalg.norm(state.centroid), 1.0, atol=1e-5)


def test_assignment_explains_itself() -> None:
    c = StoryClusterer(window=WINDOW)
    feats = event_features()
    c.new_story(1, feats[0])
    joined = c.assign(feats[6])
    assert joined.story_id == 1
    assert "cos" in joined.reason
    assert "story 1" in joined.reason
    apart = c.assign(feats[1])
    assert apart.story_id is None
    assert apart.score < c.threshold
    assert "new story" in apart.reason


def test_window_opens_a_new_story_and_evicts_idle_ones() -> None:
    c = StoryClusterer(window=WINDOW)
    feats = event_features()
    stream(c, feats[:4])
    late = features([(100, 20, "en", T0 + timedelta(hours=80), ARTICLES[6][4])])[0]
    assert c.assign(late).story_id is None
    assert "window" in c.assign(late).reason
    evicted = c.evict(late.published_at)
    assert len(evicted) == 3
    assert len(c) == 0
    # Rows are reused after eviction.
    c.new_story(50, late)
    assert c.assign(features([(101, 21, "en", T0 + timedelta(hours=81), ARTICLES[0][4])])[0]).story_id == 50


def test_forbid_keeps_a_split_article_out_even_when_new_articles_arrive() -> None:
    c = StoryClusterer(window=WINDOW)
    feats = event_features()
    got = stream(c, feats)
    quake = got[0]
    moved = feats[6]
    c.forbid(moved.article_id, quake)
    assert moved.article_id in c.stories[quake].blocked
    again = c.assign(moved)
    assert again.story_id != quake
    # Other articles of the event still join; the block is for that article only.
    newcomer = features(
        [(200, 30, "en", T0 + timedelta(hours=3), "Tsunami warning lifted in Japan after quake")]
    )[0]
    assert c.assign(newcomer).story_id == quake
    c.add(quake, newcomer)
    assert c.assign(moved).story_id != quake
    # A block recorded before the story is rebuilt applies once it exists.
    fresh = StoryClusterer(window=WINDOW)
    fresh.forbid(moved.article_id, 7)
    fresh.new_story(7, feats[0])
    assert fresh.assign(moved).story_id is None


def test_pin_returns_an_article_to_the_editors_story() -> None:
    c = StoryClusterer(window=WINDOW)
    feats = event_features()
    got = stream(c, feats)
    rates = got[1]
    c.pin(feats[0].article_id, rates)
    a = c.assign(feats[0])
    assert a.story_id == rates
    assert "editor" in a.reason
    assert feats[0].article_id in c.stories[rates].pinned


def test_merge_combines_state_and_sends_later_articles_to_keep() -> None:
    c = StoryClusterer(window=WINDOW)
    feats = event_features()
    got = stream(c, feats)
    quake, rates = got[0], got[1]
    size = c.stories[quake].size + c.stories[rates].size
    sources = len(c.stories[quake].source_ids | c.stories[rates].source_ids)
    c.forbid(999, rates)
    c.merge(quake, rates)
    assert rates not in c.stories
    kept = c.stories[quake]
    assert kept.size == size
    assert len(kept.source_ids) == sources
    assert 999 in kept.blocked
    assert c.resolve(rates) == quake
    late_rates = features(
        [(300, 40, "en", T0 + timedelta(hours=4), "Bank of Korea rate hike weighs on borrowers")]
    )[0]
    assert c.assign(late_rates).story_id == quake
    # Decisions naming the merged-away story land on the kept one.
    c.add(rates, late_rates)
    assert c.stories[quake].size == size + 1
    c.forbid(301, rates)
    assert 301 in c.stories[quake].blocked
    c.merge(quake, rates)  # merging again is a no-op
    assert c.stories[quake].size == size + 1


def test_candidate_search_is_fast_with_thousands_of_open_stories() -> None:
    rng = np.random.default_rng(0)
    n, dim = 5000, 384
    vectors = rng.normal(size=(n + 200, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    c = StoryClusterer(window=WINDOW)
    for i in range(n):
        f = ArticleFeatures(
            i, i % 50, "en", T0 + timedelta(seconds=i), f"t{i}", vectors[i], frozenset({f"k{i}"})
        )
        c.new_story(i, f)
    assert len(c) == n
    probes = [
        ArticleFeatures(n + j, 1, "en", T0 + timedelta(hours=1), "p", vectors[n + j], frozenset({"k1"}))
        for j in range(200)
    ]
    start = time.perf_counter()
    for p in probes:
        c.assign(p)
    per_article = (time.perf_counter() - start) / len(probes)
    assert per_article < 0.02, f"{per_article * 1000:.1f} ms per assign with {n} open stories"
    # An exact copy of an open story's first article finds it among thousands.
    copy = ArticleFeatures(10**6, 2, "en", T0, "c", vectors[1234], frozenset({"k1234"}))
    assert c.assign(copy).story_id == 1234


def test_korean_english_translation_pairs_land_in_the_same_story() -> None:
    ko_file, en_file = PARALLEL / "korean-english-park.dev.ko", PARALLEL / "korean-english-park.dev.en"
    if not (ko_file.exists() and en_file.exists()):
        pytest.skip("../shared/data/news/ko-en-news-parallel is not present")
    ko = ko_file.read_text(encoding="utf-8").splitlines()
    en = en_file.read_text(encoding="utf-8").splitlines()
    # Lines 600+ were not used to set the clusterer's constants (those used lines 0-499);
    # every 7th line keeps neighbouring sentences of one article apart.
    lines = list(range(600, 600 + 7 * 30, 7))
    items = []
    for k, i in enumerate(lines):
        at = T0 + timedelta(minutes=20 * k)
        items.append((2 * k, 1, "ko", at, ko[i]))
        items.append((2 * k + 1, 2, "en", at + timedelta(minutes=5), en[i]))
    c = StoryClusterer(window=WINDOW)
    got = stream(c, features(items))
    fraction = sum(got[2 * k + 1] == got[2 * k] for k in range(len(lines))) / len(lines)
    print(f"ko-en pairs in the same story: {fraction:.2f}, stories: {len(c)}")
    # Precision first (the member gate): 0.63 measured. Lines 7 apart can still be one source
    # article, so a story may hold two pairs' sentences, never three.
    assert fraction >= 0.6
    pairs_in_story: dict[int, set[int]] = {}
    for article_id, story_id in got.items():
        pairs_in_story.setdefault(story_id, set()).add(article_id // 2)
    assert max(len(p) for p in pairs_in_story.values()) <= 2
    # Pairing must not come from lumping everything into a few stories.
    assert len(c) >= 15


def _unit(*parts: tuple[int, float]) -> np.ndarray:
    v = np.zeros(16, dtype=np.float32)
    for axis, value in parts:
        v[axis] = value
    out: np.ndarray = v / np.linalg.norm(v)
    return out


def _synthetic(article_id: int, vector: np.ndarray) -> ArticleFeatures:
    return ArticleFeatures(article_id, article_id, "en", T0, f"t{article_id}", vector)


def test_a_headline_close_to_one_member_scores_higher_with_member_gain() -> None:
    # Two different wordings of one event: the centroid sits between them, and a third
    # headline close to the second wording only is nearer that member than the centroid.
    first, second, third = _unit((0, 1.0)), _unit((0, 0.6), (1, 0.8)), _unit((0, 0.4), (1, 0.9), (2, 0.1))
    scores = {}
    for gain in (0.0, 0.5, 1.0):
        c = StoryClusterer(window=WINDOW, member_gain=gain)
        c.new_story(1, _synthetic(1, first))
        c.add(1, _synthetic(2, second))
        scores[gain] = c.assign(_synthetic(3, third)).score
    assert scores[0.0] < scores[0.5] < scores[1.0]
    # The lift is linear in the gain: half the gain, half the lift.
    assert scores[0.5] - scores[0.0] == pytest.approx((scores[1.0] - scores[0.0]) / 2, rel=1e-5)


def test_a_member_farther_than_the_centroid_counts_in_full_whatever_the_gain() -> None:
    # The headline is close to the centroid of two far-apart members but to neither member.
    a, b, probe = _unit((0, 1.0)), _unit((1, 1.0)), _unit((0, 1.0), (1, 1.0))
    scores = set()
    for gain in (0.0, 0.5, 1.0):
        c = StoryClusterer(window=WINDOW, member_gain=gain)
        c.new_story(1, _synthetic(1, a))
        c.add(1, _synthetic(2, b))
        scores.add(round(c.assign(_synthetic(3, probe)).score, 6))
    assert len(scores) == 1
