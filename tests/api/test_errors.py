"""The API's error contract: problem+json, named fields, auth, body caps."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"


async def test_unknown_article_is_a_problem(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/news/999999")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == PROBLEM
    body = resp.json()
    assert body["status"] == 404
    assert "999999" in body["detail"]


async def test_validation_errors_name_the_field(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    resp = await client.get("/api/v1/news", params={"limit": "many", "source_id": "-3"})
    assert resp.status_code == 422
    assert resp.headers["content-type"] == PROBLEM
    fields = {e["field"] for e in resp.json()["errors"]}
    assert fields == {"query.limit", "query.source_id"}
    created = await client.post("/api/v1/sources", json={"url": 12, "bogus": True}, headers=admin)
    assert created.status_code == 422
    assert {e["field"] for e in created.json()["errors"]} == {"url", "bogus"}
    naive = await client.get("/api/v1/news", params={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    assert "timezone" in naive.json()["detail"]


async def test_writes_need_the_admin_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        resp = await client.post("/api/v1/sources", json={"url": "https://example.org/feed"}, headers=headers)
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"] == "Bearer"
    assert (await client.delete("/api/v1/news/1")).status_code == 401


async def test_huge_bodies_are_refused(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    big = b'{"url": "https://example.org/' + b"a" * (2 * 1024 * 1024) + b'"}'
    resp = await client.post(
        "/api/v1/sources", content=big, headers={**admin, "Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    assert resp.headers["content-type"] == PROBLEM

    async def stream() -> object:
        for _ in range(40):
            yield b"x" * 65536

    chunked = await client.post(
        "/api/v1/sources", content=stream(), headers={**admin, "Content-Type": "application/json"}
    )
    assert chunked.status_code == 413


async def test_private_addresses_are_refused_by_default(settings: object, admin: dict[str, str]) -> None:
    from newstalk.config import Settings
    from newstalk.main import create_app

    assert isinstance(settings, Settings)
    app = create_app(settings.model_copy(update={"allow_private_networks": False}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for url in (
                "http://127.0.0.1:9/feed",
                "http://169.254.169.254/latest/meta-data/",
                "http://[::1]/x",
            ):
                resp = await http.post("/api/v1/sources", json={"url": url}, headers=admin)
                assert resp.status_code == 422, (url, resp.text)
                assert "NEWSTALK_ALLOW_PRIVATE_NETWORKS" in resp.json()["detail"]


async def test_out_of_range_ids_are_bad_input(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    huge = 10**30  # past SQLite's 64-bit integers: refused as input, never a 500
    for resp in (
        await client.get(f"/api/v1/news/{huge}"),
        await client.delete(f"/api/v1/sources/{huge}", headers=admin),
    ):
        assert resp.status_code == 422
        assert resp.headers["content-type"] == PROBLEM
        assert "out of range" in resp.json()["detail"]
