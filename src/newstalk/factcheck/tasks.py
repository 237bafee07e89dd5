"""The ``factcheck`` pipeline stage: story.updated → claims, evidence, verdicts → story.checked."""

from __future__ import annotations

from newstalk.factcheck import service
from newstalk.kit import metrics
from newstalk.pipeline.topics import STORY_UPDATED as UPDATED_TOPIC
from newstalk.pipeline.worker import BatchContext, JobContext

__all__ = ["UPDATED_TOPIC", "handle_factcheck", "handle_factcheck_batch"]


async def handle_factcheck_batch(ctx: BatchContext) -> None:
    """Check each story once per batch, at its newest version (updates arrive in bursts)."""
    newest: dict[int, int] = {}
    for job in ctx.jobs:
        story_id, version = int(job.payload["story_id"]), int(job.payload.get("version", 0))
        newest[story_id] = max(version, newest.get(story_id, 0))
    results, unchanged = [], []
    engine = await service.engine_for(ctx.services)
    async with engine.lock:
        for story_id, version in sorted(newest.items()):
            checked, changed = await service.check_story(ctx.services, story_id, version)
            if changed:
                results.append((story_id, version, checked))
            else:
                unchanged.append((story_id, version))
        async with ctx.commit() as uow:
            for story_id, version, checked in results:
                await service.store_story_check(uow, ctx.services, story_id, version, checked)
            for story_id, version in unchanged:
                await service.carry_forward(uow, story_id, version)
    for _, _, checked in results:
        for c in checked:
            _observe(c.verdict.verdict, c.verdict.confidence)


async def handle_factcheck(ctx: JobContext) -> None:
    """One job (the fallback when a batch failed)."""
    story_id, version = int(ctx.job.payload["story_id"]), int(ctx.job.payload.get("version", 0))
    engine = await service.engine_for(ctx.services)
    async with engine.lock:
        checked, changed = await service.check_story(ctx.services, story_id, version)
        async with ctx.commit() as uow:
            if changed:
                await service.store_story_check(uow, ctx.services, story_id, version, checked)
            else:
                await service.carry_forward(uow, story_id, version)
    for c in checked:
        _observe(c.verdict.verdict, c.verdict.confidence)


def _observe(verdict: str, confidence: float) -> None:
    metrics.FACTCHECK_VERDICTS.labels(verdict).inc()
    metrics.FACTCHECK_CONFIDENCE.labels(verdict).observe(confidence)
