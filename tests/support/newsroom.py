"""A small newsroom for end-to-end tests: subscribe local feeds through the API, collect them, run stages."""

from __future__ import annotations

import httpx

from newstalk.pipeline.stages import all_stages
from newstalk.pipeline.worker import StageWorker
from newstalk.runtime import Services
from newstalk.stories.tasks import forget_engine
from tests.pipeline.test_ingest_flow import collect_worker, drain
from tests.support.feedserver import FeedServer, Item, Route, rss

# path on the feed server -> (outlet title, items, language)
Feeds = dict[str, tuple[str, list[Item], str]]


def stage_worker(services: Services, name: str) -> StageWorker:
    """A worker for one pipeline stage, as `newstalk worker --stage NAME` builds it."""
    return StageWorker(services, next(s for s in all_stages(services.settings) if s.name == name))


async def drain_stories(services: Services) -> int:
    """Run the embed stage, then the stories stage, until both queues are empty; returns stories jobs."""
    await drain(stage_worker(services, "embed"))
    return await drain(stage_worker(services, "stories"))


async def subscribe_and_collect(
    client: httpx.AsyncClient,
    services: Services,
    feed_server: FeedServer,
    admin: dict[str, str],
    feeds: Feeds,
) -> dict[str, int]:
    """Serve and subscribe each feed, collecting after each one so arrival order is fixed.

    Returns source ids by outlet title. The stories engine is forgotten afterwards, so the
    next stories run reads what was stored instead of a cached engine.
    """
    ids = {}
    for path, (title, entries, lang) in feeds.items():
        feed_server.routes[path] = Route(rss(title, entries, lang=lang))
        resp = await client.post("/api/v1/sources", json={"url": feed_server.url(path)}, headers=admin)
        assert resp.status_code == 201
        ids[title] = resp.json()["id"]
        await drain(collect_worker(services))
    forget_engine(services)
    return ids
