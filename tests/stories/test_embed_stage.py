"""The embed stage: stores each article's e5 vector and features once, hands the article to stories,
and search takes the stored vector; a redelivered event computes nothing."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select, update

from newstalk.articles.models import Article
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.kit.db import utcnow
from newstalk.pipeline import topics
from newstalk.runtime import Services
from newstalk.search.models import SearchDoc
from newstalk.stories.models import ArticleEmbedding, ArticleFeatures, StoryArticle
from tests.pipeline.test_ingest_flow import drain
from tests.stories.articles import HEADLINES, add_articles, ingested, pending
from tests.support.newsroom import stage_worker

pytestmark = pytest.mark.anyio


async def _rows(services: Services) -> dict[int, ArticleEmbedding]:
    async with services.db.read() as session:
        return {r.article_id: r for r in (await session.scalars(select(ArticleEmbedding))).all()}


async def test_embed_stores_once_and_stories_places_from_the_stored_rows(services: Services) -> None:
    ids = await add_articles(services, HEADLINES)
    assert await pending(services, "stories") == 0  # article.ingested goes to embed (and search)

    assert await drain(stage_worker(services, "embed")) == len(ids)
    rows = await _rows(services)
    assert sorted(rows) == ids
    for r in rows.values():
        vector = np.frombuffer(r.embedding, dtype=np.float32)
        assert vector.shape == (384,)
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3
        assert r.model == "e5-small"
        assert r.lead
    assert await pending(services, "stories") == len(ids)  # one article.embedded each

    # Redelivered events: the rows are current, nothing is computed or rewritten.
    async with services.db.unit() as uow:
        for a in (await uow.session.scalars(select(Article).where(Article.id.in_(ids)))).all():
            uow.emit(ingested(a))
    assert await drain(stage_worker(services, "embed")) == len(ids)
    again = await _rows(services)
    assert {k: v.computed_at for k, v in again.items()} == {k: v.computed_at for k, v in rows.items()}
    assert await pending(services, "stories") == len(ids)  # still one pending job per article

    assert await drain(stage_worker(services, "stories")) == len(ids)
    async with services.db.read() as session:
        placed = (await session.scalars(select(StoryArticle.article_id))).all()
        features = {f.article_id: f.embedding for f in (await session.scalars(select(ArticleFeatures))).all()}
    assert sorted(placed) == ids
    # The stories stage clustered on the stored vectors (it computed none of its own).
    assert features == {k: v.embedding for k, v in rows.items()}

    # Search takes the stored vectors as soon as articles are embedded (before any story).
    assert await drain(stage_worker(services, "search")) > 0
    async with services.db.read() as session:
        with_vectors = await session.scalar(
            select(func.count())
            .select_from(SearchDoc)
            .where(SearchDoc.article_id.in_(ids), SearchDoc.has_vector.is_(True))
        )
    assert with_vectors == len(ids)


async def test_a_changed_article_is_embedded_again_and_old_jobs_are_computed_by_stories(
    services: Services,
) -> None:
    [first] = await add_articles(services, HEADLINES[:1])
    await drain(stage_worker(services, "embed"))
    before = (await _rows(services))[first]
    async with services.db.unit() as uow:
        await uow.session.execute(update(Article).where(Article.id == first).values(content_hash="f" * 64))
        row = await uow.session.get(Article, first)
        assert row is not None
        uow.emit(ingested(row))  # the same article under a new content hash
    await drain(stage_worker(services, "embed"))
    after = (await _rows(services))[first]
    assert after.content_hash == "f" * 64
    assert after.computed_at >= before.computed_at

    # A stories job queued before the embed stage existed (article.ingested routed to stories):
    # the stage computes the article itself instead of waiting for a row that never comes.
    [legacy] = await add_articles(services, HEADLINES[1:2], start=10)
    now = utcnow()
    async with services.db.unit() as uow:
        art = await uow.session.get(Article, legacy)
        assert art is not None
        uow.session.add(
            QueueJob(
                stage="stories",
                topic=topics.ARTICLE_INGESTED,
                dedup_key=art.content_hash,
                payload={"article_id": legacy, "source_id": art.source_id, "content_hash": art.content_hash},
                status="ready",
                attempts=0,
                available_at=now - timedelta(seconds=1),
                first_seen_at=art.first_seen_at,
                created_at=now,
            )
        )
    await drain(stage_worker(services, "stories"))
    async with services.db.read() as session:
        placed = set((await session.scalars(select(StoryArticle.article_id))).all())
    assert legacy in placed
    assert first in placed
