"""The stories stage: article.ingested → near-dup + clustering + analysis → story.updated."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from newstalk.articles.models import Article
from newstalk.kit.bus import Job
from newstalk.kit.db import utcnow
from newstalk.kit.resources import ResourceKey
from newstalk.pipeline import topics
from newstalk.pipeline.worker import BatchContext, JobContext
from newstalk.providers.embeddings import shared_embeddings
from newstalk.stories import service
from newstalk.stories.engine import ArticleInput, StoryEngine
from newstalk.stories.models import OPEN, Story, StoryArticle

if TYPE_CHECKING:
    from newstalk.pipeline.context import StageServices

log = logging.getLogger(__name__)

TEXT_CHARS = 4000
BASELINE_TTL_S = 300.0

ENGINE: ResourceKey[StoryEngine] = ResourceKey("stories.engine")
# When the per-category baselines were read (monotonic seconds) and what they were.
BASELINES: ResourceKey[tuple[float, dict[str, float]]] = ResourceKey("stories.baselines")
_engine_lock = asyncio.Lock()


async def engine_for(services: StageServices) -> StoryEngine:
    """This process's engine, built (models loaded, state read) on first use."""
    async with _engine_lock:
        engine = services.resources.get(ENGINE)
        if engine is None:
            embeddings = shared_embeddings(services.resources, services.settings)
            engine = await asyncio.to_thread(StoryEngine, services.settings, embeddings)
            services.resources.set(ENGINE, engine)
        if not engine.loaded:
            async with services.db.read() as session:
                await engine.load(session)
        return engine


def forget_engine(services: StageServices) -> None:
    """Drop this process's engine so the next job rebuilds it from the database."""
    services.resources.pop(ENGINE)
    services.resources.pop(BASELINES)


async def baselines_for(services: StageServices) -> dict[str, float]:
    """Per-category articles per hour, refreshed every few minutes."""
    cached = services.resources.get(BASELINES)
    if cached and time.monotonic() - cached[0] < BASELINE_TTL_S:
        return cached[1]
    async with services.db.read() as session:
        values = await service.category_baselines(session, utcnow())
    services.resources.set(BASELINES, (time.monotonic(), values))
    return values


async def handle_stories_batch(ctx: BatchContext) -> None:
    """Handle a claimed batch in one unit (embeddings are computed for the whole batch at once)."""
    await _process(ctx.services, ctx.jobs, ctx)


async def handle_stories(ctx: JobContext) -> None:
    """Handle one job (the fallback when a batch failed)."""
    await _process(ctx.services, [ctx.job], ctx)


async def _process(services: StageServices, jobs: Sequence[Job], ctx: BatchContext | JobContext) -> None:
    engine = await engine_for(services)
    edited = [j for j in jobs if j.topic == topics.STORY_EDITED]
    article_ids = [int(j.payload["article_id"]) for j in jobs if j.topic == topics.ARTICLE_INGESTED]
    articles = await _load_articles(services, article_ids)
    computed = await asyncio.to_thread(engine.compute, articles) if articles else []
    baselines = await baselines_for(services)
    async with engine.lock:
        try:
            if edited:
                async with services.db.read() as session:
                    await engine.load(session)
            async with ctx.commit() as uow:
                touched = await service.assign(uow, engine, computed)
                for job in edited:
                    touched.update(int(s) for s in job.payload.get("stories", []))
                if touched:
                    # One SELECT loads every touched story into the session; refresh's get() then hits the identity map.
                    await uow.session.scalars(select(Story).where(Story.id.in_(sorted(touched))))
                for story_id in sorted(touched):
                    await service.refresh(uow, engine, story_id, baselines)
        except BaseException:
            # Memory may hold assignments the database never got: read the truth back.
            engine.loaded = False
            raise


async def _load_articles(services: StageServices, article_ids: Sequence[int]) -> list[ArticleInput]:
    if not article_ids:
        return []
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(
                    Article.id,
                    Article.source_id,
                    Article.language,
                    Article.title,
                    Article.content_text,
                    Article.published_at,
                    Article.first_seen_at,
                )
                .where(Article.id.in_(article_ids))
                .order_by(Article.first_seen_at, Article.id)
            )
        ).all()
    return [
        ArticleInput(
            article_id=r.id,
            source_id=r.source_id,
            language=r.language,
            title=r.title,
            text=(r.content_text or "")[:TEXT_CHARS],
            published_at=r.published_at,
            first_seen_at=r.first_seen_at,
        )
        for r in rows
    ]


async def refresh_trending(services: StageServices) -> int:
    """Recompute trending for stories seen in the last day (scores decay without new articles)."""
    now = utcnow()
    baselines = await baselines_for(services)
    async with services.db.unit() as uow:
        stories = (
            await uow.session.scalars(
                select(Story).where(Story.status == OPEN, Story.last_seen_at >= now - service.TREND_HORIZON)
            )
        ).all()
        arrivals: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
        if stories:
            rows = await uow.session.execute(
                select(StoryArticle.story_id, Article.first_seen_at, Article.source_id)
                .join(Article, Article.id == StoryArticle.article_id)
                .where(StoryArticle.story_id.in_([s.id for s in stories]))
            )
            for story_id, seen, source_id in rows.all():
                arrivals[story_id].append((seen, source_id))
        for story in stories:
            service.apply_trend(story, arrivals[story.id], baselines)
    return len(stories)
