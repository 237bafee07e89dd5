"""Incremental story refresh: running aggregates give what a full re-read of the members gives."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from newstalk.pipeline.stages import all_stages
from newstalk.pipeline.worker import StageWorker
from newstalk.runtime import Services
from newstalk.stories import service
from newstalk.stories.aggregate import SUMMARY_MEMBERS, Member, StoryAggregate
from newstalk.stories.models import Story
from newstalk.stories.tasks import ENGINE, baselines_for
from tests.pipeline.test_ingest_flow import drain
from tests.stories.test_stories_flow import (
    FOOTBALL_EN,
    QUAKE_DAILY,
    QUAKE_EN,
    QUAKE_EN_2,
    QUAKE_KO,
    RATES_EN,
    RATES_KO,
    item,
)
from tests.support.feedserver import FeedServer
from tests.support.newsroom import stage_worker, subscribe_and_collect

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def member(i: int, *, original: bool = True, language: str = "en", sentiment: float | None = 0.1) -> Member:
    rng = np.random.default_rng(i)
    v = rng.normal(size=8).astype(np.float32)
    return Member(
        article_id=i,
        source_id=i % 3,
        title=f"title {i}",
        language=language,
        first_seen_at=T0 + timedelta(minutes=(i * 7) % 50),
        keywords=[f"k{i % 4}", f"k{i % 5}"],
        embedding=v / np.linalg.norm(v),
        sentiment=sentiment,
        lead=[f"lead {i}"],
        original=original,
    )


def test_incremental_aggregate_equals_a_full_recompute() -> None:
    members = [member(i, original=i % 4 != 3, language="ko" if i % 5 == 0 else "en") for i in range(70)]
    grown = StoryAggregate()
    for m in members:
        assert grown.add(m)
    assert not grown.add(members[10]), "a member counted twice would skew every aggregate"

    originals = [m for m in members if m.original]
    mean = np.mean(np.stack([m.embedding for m in originals]), axis=0)
    np.testing.assert_allclose(grown.centroid(), mean / np.linalg.norm(mean), rtol=1e-5, atol=1e-6)
    assert grown.size == 70
    assert [m.article_id for m in grown.recent()] == [m.article_id for m in originals[-SUMMARY_MEMBERS:]]
    assert grown.main_language() == "en"
    assert grown.source_ids == {0, 1, 2}
    assert grown.first_seen == min(m.first_seen_at for m in members)
    assert grown.last_seen == max(m.first_seen_at for m in members)
    assert grown.sentiment() == pytest.approx(0.1)
    assert len(grown.arrivals) == 70
    assert grown.keyword_counts["k0"] == sum(list(m.keywords).count("k0") for m in members)


def test_a_story_of_duplicates_only_is_described_by_all_its_members() -> None:
    # After an editor splits wire copies out, a story may hold no original; the full
    # recompute then used every member, and so must the aggregate.
    agg = StoryAggregate.build([member(1, original=False, sentiment=None), member(2, original=False)])
    assert [m.article_id for m in agg.recent()] == [1, 2]
    assert agg.sentiment() == pytest.approx(0.1)
    assert agg.centroid().shape == (8,)


def test_an_empty_aggregate_has_no_centroid() -> None:
    with pytest.raises(ValueError, match="empty story"):
        StoryAggregate().centroid()


FIELDS = (
    "title",
    "summary",
    "keywords",
    "languages",
    "category",
    "article_count",
    "outlet_count",
    "first_seen_at",
    "last_seen_at",
)


def snapshot(story: Story) -> dict[str, Any]:
    return {f: getattr(story, f) for f in FIELDS}


@pytest.mark.anyio
async def test_stage_refresh_in_small_batches_matches_a_full_reread(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    base = feed_server.url("")
    feeds = {
        "/wire.xml": ("Wire", [item(base, "wire", 1, QUAKE_EN, 0), item(base, "wire", 2, RATES_EN, 5)], "en"),
        "/daily.xml": (
            "Daily",
            [item(base, "daily", 1, QUAKE_DAILY, 3), item(base, "daily", 2, FOOTBALL_EN, 10)],
            "en",
        ),
        "/times.xml": ("Times", [item(base, "times", 1, QUAKE_EN_2, 8)], "en"),
        "/hankook.xml": (
            "한국일보",
            [item(base, "hankook", 1, QUAKE_KO, 6), item(base, "hankook", 2, RATES_KO, 12)],
            "ko",
        ),
    }
    await subscribe_and_collect(client, services, feed_server, admin, feeds)
    await drain(stage_worker(services, "embed"))  # the features stories reads
    stage = next(s for s in all_stages(services.settings) if s.name == "stories")
    # Two articles per unit: stories grow across units, so later refreshes are incremental.
    await drain(StageWorker(services, dataclasses.replace(stage, batch_size=2)))

    engine = services.resources.get(ENGINE)
    assert engine.aggregates, "the stage keeps running aggregates of its open stories"
    async with services.db.read() as session:
        stories = (await session.scalars(select(Story).order_by(Story.id))).all()
        incremental = {s.id: snapshot(s) for s in stories}
        centroids = {s.id: np.frombuffer(s.centroid or b"", dtype=np.float32) for s in stories}
    assert max(s["article_count"] for s in incremental.values()) >= 3

    # Forget the aggregates: the next refresh reads every member, as the old refresh did.
    engine.aggregates.clear()
    engine.pending.clear()
    baselines = await baselines_for(services)
    async with services.db.unit() as uow:
        for story_id in incremental:
            await service.refresh(uow, engine, story_id, baselines)
    async with services.db.read() as session:
        for s in (await session.scalars(select(Story).order_by(Story.id))).all():
            assert snapshot(s) == incremental[s.id]
            np.testing.assert_allclose(
                np.frombuffer(s.centroid or b"", dtype=np.float32), centroids[s.id], atol=1e-6
            )
