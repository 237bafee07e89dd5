"""Sources over HTTP: autodiscovery, permanent redirects, OPML round trip, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from newstalk.runtime import Services
from newstalk.sources.models import Source
from newstalk.sources.tasks import enqueue_due
from tests.pipeline.test_ingest_flow import collect_worker, drain
from tests.support.feedserver import FeedServer, Route, items, rss

pytestmark = pytest.mark.anyio


async def test_add_by_page_url_discovers_the_feed(
    client: httpx.AsyncClient, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    feed_server.routes["/news/rss.xml"] = Route(
        rss("한겨레 테스트", items("page", 3, base_url=feed_server.url("")))
    )
    page = (
        b'<html><head><title>Site</title><link rel="alternate" type="application/rss+xml" '
        b'title="RSS" href="/news/rss.xml"></head><body>hello</body></html>'
    )
    feed_server.routes["/"] = Route(page, "text/html; charset=utf-8")
    resp = await client.post("/api/v1/sources", json={"url": feed_server.url("/")}, headers=admin)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["feed_url"] == feed_server.url("/news/rss.xml")
    assert body["title"] == "한겨레 테스트"

    nothing = b"<html><head><title>No feed here</title></head><body></body></html>"
    feed_server.routes["/plain"] = Route(nothing, "text/html")
    refused = await client.post("/api/v1/sources", json={"url": feed_server.url("/plain")}, headers=admin)
    assert refused.status_code == 422
    assert "neither a feed nor a page" in refused.json()["detail"]


async def test_permanent_redirect_updates_the_stored_url(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    feed_server.routes["/old.xml"] = Route(rss("Old", items("moved", 2, base_url=feed_server.url(""))))
    created = (
        await client.post("/api/v1/sources", json={"url": feed_server.url("/old.xml")}, headers=admin)
    ).json()
    feed_server.routes["/new.xml"] = feed_server.routes["/old.xml"]
    feed_server.routes["/old.xml"] = Route(b"", status=301, location=feed_server.url("/new.xml"))
    await drain(collect_worker(services))
    source = (await client.get(f"/api/v1/sources/{created['id']}")).json()
    assert source["feed_url"] == feed_server.url("/new.xml")
    assert source["article_count"] == 2

    # A temporary redirect does not move the source.
    feed_server.routes["/tmp.xml"] = Route(b"", status=302, location=feed_server.url("/new.xml"))
    other = (
        await client.post("/api/v1/sources", json={"url": feed_server.url("/tmp.xml")}, headers=admin)
    ).json()
    assert other["feed_url"] == feed_server.url("/tmp.xml")


async def test_opml_round_trip(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    opml = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>mine</title></head><body>
  <outline text="경제">
    <outline type="rss" text="경제 뉴스" xmlUrl="https://news.example.kr/economy.xml" htmlUrl="https://news.example.kr/"/>
  </outline>
  <outline type="rss" text="World" xmlUrl="https://world.example.com/feed?utm_source=x"/>
</body></opml>""".encode()
    headers = {**admin, "Content-Type": "text/x-opml"}
    first = (await client.post("/api/v1/sources/opml", content=opml, headers=headers)).json()
    assert first == {"added": 2, "skipped": 0, "errors": []}
    again = (await client.post("/api/v1/sources/opml", content=opml, headers=headers)).json()
    assert again == {"added": 0, "skipped": 2, "errors": []}
    listed = (await client.get("/api/v1/sources")).json()["items"]
    assert {s["feed_url"] for s in listed} == {
        "https://news.example.kr/economy.xml",
        "https://world.example.com/feed",
    }
    assert {s["category"] for s in listed} == {"경제", None}
    exported = await client.get("/api/v1/sources/opml")
    assert exported.headers["content-type"].startswith("text/x-opml")
    assert "경제 뉴스" in exported.text
    assert "https://world.example.com/feed" in exported.text
    garbage = await client.post("/api/v1/sources/opml", content=b"<not opml", headers=headers)
    assert garbage.status_code == 422


