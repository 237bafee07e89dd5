"""End to end through the real collect stage: local feeds → stored articles → /api/v1/news."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.kit.bus.dbqueue import QueueJob
from newstalk.pipeline.stages import all_stages
from newstalk.pipeline.worker import StageWorker
from newstalk.runtime import Services
from newstalk.sources.models import Source
from tests.support.bus import drain as drain_workers
from tests.support.feedserver import FeedServer, Route, atom, items, rss

pytestmark = [pytest.mark.anyio, pytest.mark.buses]


def collect_worker(services: Services) -> StageWorker:
    stage = next(s for s in all_stages(services.settings) if s.name == "collect")
    return StageWorker(services, stage)


async def drain(worker: StageWorker) -> int:
    """Handle the stage's jobs until none is left (on Kafka: relayed, read to the end)."""
    return await drain_workers(worker)


async def count(services: Services, model: type[Article] | type[QueueJob]) -> int:
    async with services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_feeds_flow_into_news(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    ko = items("서울", 5, base_url=feed_server.url(""), lang="ko")
    en = items("springfield", 4, base_url=feed_server.url(""))
    feed_server.routes["/ko.xml"] = Route(rss("서울 뉴스", ko, lang="ko"))
    feed_server.routes["/en.atom"] = Route(atom("Springfield News", en), "application/atom+xml")

    for path in ("/ko.xml", "/en.atom"):
        resp = await client.post("/api/v1/sources", json={"url": feed_server.url(path)}, headers=admin)
        assert resp.status_code == 201, resp.text
    assert (
        await client.post("/api/v1/sources", json={"url": feed_server.url("/ko.xml")}, headers=admin)
    ).status_code == 409

    worker = collect_worker(services)
    assert await drain(worker) == 2
    news = (await client.get("/api/v1/news", params={"limit": 50})).json()
    assert len(news["items"]) == 9
    langs = {(i["title"].startswith("서울"), i["language"]) for i in news["items"]}
    assert langs == {(True, "ko"), (False, "en")}
    assert all("utm_source" not in i["url"] for i in news["items"])
    korean = (await client.get("/api/v1/news", params={"language": "ko"})).json()["items"]
    assert len(korean) == 5

    # A re-poll of an unchanged feed is a conditional GET hit and stores nothing new.
    await _make_due(services)
    from newstalk.sources.tasks import enqueue_due

    assert await enqueue_due(services) == 2
    assert await drain(worker) == 2
    assert feed_server.not_modified["/ko.xml"] == 1
    assert await count(services, Article) == 9

    # A deleted article leaves a tombstone: a changed feed that still lists it doesn't bring it back.
    victim = korean[0]
    assert (await client.delete(f"/api/v1/news/{victim['id']}", headers=admin)).status_code == 204
    ko_more = items("부산", 1, base_url=feed_server.url(""), lang="ko") + ko
    feed_server.routes["/ko.xml"] = Route(rss("서울 뉴스", ko_more, lang="ko"))
    await _make_due(services)
    await enqueue_due(services)
    await drain(worker)
    urls = {i["url"] for i in (await client.get("/api/v1/news", params={"limit": 50})).json()["items"]}
    assert victim["url"] not in urls
    assert len(urls) == 9  # 9 - 1 deleted + 1 new
    async with services.db.read() as session:
        pending = await session.scalar(select(func.count()).where(QueueJob.stage == "collect"))
    assert pending == 0


async def test_cursor_pages_are_stable_and_complete(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    feed_server.routes["/a.xml"] = Route(rss("A", items("alpha", 23, base_url=feed_server.url(""))))
    await client.post("/api/v1/sources", json={"url": feed_server.url("/a.xml")}, headers=admin)
    await drain(collect_worker(services))
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/news", params=params)).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 23 == len(set(seen))
    bad = await client.get("/api/v1/news", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_failing_source_backs_off_then_pauses(
    client: httpx.AsyncClient, settings: Settings, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    feed_server.routes["/gone.xml"] = Route(rss("Gone", items("gone", 2, base_url=feed_server.url(""))))
    created = (
        await client.post("/api/v1/sources", json={"url": feed_server.url("/gone.xml")}, headers=admin)
    ).json()
    del feed_server.routes["/gone.xml"]
    services = Services.build(settings.model_copy(update={"pause_after_failures": 3}))
    try:
        worker = collect_worker(services)
        await drain(worker)
        intervals = []
        for _ in range(2):
            async with services.db.read() as session:
                src = await session.get(Source, created["id"])
                assert src is not None
                intervals.append((src.next_fetch_at - src.last_fetched_at).total_seconds())  # type: ignore[operator]
            await _make_due(services)
            from newstalk.sources.tasks import enqueue_due

            await enqueue_due(services)
            await drain(worker)
    finally:
        await services.aclose()
    assert intervals[1] > intervals[0] * 1.5  # exponential backoff
    health = (await client.get(f"/api/v1/sources/{created['id']}/health")).json()
    assert health["status"] == "paused"
    assert health["consecutive_failures"] == 3
    assert "404" in health["paused_reason"]
    assert "3 consecutive failures" in health["paused_reason"]
    # Resuming clears the failures and schedules a poll at once.
    resumed = await client.patch(f"/api/v1/sources/{created['id']}", json={"status": "active"}, headers=admin)
    assert resumed.json()["status"] == "active"
    assert resumed.json()["consecutive_failures"] == 0


async def _make_due(services: Services) -> None:
    from sqlalchemy import update

    from newstalk.kit.db import utcnow

    async with services.db.unit() as uow:
        await uow.session.execute(update(Source).values(next_fetch_at=utcnow()))


async def test_not_modified_poll_keeps_health_and_schedule(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    """A 304 is stored in one UPDATE: the same counters, health and next time as a full poll."""
    from newstalk.sources.tasks import enqueue_due

    route = Route(rss("Quiet", items("quiet", 3, base_url=feed_server.url(""))))
    feed_server.routes["/quiet.xml"] = route
    created = (
        await client.post("/api/v1/sources", json={"url": feed_server.url("/quiet.xml")}, headers=admin)
    ).json()
    worker = collect_worker(services)
    await drain(worker)
    # One failed poll first, so the 304 has failures and an error to clear.
    del feed_server.routes["/quiet.xml"]
    await _make_due(services)
    await enqueue_due(services)
    await drain(worker)
    feed_server.routes["/quiet.xml"] = route
    async with services.db.read() as session:
        before = await session.get(Source, created["id"])
        assert before is not None
        assert before.consecutive_failures == 1
        assert before.last_error
    await _make_due(services)
    await enqueue_due(services)
    assert await drain(worker) == 1
    assert feed_server.not_modified["/quiet.xml"] == 1
    async with services.db.read() as session:
        src = await session.get(Source, created["id"])
        assert src is not None
    assert src.last_status == "not-modified"
    assert (src.fetch_count, src.not_modified_count) == (
        before.fetch_count + 1,
        before.not_modified_count + 1,
    )
    assert (src.consecutive_failures, src.last_error) == (0, None)
    assert src.last_fetched_at == src.last_success_at == src.updated_at
    assert (src.etag, src.last_modified, src.fetch_interval_s) == (
        before.etag,
        before.last_modified,
        before.fetch_interval_s,
    )
    wait = (src.next_fetch_at - src.last_fetched_at).total_seconds()  # type: ignore[operator]
    assert 0.9 * src.fetch_interval_s <= wait <= 1.1 * src.fetch_interval_s
    assert await count(services, Article) == 3
