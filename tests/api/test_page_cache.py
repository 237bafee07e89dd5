"""Cached list pages: same answers, ETag/304, Cache-Control, rate limits and metrics on hits, invalidation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from newstalk.accounts.models import Role
from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.kit import metrics
from newstalk.kit.api import PageCache, not_modified, page_key
from newstalk.kit.db import Database, utcnow
from newstalk.sources.models import Source
from newstalk.stories.models import Story
from tests.conftest import make_settings
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from newstalk.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def add_articles(settings: Settings, titles: list[str], *, language: str = "en") -> list[int]:
    """Articles written straight to the database, as another process's pipeline would."""
    db = Database.open(settings.async_database_url)
    now = utcnow()
    try:
        async with db.unit() as uow:
            source = Source(
                feed_url=f"https://outlet.example/{now.timestamp()}.xml",
                title="Outlet",
                fetch_interval_s=900,
                next_fetch_at=now,
                created_at=now,
                updated_at=now,
            )
            uow.session.add(source)
            await uow.session.flush()
            rows = [
                Article(
                    source_id=source.id,
                    url=f"https://outlet.example/{now.timestamp()}/{i}",
                    content_hash=f"{now.timestamp()}-{i}".ljust(64, "0"),
                    title=title,
                    summary=f"{title}.",
                    content_text=title,
                    language=language,
                    published_at=now - timedelta(minutes=len(titles) - i),
                    first_seen_at=now,
                    stored_at=now,
                )
                for i, title in enumerate(titles)
            ]
            uow.session.add_all(rows)
            await uow.session.flush()
            return [r.id for r in rows]
    finally:
        await db.dispose()


