"""The ``briefings`` pipeline stage: story.checked / story.updated → (debounced) scripts → script.ready.

A story's script waits for its fact-check: ``story.checked`` asks for a script after a short
debounce (``NEWSTALK_BRIEFINGS_DEBOUNCE_S``), ``story.updated`` after a grace period
(``NEWSTALK_BRIEFINGS_FACTCHECK_GRACE_S``) that covers versions the fact-checker skips (it
re-checks a story only when its articles changed). Each request is one pending job per story
and reason, so a burst of updates writes one script; a script whose text did not change is
not written again, and its audio is never synthesized twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from newstalk.briefings import service
from newstalk.briefings.models import BRIEFING, PodcastSubscription, ScriptRecord
from newstalk.kit.bus import Event, Job
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.pipeline import topics
from newstalk.pipeline.worker import BatchContext, JobContext
from newstalk.stories.models import Story

if TYPE_CHECKING:
    from newstalk.pipeline.context import StageServices


async def handle_briefings_batch(ctx: BatchContext) -> None:
    """A claimed batch in one unit; several requests for one story in it write one script."""
    await service.prepare_rewrites(ctx.services, ctx.jobs)
    async with ctx.commit() as uow:
        done: set[int] = set()
        for job in ctx.jobs:
            await _handle(uow, ctx.services, job, done)


async def handle_briefings(ctx: JobContext) -> None:
    """One job (the fallback when a batch failed)."""
    await service.prepare_rewrites(ctx.services, [ctx.job])
    async with ctx.commit() as uow:
        await _handle(uow, ctx.services, ctx.job, set())


async def _handle(uow: UnitOfWork, services: StageServices, job: Job, done: set[int]) -> None:
    settings = services.settings
    if job.topic == topics.STORY_CHECKED:
        uow.emit(
            service.due_event(
                int(job.payload["story_id"]), job.first_seen_at, settings.briefings_debounce_s, "checked"
            )
        )
    elif job.topic == topics.STORY_UPDATED:
        uow.emit(
            service.due_event(
                int(job.payload["story_id"]),
                job.first_seen_at,
                settings.briefings_factcheck_grace_s,
                "updated",
            )
        )
    elif job.topic == topics.BRIEFING_DUE:
        story_id = int(job.payload["story_id"])
        if story_id in done:
            return
        done.add(story_id)
        await service.write_story_scripts(
            uow, settings, story_id, job.first_seen_at, service.rewriter_for(services)
        )
    elif job.topic == topics.BRIEFING_DAILY:
        await service.write_daily(uow, job.payload, job.first_seen_at, service.rewriter_for(services))


def today(now: datetime | None = None) -> str:
    """The UTC date daily briefings are named by."""
    return (now or utcnow()).astimezone(UTC).date().isoformat()


async def schedule_daily_briefings(services: StageServices, now: datetime | None = None) -> int:
    """Ask for today's briefing of every subscribed configuration that has none yet (scheduler)."""
    now = now or utcnow()
    if now.astimezone(UTC).hour < services.settings.briefings_daily_hour_utc:
        return 0
    date = today(now)
    async with services.db.unit() as uow:
        subs = (
            await uow.session.scalars(
                select(PodcastSubscription).where(PodcastSubscription.revoked_at.is_(None))
            )
        ).all()
        has_stories = await uow.session.scalar(
            select(Story.id).where(Story.last_seen_at >= now - timedelta(days=1)).limit(1)
        )
        if has_stories is None:
            return 0
        # Shared feeds (no listener) share one briefing per configuration; a listener's feed
        # gets its own, chosen from their feed and preferences (briefings/selection.py).
        shared = {(s.lang, s.form, tuple(s.speakers), s.story_count) for s in subs if s.listener_id is None}
        wanted: list[tuple[str, Event]] = [
            (
                service.briefing_key(lang, form, speakers, story_count),
                service.daily_event(lang, form, speakers, story_count, date),
            )
            for lang, form, speakers, story_count in sorted(shared)
        ]
        wanted += [
            (service.subscription_briefing_key(s), service.listener_daily_event(s.id, date))
            for s in sorted(subs, key=lambda s: s.id)
            if s.listener_id is not None
        ]
        count = 0
        for key, event in wanted:
            written = await uow.session.scalar(
                select(ScriptRecord.id).where(
                    ScriptRecord.kind == BRIEFING,
                    ScriptRecord.briefing_key == key,
                    ScriptRecord.briefing_date == date,
                )
            )
            if written is None:
                uow.emit(event)
                count += 1
    return count
