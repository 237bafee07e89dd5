"""The stories stage: article.embedded → near-dup + clustering + analysis → story.updated.

The per-article work (e5, keywords, MinHash, lead, sentiment) is the embed stage's
(``stories/embed.py``); this stage reads its rows and only places articles and refreshes
stories. An article without a current row (a job queued before the embed stage existed)
is computed here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.kit import lease
from newstalk.kit.bus import Job, LeaseLost
from newstalk.kit.db import Database, utcnow
from newstalk.kit.resources import ResourceKey
from newstalk.pipeline import topics
from newstalk.pipeline.worker import BatchContext, JobContext
from newstalk.providers.embeddings import shared_embeddings
from newstalk.stories import service
from newstalk.stories.embed import INPUT_COLUMNS, model_label
from newstalk.stories.engine import ArticleInput, Computed, StoryEngine, article_input, from_stored
from newstalk.stories.models import OPEN, ArticleEmbedding, Story, StoryArticle

if TYPE_CHECKING:
    from newstalk.pipeline.context import StageServices

log = logging.getLogger(__name__)

ARTICLE_TOPICS = (topics.ARTICLE_EMBEDDED, topics.ARTICLE_INGESTED)
BASELINE_TTL_S = 300.0

ENGINE: ResourceKey[StoryEngine] = ResourceKey("stories.engine")
LEASE_NAME = "stories"
LEASE: ResourceKey[WriterLease] = ResourceKey("stories.lease")
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


@dataclass(slots=True)
class WriterLease:
    """This process's claim on the stories writer lease (``kit/lease.py``); released on close."""

    db: Database
    holder: str
    ttl_s: float
    held: bool = False
    renewed_at: float = 0.0

    async def aclose(self) -> None:
        """Hand the lease back so a standby takes over at once (clean shutdown)."""
        if self.held:
            self.held = False
            await lease.release(self.db, LEASE_NAME, self.holder)


def _writer_lease(services: StageServices) -> WriterLease:
    return services.resources.get_or_build(
        LEASE, lambda: WriterLease(services.db, lease.new_holder(), services.settings.stories_lease_s)
    )


async def hold_writer_lease(services: StageServices) -> bool:
    """The stage's gate: True while this worker is the one stories writer (takes the lease when free).

    Asked before every claim; the lease is renewed in the database at most every third of
    its time. A worker that becomes the writer reloads the engine's state, since the
    previous writer may have placed articles since it was read.
    """
    wl = _writer_lease(services)
    now = time.monotonic()
    if wl.held and now - wl.renewed_at < wl.ttl_s / 3:
        return True
    held = await lease.acquire(services.db, LEASE_NAME, wl.holder, wl.ttl_s)
    if held and not wl.held:
        log.info("stories: %s is now the stories writer", wl.holder)
        engine = services.resources.get(ENGINE)
        if engine is not None:
            engine.loaded = False
    elif wl.held and not held:
        log.warning("stories: %s lost the stories writer lease; standing by", wl.holder)
    wl.held, wl.renewed_at = held, now if held else 0.0
    return held


async def _fence(services: StageServices, session: AsyncSession) -> None:
    """Renew the lease in the unit that commits the batch: a writer that lost it commits nothing."""
    wl = _writer_lease(services)
    if not await lease.renew(session, LEASE_NAME, wl.holder, wl.ttl_s):
        wl.held = False
        raise LeaseLost(f"stories: {wl.holder} no longer holds the writer lease; its batch rolled back")


async def handle_stories_batch(ctx: BatchContext) -> None:
    """Handle a claimed batch in one unit (embeddings are computed for the whole batch at once)."""
    await _process(ctx.services, ctx.jobs, ctx)


async def handle_stories(ctx: JobContext) -> None:
    """Handle one job (the fallback when a batch failed)."""
    await _process(ctx.services, [ctx.job], ctx)


async def _process(services: StageServices, jobs: Sequence[Job], ctx: BatchContext | JobContext) -> None:
    if not await hold_writer_lease(services):
        raise LeaseLost("stories: another worker holds the writer lease; this one stands by")
    engine = await engine_for(services)
    edited = [j for j in jobs if j.topic == topics.STORY_EDITED]
    # article.ingested: jobs queued for this stage before the embed stage existed.
    article_ids = [int(j.payload["article_id"]) for j in jobs if j.topic in ARTICLE_TOPICS]
    stored, missing = await _load_articles(services, article_ids)
    computed = list(stored)
    if missing:
        computed += await asyncio.to_thread(engine.compute, missing)
    baselines = await baselines_for(services)
    async with engine.lock:
        try:
            if edited:
                async with services.db.read() as session:
                    await engine.load(session)
            async with ctx.commit() as uow:
                await _fence(services, uow.session)
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


async def _load_articles(
    services: StageServices, article_ids: Sequence[int]
) -> tuple[list[Computed], list[ArticleInput]]:
    """The articles with the embed stage's features, and those without (computed here instead)."""
    if not article_ids:
        return [], []
    model = model_label(services.settings)
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(*INPUT_COLUMNS, ArticleEmbedding)
                .outerjoin(ArticleEmbedding, ArticleEmbedding.article_id == Article.id)
                .where(Article.id.in_(article_ids))
                .order_by(Article.first_seen_at, Article.id)
            )
        ).all()
    stored: list[Computed] = []
    missing: list[ArticleInput] = []
    for r in rows:
        article = article_input(r)
        row = r.ArticleEmbedding
        if row is not None and row.content_hash == r.content_hash and row.model == model:
            stored.append(from_stored(article, row))
        else:
            missing.append(article)
    return stored, missing


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