async def test_health_shows_the_poll_interval_and_why(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    base = feed_server.url("")
    # A wire that publishes every minute, a blog silent for four days, and one set by hand.
    feed_server.routes["/wire.xml"] = Route(
        rss("Wire", items("wire", 5, base_url=base, start=now - timedelta(minutes=6)))
    )
    feed_server.routes["/quiet.xml"] = Route(
        rss("Quiet", items("quiet", 3, base_url=base, start=now - timedelta(days=5)))
    )
    feed_server.routes["/mine.xml"] = Route(
        rss("Mine", items("mine", 3, base_url=base, start=now - timedelta(minutes=40)))
    )
    ids = {}
    for name in ("wire", "quiet"):
        resp = await client.post(
            "/api/v1/sources", json={"url": feed_server.url(f"/{name}.xml")}, headers=admin
        )
        assert resp.status_code == 201, resp.text
        ids[name] = resp.json()["id"]
    refused = await client.post(
        "/api/v1/sources", json={"url": feed_server.url("/mine.xml"), "poll_interval_s": 5}, headers=admin
    )
    assert refused.status_code == 422
    assert "politeness floor" in refused.json()["detail"]
    mine = await client.post(
        "/api/v1/sources", json={"url": feed_server.url("/mine.xml"), "poll_interval_s": 3600}, headers=admin
    )
    assert mine.status_code == 201, mine.text
    ids["mine"] = mine.json()["id"]
    assert (mine.json()["fetch_interval_s"], mine.json()["poll_reason"]) == (3600, "set by source")
    await drain(collect_worker(services))

    async def health(name: str) -> dict[str, Any]:
        resp = await client.get(f"/api/v1/sources/{ids[name]}/health")
        assert resp.status_code == 200
        body: dict[str, Any] = resp.json()
        return body

    wire = await health("wire")
    # The wire answers conditional GET (ETag → 304): its floor is the validated one.
    assert (wire["fetch_interval_s"], wire["poll_reason"]) == (
        services.settings.poll_min_validated_s,
        "busy feed",
    )
    quiet = await health("quiet")
    assert quiet["poll_reason"] == "dormant: last item 4 days ago"
    # (5 days − 20 min) / 24, give or take the seconds the test takes
    assert 17950 <= quiet["fetch_interval_s"] <= 17960
    assert quiet["last_item_at"] is not None
    assert (await health("mine"))["fetch_interval_s"] == 3600

    # Back to adaptive: a feed that publishes every ten minutes is polled on the freshness target.
    patched = await client.patch(
        f"/api/v1/sources/{ids['mine']}", json={"poll_interval_s": None}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    mine_health = await health("mine")
    assert (mine_health["fetch_interval_s"], mine_health["poll_reason"]) == (
        services.settings.freshness_s,
        "freshness target",
    )
    assert mine_health["poll_interval_s"] is None

    # A feed that starts failing backs off from its interval and says so.
    feed_server.routes["/wire.xml"] = Route(b"gone", "text/plain", status=500)
    async with services.db.unit() as uow:
        await uow.session.execute(
            update(Source).where(Source.id == ids["wire"]).values(next_fetch_at=now - timedelta(seconds=1))
        )
    await enqueue_due(services)
    await drain(collect_worker(services))
    failing = await health("wire")
    assert failing["poll_reason"] == "error backoff: 1 failure in a row"
    assert failing["consecutive_failures"] == 1
    assert failing["fetch_interval_s"] == services.settings.poll_min_validated_s  # what it backs off from

    # Back to health: the reason goes with the failures.
    feed_server.routes["/wire.xml"] = Route(
        rss("Wire", items("wire", 5, base_url=base, start=now - timedelta(minutes=6)))
    )
    async with services.db.unit() as uow:
        await uow.session.execute(
            update(Source).where(Source.id == ids["wire"]).values(next_fetch_at=now - timedelta(seconds=1))
        )
    await enqueue_due(services)
    await drain(collect_worker(services))
    healed = await health("wire")
    assert (healed["consecutive_failures"], healed["poll_reason"]) == (0, "busy feed")

    # The quiet feed shows an item not seen before (dated like its old ones): it is alive again.
    feed_server.routes["/quiet.xml"] = Route(
        rss("Quiet", items("quiet", 4, base_url=base, start=now - timedelta(days=5)))
    )
    async with services.db.unit() as uow:
        await uow.session.execute(
            update(Source).where(Source.id == ids["quiet"]).values(next_fetch_at=now - timedelta(seconds=1))
        )
    await enqueue_due(services)
    await drain(collect_worker(services))
    woken = await health("quiet")
    assert (woken["fetch_interval_s"], woken["poll_reason"]) == (
        services.settings.poll_min_validated_s,
        "busy feed",
    )


async def test_the_floor_follows_conditional_get_and_the_publishers_hints(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    """Four wires that publish every minute: only the one answering 304s gets the lower floor;
    a publisher's ``Cache-Control: max-age`` or ``<ttl>`` slows a busy feed, never past the target."""
    now = datetime.now(UTC)
    base = feed_server.url("")

    def wire(name: str, ttl: str | None = None) -> bytes:
        return rss(name, items(name, 5, base_url=base, start=now - timedelta(minutes=6)), ttl=ttl)

    feed_server.routes["/etag.xml"] = Route(wire("etag"))
    feed_server.routes["/plain.xml"] = Route(wire("plain"), validators=False)
    feed_server.routes["/cached.xml"] = Route(wire("cached"), cache_control="public, max-age=150")
    feed_server.routes["/ttl.xml"] = Route(wire("ttl", ttl="60"))  # an hour: capped at the target
    ids = {}
    for name in ("etag", "plain", "cached", "ttl"):
        resp = await client.post(
            "/api/v1/sources", json={"url": feed_server.url(f"/{name}.xml")}, headers=admin
        )
        assert resp.status_code == 201, resp.text
        ids[name] = resp.json()["id"]
    await drain(collect_worker(services))

    async def plan(name: str) -> tuple[int, str]:
        resp = await client.get(f"/api/v1/sources/{ids[name]}/health")
        assert resp.status_code == 200
        return resp.json()["fetch_interval_s"], resp.json()["poll_reason"]

    settings = services.settings
    assert settings.poll_min_validated_s < settings.poll_min_s
    assert await plan("etag") == (settings.poll_min_validated_s, "busy feed")
    assert await plan("plain") == (settings.poll_min_s, "busy feed")
    assert await plan("cached") == (150, "publisher's ttl / max-age")
    # An hour's <ttl> would break the promise: the freshness target holds it.
    assert await plan("ttl") == (settings.freshness_s, "freshness target")

    # A 304 keeps what the last full fetch learned.
    async with services.db.unit() as uow:
        await uow.session.execute(
            update(Source)
            .where(Source.id.in_(list(ids.values())))
            .values(next_fetch_at=now - timedelta(seconds=1))
        )
    await enqueue_due(services)
    await drain(collect_worker(services))
    assert feed_server.not_modified["/etag.xml"] == 1
    assert feed_server.not_modified["/plain.xml"] == 0
    assert await plan("etag") == (settings.poll_min_validated_s, "busy feed")
    assert await plan("cached") == (150, "publisher's ttl / max-age")
