"""Hostile and malformed input to /api/v1/search: plain terms always, clear 422s, never a 5xx."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from newstalk.articles.models import Article
from newstalk.runtime import Services
from newstalk.search import service
from newstalk.search.repository import Filters

pytestmark = pytest.mark.anyio

HOSTILE = [
    '"unterminated',
    '""',
    "title:samsung",
    "terms:samsung OR 1=1",
    "samsung AND OR NOT",
    "NEAR(samsung chips, 2)",
    "samsung*",
    "*",
    "(((samsung",
    ")",
    "^samsung",
    "samsung -chips +profit",
    "'; DROP TABLE search_docs; --",
    "1' OR '1'='1",
    "samsung & | ! <-> :* chips",
    "a\x00b samsung",
    "\x00",
    "😀🇰🇷 samsung 👩‍👩‍👧",
    "\\",
    "%",
    "_",
    "{}[]",
    "samsung " * 60,
    "x" * 500,
    " ",
]


async def test_hostile_queries_are_plain_terms(
    client: httpx.AsyncClient, services: Services, corpus: None
) -> None:
    for q in HOSTILE:
        resp = await client.get("/api/v1/search", params={"q": q, "mode": "text"})
        if not q.replace("\x00", ""):
            # Text is cleaned of NUL before validation (kit/text.py): nothing is left, a clear 422.
            assert resp.status_code == 422, (q, resp.text)
            assert "at least 1 character" in resp.json()["detail"]
            continue
        if not q.strip():
            # Whitespace-only passes validation and finds nothing.
            assert resp.status_code == 200
            assert resp.json()["items"] == []
            continue
        assert resp.status_code == 200, (q, resp.text)
        body = resp.json()
        assert all(t.replace("_", "").isalnum() for t in body["terms"]), (q, body["terms"])
        if "samsung" in q.casefold():
            assert "Samsung chips profit hits a record" in [h["title"] for h in body["items"]], q
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Article)) == 2  # nothing was dropped


async def test_raw_lone_surrogates_and_nul_reach_the_service_safely(services: Services, corpus: None) -> None:
    for q in ("\ud800삼성전자", "samsung\x00\udfff", "\x00"):
        page, _ = await service.search(
            services, service.SearchRequest(q=q, mode="text", filters=Filters(), limit=5, offset=0)
        )
        assert all(t.isalnum() for t in page.terms)
    page, _ = await service.search(
        services, service.SearchRequest(q="\ud800삼성전자", mode="text", filters=Filters(), limit=5, offset=0)
    )
    assert [h.title for h in page.items] == ["삼성전자가 반도체 최대 실적"]


async def test_percent_encoded_garbage(client: httpx.AsyncClient, corpus: None) -> None:
    for raw in ("q=%ED%A0%80samsung", "q=%00samsung", "q=samsung%C0%AF"):
        resp = await client.get(f"/api/v1/search?{raw}&mode=text")
        assert resp.status_code == 200, (raw, resp.text)
    # Bytes that are not UTF-8 at all clean to nothing: a clear 422, not a 500.
    resp = await client.get("/api/v1/search?q=%FF%FE&mode=text")
    assert resp.status_code == 422, resp.text
    assert "at least 1 character" in resp.json()["detail"]


async def test_bad_parameters_are_422_with_a_reason(client: httpx.AsyncClient, corpus: None) -> None:
    long = await client.get("/api/v1/search", params={"q": "a" * 501})
    assert long.status_code == 422
    assert long.headers["content-type"].startswith("application/problem+json")
    assert "q: String should have at most 500 characters" in long.json()["detail"]
    assert (await client.get("/api/v1/search", params={"q": "a" * 500, "mode": "text"})).status_code == 200
    bad = [
        {},
        {"q": ""},
        {"q": "x", "limit": 51},
        {"q": "x", "limit": 0},
        {"q": "x", "limit": "ten"},
        {"q": "x", "type": "podcasts"},
        {"q": "x", "mode": "fuzzy"},
        {"q": "x", "source_id": "abc"},
        {"q": "x", "source_id": -1},
        {"q": "x", "source_id": 2**63},
        {"q": "x", "since": "yesterday"},
        {"q": "x", "since": "2026-11-26T09:00:00"},
        {"q": "x", "until": "2026-13-45"},
        {"q": "x", "language": "e"},
        {"q": "x", "language": "en'--"},
        {"q": "x", "category": "weather"},
        {"q": "x", "cursor": "not-a-cursor"},
        {"q": "x", "cursor": "WyJ4Il0"},  # ["x"]
        {"q": "x", "cursor": "Wy01XQ"},  # [-5]
        {"q": "x", "cursor": "x" * 201},
    ]
    for params in bad:
        resp = await client.get("/api/v1/search", params=params)
        assert resp.status_code == 422, (params, resp.text)
        assert resp.json()["detail"], params


async def test_filters_are_bound_not_spliced(client: httpx.AsyncClient, corpus: None) -> None:
    since = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
    resp = await client.get(
        "/api/v1/search", params={"q": "samsung", "mode": "text", "language": "en", "since": since}
    )
    assert [h["title"] for h in resp.json()["items"]] == ["Samsung chips profit hits a record"]
    resp = await client.get("/api/v1/search", params={"q": "samsung", "mode": "text", "language": "ko"})
    assert resp.json()["items"] == []


async def test_search_has_its_own_rate_limit(client: httpx.AsyncClient) -> None:
    from newstalk.kit.ratelimit import DEFAULT_ROUTE_LIMITS

    limit = DEFAULT_ROUTE_LIMITS["GET /api/v1/search"]
    started = time.monotonic()
    allowed = 0
    while (resp := await client.get("/api/v1/search", params={"q": "x", "mode": "text"})).status_code == 200:
        allowed += 1
        assert resp.headers["RateLimit-Limit"] == str(limit)
        assert allowed <= 2 * limit
    # The bucket refills one request per second (GCRA) while the loop runs.
    assert limit <= allowed <= limit + time.monotonic() - started + 1
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert (await client.get("/api/v1/news")).status_code == 200  # other routes keep their own budget


async def test_reindex_command(database_url: str, tmp_path: Path, corpus: None) -> None:
    from tests.test_cli import run

    proc = await asyncio.to_thread(
        run, "search", "reindex", "--batch", "1", cwd=tmp_path, database_url=database_url
    )
    assert proc.returncode == 0, proc.stderr
    assert "search: articles 1/2" in proc.stderr
    assert "search: articles 2/2" in proc.stderr
    assert proc.stdout.strip() == "search: indexed 2 documents"
