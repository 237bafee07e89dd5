"""The search stage: keeps the index in step with new articles and changed stories.

A stage of its own rather than writes inside the collect and stories units: indexing
costs Kiwi time (a few ms per Korean article) that the stories stage's per-article
budget cannot absorb, the index can lag a moment behind without harm, and a failure
here retries on its own instead of rolling back ingestion. ``article.ingested`` makes
an article findable by its words at once, ``article.embedded`` by its meaning (the embed
stage stored its vector); ``story.updated``/``story.edited`` index the
story and refresh its members (category, embedding now present). Handlers are
idempotent: text whose hash is unchanged is not tokenized or written again.
"""

from __future__ import annotations

from newstalk.pipeline.worker import BatchContext, JobContext
from newstalk.search import service


def _ids(jobs: list[dict[str, object]]) -> tuple[list[int], list[int]]:
    articles: set[int] = set()
    stories: set[int] = set()
    for payload in jobs:
        if "article_id" in payload:
            articles.add(int(str(payload["article_id"])))
        if "story_id" in payload:
            stories.add(int(str(payload["story_id"])))
        raw = payload.get("stories")
        if isinstance(raw, list):
            stories.update(int(s) for s in raw)
    return sorted(articles), sorted(stories)


async def handle_search_batch(ctx: BatchContext) -> None:
    """Index a claimed batch in one unit."""
    article_ids, story_ids = _ids([j.payload for j in ctx.jobs])
    prepared = await service.prepare(ctx.services.db, article_ids=article_ids, story_ids=story_ids)
    async with ctx.commit() as uow:
        await service.apply(uow, prepared)


async def handle_search(ctx: JobContext) -> None:
    """Index one job (the fallback when a batch failed)."""
    article_ids, story_ids = _ids([ctx.job.payload])
    prepared = await service.prepare(ctx.services.db, article_ids=article_ids, story_ids=story_ids)
    async with ctx.commit() as uow:
        await service.apply(uow, prepared)
