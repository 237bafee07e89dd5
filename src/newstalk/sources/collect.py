"""The collect stage, a source's poll or WebSub push: fetch → parse → normalize → dedup → store.

It lives in sources (it is the poll) and uses ingestion's parser and articles' store below it;
the extract stage that follows is ``ingestion/tasks.py``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from newstalk.articles import service as articles
from newstalk.articles.types import NormalizedArticle
from newstalk.errors import FeedParseError, FetchError
from newstalk.ingestion.process import parse_and_normalize
from newstalk.ingestion.types import ParsedFeed
from newstalk.kit import metrics
from newstalk.kit.bus import Job
from newstalk.kit.db import utcnow
from newstalk.kit.http import FetchResult
from newstalk.kit.logs import describe_error
from newstalk.pipeline import topics
from newstalk.pipeline.context import StageServices
from newstalk.pipeline.worker import JobContext
from newstalk.sources import repository as sources_repo
from newstalk.sources import service as sources
from newstalk.sources.models import ACTIVE

log = logging.getLogger(__name__)


async def poll_targets(services: StageServices, jobs: Sequence[Job]) -> dict[int, sources_repo.PollTarget]:
    """The claim's prefetch: every polled source's URL, status and validators in one SELECT.

    So a poll answered 304 costs no statement of its own before the worker's shared UPDATE.
    """
    ids = [int(job.payload["source_id"]) for job in jobs if "source_id" in job.payload]
    async with services.db.read() as session:
        return await sources_repo.poll_targets(session, ids)


async def handle_collect(ctx: JobContext) -> None:
    """Poll one source (``source.poll``) or ingest a WebSub push (``source.push``)."""
    source_id = int(ctx.job.payload["source_id"])
    claimed = ctx.claim.get(source_id) if isinstance(ctx.claim, dict) else None
    if claimed is not None:
        target: sources_repo.PollTarget | None = claimed
    else:
        async with ctx.services.db.read() as session:
            target = await sources_repo.poll_target(session, source_id)
    if target is None or target.status != ACTIVE:
        return
    feed_url, etag, last_modified = target.feed_url, target.etag, target.last_modified
    first_seen = utcnow()
    label = str(source_id)
    if ctx.job.topic == topics.SOURCE_PUSH:
        body = base64.b64decode(ctx.job.payload["body_b64"])
        try:
            pushed, pushed_items = await _parse(
                ctx,
                body,
                url=feed_url,
                content_type=ctx.job.payload.get("content_type"),
                first_seen_at=first_seen,
            )
        except FeedParseError as exc:
            log.warning("websub: push for source %s ignored: %s", source_id, exc.detail)
            return
        await _store(ctx, source_id, pushed, pushed_items, first_seen, fetch=None)
        metrics.SOURCE_FETCHES.labels(label, "push").inc()
        return

    try:
        result = await ctx.services.fetcher.fetch(feed_url, etag=etag, last_modified=last_modified)
        feed: ParsedFeed | None = None
        items: list[NormalizedArticle] = []
        if result.status != 304:
            feed, items = await _parse(
                ctx,
                result.body,
                url=result.url,
                content_type=result.content_type,
                first_seen_at=first_seen,
            )
    except (FetchError, FeedParseError) as exc:
        reason = exc.reason if isinstance(exc, FetchError) else "parse"
        async with ctx.commit() as uow:
            src = await sources_repo.get(uow.session, source_id)
            if src is not None:
                sources.record_failure(src, ctx.services.settings, exc.detail, reason=reason, now=utcnow())
        metrics.SOURCE_FETCHES.labels(label, reason).inc()
        return
    if result.status == 304 and (not result.permanent_url or result.permanent_url == feed_url):
        # Nothing to parse or store: the worker commits the bookkeeping of the claim's 304s
        # together, one UPDATE for all of them (one per source if that fails).
        ctx.commit_later(sources.record_not_modified, sources.not_modified(source_id, target, now=utcnow()))
        metrics.SOURCE_FETCHES.labels(label, "not_modified").inc()
        return
    try:
        await _store(ctx, source_id, feed, items, first_seen, fetch=result)
    except SQLAlchemyError as exc:
        async with ctx.services.db.unit() as uow:
            src = await sources_repo.get(uow.session, source_id)
            if src is not None:
                sources.note_store_failure(src, describe_error(exc), now=utcnow())
        raise
    metrics.SOURCE_FETCHES.labels(label, "not_modified" if result.status == 304 else "ok").inc()


async def _parse(
    ctx: JobContext, body: bytes, *, url: str, content_type: str | None, first_seen_at: datetime
) -> tuple[ParsedFeed, list[NormalizedArticle]]:
    """Parse and normalize off the event loop: in the parse process pool, or a thread."""
    call = functools.partial(
        parse_and_normalize,
        body,
        url=url,
        content_type=content_type,
        first_seen_at=first_seen_at,
        max_entries=ctx.services.settings.collect_max_entries,
    )
    try:
        return await asyncio.get_running_loop().run_in_executor(ctx.services.parse_pool, call)
    except BrokenProcessPool:
        log.error("ingestion: a parse process died; restarting the pool, the poll will be retried")
        ctx.services.restart_parse_pool()
        raise


async def _store(
    ctx: JobContext,
    source_id: int,
    feed: ParsedFeed | None,
    items: list[NormalizedArticle],
    first_seen: datetime,
    *,
    fetch: FetchResult | None,
) -> None:
    settings = ctx.services.settings
    async with ctx.commit() as uow:
        src = await sources_repo.get(uow.session, source_id)
        if src is None:
            return
        now = utcnow()
        recent = await articles.stored_since(uow.session, source_id, now - timedelta(hours=1))
        budget = min(settings.collect_max_new_per_poll, settings.collect_max_new_per_source_hour - recent)
        result = await articles.store_articles(
            uow,
            source_id=source_id,
            full_text=src.full_text,
            items=items,
            first_seen_at=first_seen,
            limit=max(budget, 0),
        )
        stored = result.stored
        if result.held_back:
            metrics.COLLECT_HELD_BACK.inc(result.held_back)
            log.info(
                "collect: source %s: %d new items wait for later polls (NEWSTALK_COLLECT_MAX_NEW_*)",
                source_id,
                result.held_back,
            )
        if fetch is not None:
            capped = result.held_back > 0
            sources.record_success(
                src,
                settings,
                now=utcnow(),
                status=fetch.status,
                # Held-back items are in this very document: the next poll must fetch it again
                # in full rather than be answered 304.
                etag=None if capped else fetch.etag,
                last_modified=None if capped else fetch.last_modified,
                permanent_url=fetch.permanent_url,
                feed=feed,
                new_items=len(stored),
                held_back=result.held_back,
                max_age_s=fetch.max_age_s,
            )
        else:
            if stored:
                src.article_count += len(stored)
                src.last_new_item_at = utcnow()
            if result.held_back:
                sources.note_held_back(src, result.held_back, now=utcnow())
        if feed is not None:
            sources.note_hub(uow, settings, src, feed)
    elapsed = (utcnow() - first_seen).total_seconds()
    language = {a.content_hash: a.language for a in items}
    for _, content_hash in stored:
        metrics.STAGE_LATENCY.labels("collect").observe(elapsed)
        metrics.ARTICLES_STORED.labels(language[content_hash]).inc()