async def add_stories(settings: Settings, count: int) -> list[int]:
    db = Database.open(settings.async_database_url)
    now = utcnow()
    try:
        async with db.unit() as uow:
            stories = [
                Story(
                    status="open",
                    title=f"story {i}",
                    summary=["one sentence"],
                    keywords=["quake"],
                    languages=["en"],
                    category="world",
                    article_count=2,
                    outlet_count=2,
                    trending_score=1.0 + i,
                    trending_reason="more outlets than usual",
                    trending_detail={"velocity_per_hour": 2.0, "baseline_per_hour": 0.5},
                    first_seen_at=now - timedelta(minutes=count - i),
                    last_seen_at=now - timedelta(minutes=count - i),
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                for i in range(count)
            ]
            uow.session.add_all(stories)
            await uow.session.flush()
            return [s.id for s in stories]
    finally:
        await db.dispose()


def requests_counted(route: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "newstalk_http_requests_total", {"route": route, "method": "GET", "status": "200"}
    )
    return value or 0.0


async def test_news_pages_are_cached_until_this_process_writes(database_url: str) -> None:
    settings = make_settings(database_url, api_cache_ttl_s=300)
    admin = await make_account(settings, Role.admin, "editor-in-chief@example.org")
    ids = await add_articles(settings, ["Rates rise", "Quake hits coast", "Cup final tonight"])
    async with api(settings) as client:
        first = await client.get("/api/v1/news", params={"limit": 2})
        assert first.status_code == 200
        assert first.headers["cache-control"] == "public, max-age=300"
        etag = first.headers["etag"]
        assert [i["title"] for i in first.json()["items"]] == ["Cup final tonight", "Quake hits coast"]
        assert first.json()["next_cursor"]
        # Another process stores an article: this process answers from its cache (TTL-bounded).
        await add_articles(settings, ["Storm warning"])
        counted = requests_counted("/api/v1/news")
        hit = await client.get("/api/v1/news", params={"limit": "2"})
        assert hit.content == first.content
        assert hit.headers["etag"] == etag
        assert hit.headers["ratelimit-limit"] == str(settings.rate_limit_per_minute)
        assert requests_counted("/api/v1/news") == counted + 1  # labelled by route, as before
        # Parameter order does not matter; an authenticated caller gets the same cached page.
        same = await client.get("/api/v1/news?limit=2&language=en")
        reordered = await client.get("/api/v1/news?language=en&limit=2", headers=admin.headers)
        assert reordered.content == same.content
        # Conditional GETs: 304 without a body, anonymous and authenticated alike.
        for headers in ({}, admin.headers):
            cond = await client.get(
                "/api/v1/news", params={"limit": 2}, headers={"If-None-Match": etag, **headers}
            )
            assert cond.status_code == 304
            assert cond.content == b""
            assert cond.headers["etag"] == etag
        weak = await client.get(
            "/api/v1/news", params={"limit": 2}, headers={"If-None-Match": f'"x", W/{etag}'}
        )
        assert weak.status_code == 304
        # A delete through this API clears the news pages at once.
        assert (await client.delete(f"/api/v1/news/{ids[2]}", headers=admin.headers)).status_code == 204
        fresh = await client.get("/api/v1/news", params={"limit": 2})
        assert [i["title"] for i in fresh.json()["items"]] == ["Storm warning", "Quake hits coast"]
        assert fresh.headers["etag"] != etag
        stale = await client.get("/api/v1/news", params={"limit": 2}, headers={"If-None-Match": etag})
        assert stale.status_code == 200


async def test_bad_input_is_never_answered_from_the_cache(database_url: str) -> None:
    settings = make_settings(database_url, api_cache_ttl_s=300)
    await add_articles(settings, ["Rates rise"])
    async with api(settings) as client:
        assert (await client.get("/api/v1/news")).status_code == 200
        for params in ({"limit": 0}, {"cursor": "not-a-cursor"}, {"since": "2026-11-26T09:00:00"}):
            for _ in range(2):
                bad = await client.get("/api/v1/news", params=params)
                assert bad.status_code == 422, params
                assert bad.headers["content-type"] == "application/problem+json"


async def test_cache_hits_count_against_the_rate_limit(database_url: str) -> None:
    settings = make_settings(database_url, api_cache_ttl_s=300, rate_limit_per_minute=3)
    await add_articles(settings, ["Rates rise"])
    async with api(settings) as client:
        answers = [await client.get("/api/v1/news") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    refused = answers[3]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["detail"].startswith("ratelimit: more than 3 requests a minute")


async def test_with_the_cache_off_every_request_reads_the_database(database_url: str) -> None:
    settings = make_settings(database_url, api_cache_ttl_s=0)
    await add_articles(settings, ["Rates rise"])
    async with api(settings) as client:
        first = await client.get("/api/v1/news")
        assert first.headers["cache-control"] == "no-cache"
        await add_articles(settings, ["Storm warning"])
        second = await client.get("/api/v1/news")
        assert [i["title"] for i in second.json()["items"]] == ["Storm warning", "Rates rise"]
        # Revalidation still works without the cache.
        cond = await client.get("/api/v1/news", headers={"If-None-Match": second.headers["etag"]})
        assert cond.status_code == 304


async def test_story_pages_are_cached_and_cleared_by_an_editors_merge(database_url: str) -> None:
    settings = make_settings(database_url, api_cache_ttl_s=300)
    editor = await make_account(settings, Role.editor, "desk@example.org")
    ids = await add_stories(settings, 3)
    async with api(settings) as client:
        listing = await client.get("/api/v1/stories")
        trending = await client.get("/api/v1/trending")
        assert [s["id"] for s in listing.json()["items"]] == ids[::-1]
        assert [s["id"] for s in trending.json()] == ids[::-1]
        assert trending.json()[0]["trending"] == {
            "score": 3.0,
            "reason": "more outlets than usual",
            "reasons": None,  # scored without the reason's parts (as by an older version)
            "velocity_per_hour": 2.0,
            "baseline_per_hour": 0.5,
        }
        assert "etag" in listing.headers
        assert "etag" in trending.headers
        paged = await client.get("/api/v1/stories", params={"sort": "trending", "limit": 2})
        rest = await client.get(
            "/api/v1/stories", params={"sort": "trending", "limit": 2, "cursor": paged.json()["next_cursor"]}
        )
        assert [s["id"] for s in paged.json()["items"] + rest.json()["items"]] == ids[::-1]

        merged = await client.post(
            f"/api/v1/stories/{ids[0]}/merge", json={"story_id": ids[2]}, headers=editor.headers
        )
        assert merged.status_code == 200, merged.text
        assert [s["id"] for s in (await client.get("/api/v1/stories")).json()["items"]] == [ids[1], ids[0]]
        assert [s["id"] for s in (await client.get("/api/v1/trending")).json()] == [ids[1], ids[0]]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_page_cache_expires_bounds_its_size_and_renders_once() -> None:
    clock = Clock()
    cache = PageCache(2.0, max_bytes=8 * 100, clock=clock)
    page = cache.put("/a", "/a", b"x" * 50, None)
    assert cache.get("/a") is page
    assert cache.serves("/a")
    clock.now += 2.0
    assert cache.get("/a") is None
    # Bounded by bytes: the oldest pages go first; a page over an eighth of the bound is not kept.
    for i in range(20):
        cache.put(f"/b?i={i}", "/b", b"y" * 90, None)
    assert cache.get("/b?i=0") is None
    assert cache.get("/b?i=19") is not None
    cache.put("/c", "/c", b"z" * 101, None)
    assert cache.get("/c") is None
    cache.invalidate("/b")
    assert cache.get("/b?i=19") is None

    calls = 0

    async def render() -> bytes:
        nonlocal calls
        calls += 1
        return b"{}"

    pages = await asyncio.gather(*(cache.render("/d", "/d", None, render) for _ in range(5)))
    assert calls == 1
    assert len({id(p) for p in pages}) == 1


async def test_a_failed_render_lets_waiters_render_for_themselves() -> None:
    cache = PageCache(5.0)
    gate = asyncio.Event()

    async def fail() -> bytes:
        await gate.wait()
        raise ValueError("boom")

    async def ok() -> bytes:
        return b"{}"

    leader = asyncio.ensure_future(cache.render("/e", "/e", None, fail))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(cache.render("/e", "/e", None, ok))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(ValueError, match="boom"):
        await leader
    assert (await follower).body == b"{}"


def scope(query: bytes, path: str = "/api/v1/news") -> dict[str, Any]:
    return {"path": path, "query_string": query}


def test_page_keys_ignore_parameter_order_but_keep_repeats_in_order() -> None:
    assert page_key(scope(b"")) == "/api/v1/news"
    assert page_key(scope(b"limit=2&language=en")) == page_key(scope(b"language=en&limit=2"))
    assert page_key(scope(b"limit=2&limit=5")) != page_key(scope(b"limit=5&limit=2"))
    assert page_key(scope(b"limit=2")) != page_key(scope(b"limit=2", "/api/v1/stories"))


def test_if_none_match_parsing() -> None:
    etag = b'"abc"'
    assert not_modified(b'"abc"', etag)
    assert not_modified('W/"abc"', etag)
    assert not_modified(b'"x", "abc"', etag)
    assert not_modified(b"*", etag)
    assert not not_modified(b'"abcd"', etag)
    assert not not_modified(None, etag)


async def test_signed_in_callers_get_public_pages_from_the_cache_after_one_check(database_url: str) -> None:
    settings = make_settings(database_url, api_cache_ttl_s=300, rate_limit_per_minute=3)
    me = await make_account(settings, Role.listener)
    await add_articles(settings, ["Rates rise"])
    async with api(settings) as client:
        first = await client.get("/api/v1/news", headers=me.headers)  # renders; resolves the token
        assert first.status_code == 200
        await add_articles(settings, ["Storm warning"])
        # Answered by the page cache before routing, counted against the listener, not the address.
        hit = await client.get("/api/v1/news", headers=me.headers)
        assert hit.content == first.content
        assert hit.headers["ratelimit-remaining"] == "1"
        anonymous = await client.get("/api/v1/news")
        assert anonymous.content == first.content
        assert anonymous.headers["ratelimit-remaining"] == "2"  # the address bucket is separate
        assert (await client.get("/api/v1/news", headers=me.headers)).headers["ratelimit-remaining"] == "0"
        assert (await client.get("/api/v1/news", headers=me.headers)).status_code == 429


async def test_a_revoked_or_unknown_credential_is_never_answered_from_the_cache(database_url: str) -> None:
    settings = make_settings(database_url, api_cache_ttl_s=300)
    me = await make_account(settings, Role.listener)
    await add_articles(settings, ["Rates rise"])
    async with api(settings) as client:
        assert (await client.get("/api/v1/news", headers=me.headers)).status_code == 200
        assert (await client.get("/api/v1/me/preferences", headers=me.headers)).status_code == 200
        assert (await client.post("/api/v1/auth/logout", headers=me.headers)).status_code == 204
        # The listener's own page is cached, but the ended login gets 401, not the page.
        ended = await client.get("/api/v1/me/preferences", headers=me.headers)
        assert ended.status_code == 401
        forged = await client.get("/api/v1/me/preferences", headers={"Authorization": "Bearer nope"})
        assert forged.status_code == 401
        assert (await client.get("/api/v1/me/preferences")).status_code == 401
        # A public page with a bad credential is answered by the endpoint, exactly as without the cache.
        uncached = make_settings(database_url, api_cache_ttl_s=0)
        async with api(uncached) as fresh:
            expected = (await fresh.get("/api/v1/news", headers=me.headers)).status_code
        assert (await client.get("/api/v1/news", headers=me.headers)).status_code == expected


async def test_a_listeners_own_page_is_cached_for_them_alone_and_dropped_when_they_write(
    database_url: str,
) -> None:
    settings = make_settings(database_url, api_cache_ttl_s=300)
    me = await make_account(settings, Role.listener)
    other = await make_account(settings, Role.listener)
    async with api(settings) as client:
        put = await client.put("/api/v1/me/preferences", json={"keywords": ["volcano"]}, headers=me.headers)
        assert put.status_code == 200
        mine = await client.get("/api/v1/me/preferences", headers=me.headers)
        assert mine.json()["keywords"] == ["volcano"]
        assert mine.headers["cache-control"] == "private, no-cache"
        theirs = await client.get("/api/v1/me/preferences", headers=other.headers)
        assert theirs.json()["keywords"] == []
        # Served from the cache to each owner (same ETag), never across listeners.
        again = await client.get("/api/v1/me/preferences", headers=me.headers)
        assert again.content == mine.content
        assert again.headers["etag"] == mine.headers["etag"]
        assert (await client.get("/api/v1/me/preferences", headers=other.headers)).content == theirs.content
        cond = await client.get(
            "/api/v1/me/preferences", headers={"If-None-Match": mine.headers["etag"], **other.headers}
        )
        assert cond.status_code == 200
        assert cond.json()["keywords"] == []
        # A write by the owner drops their page at once; the other listener's stays.
        patch = await client.patch("/api/v1/me/preferences", json={"keywords": ["tide"]}, headers=me.headers)
        assert patch.status_code == 200
        assert (await client.get("/api/v1/me/preferences", headers=me.headers)).json()["keywords"] == ["tide"]
        assert (await client.get("/api/v1/me/preferences", headers=other.headers)).json()["keywords"] == []
