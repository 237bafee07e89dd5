"""POST /api/v1/telemetry: client events become metrics; nothing personal passes; limited per address."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_settings
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    resp = await client.get("/metrics")
    assert resp.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_events_become_counters_and_a_start_time_histogram(client: httpx.AsyncClient) -> None:
    before = await scrape(client)
    body = {
        "platform": "android",
        "app_version": "1.0.0",
        "events": [
            {"type": "start", "duration_ms": 850},
            {"type": "start", "duration_ms": 2400},
            {"type": "crash"},
            {"type": "playback_error"},
            {"type": "hologram_opened"},  # a newer app's event: ignored, counted as rejected
        ],
    }
    resp = await client.post("/api/v1/telemetry", json=body)
    assert resp.status_code == 202
    assert resp.json() == {"accepted": 4, "ignored": 1}
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("newstalk_client_starts_total", platform="android") == 2
    assert grew("newstalk_client_crashes_total", platform="android") == 1
    assert grew("newstalk_client_playback_errors_total", platform="android") == 1
    assert grew("newstalk_client_events_rejected_total", reason="unknown_type") == 1
    assert grew("newstalk_client_start_duration_seconds_count", platform="android") == 2
    assert grew("newstalk_client_start_duration_seconds_sum", platform="android") == pytest.approx(3.25)
    assert grew("newstalk_client_start_duration_seconds_bucket", platform="android", le="1.0") == 1
    assert grew("newstalk_client_starts_total", platform="ios") == 0
    # The version is checked and dropped: no label carries it.
    assert not any("1.0.0" in dict(labels).values() for _, labels in after)


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "windows", "app_version": "1.0.0", "events": [{"type": "crash"}]},
        {"platform": "web", "app_version": "1.0.0", "events": []},
        {"platform": "web", "app_version": "1.0.0", "events": [{"type": "crash"}] * 51},
        {"platform": "web", "app_version": "me@example.org", "events": [{"type": "crash"}]},
        {"platform": "web", "app_version": "1.0.0", "events": [{"type": "crash", "user": "kim"}]},
        {"platform": "web", "app_version": "1.0.0", "device_id": "abc", "events": [{"type": "crash"}]},
        {"platform": "web", "app_version": "1.0.0", "events": [{"type": "start", "duration_ms": -5}]},
    ],
    ids=["platform", "no-events", "too-many", "version-shape", "extra-event-key", "extra-key", "negative"],
)
async def test_bad_batches_are_refused_whole_with_a_problem(client: httpx.AsyncClient, body: object) -> None:
    before = await scrape(client)
    resp = await client.post("/api/v1/telemetry", json=body)
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    after = await scrape(client)
    for platform in ("web", "ios", "android"):
        assert value(after, "newstalk_client_crashes_total", platform=platform) == value(
            before, "newstalk_client_crashes_total", platform=platform
        )


async def test_an_implausible_start_time_is_ignored(client: httpx.AsyncClient) -> None:
    body = {"platform": "web", "app_version": "2.1", "events": [{"type": "start", "duration_ms": 3_600_000}]}
    resp = await client.post("/api/v1/telemetry", json=body)
    assert resp.status_code == 202
    assert resp.json() == {"accepted": 0, "ignored": 1}


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    from newstalk.main import create_app

    settings = make_settings(database_url, rate_limit_routes={"POST /api/v1/telemetry": 2})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_limited_per_address_even_with_a_token(limited: httpx.AsyncClient, database_url: str) -> None:
    from newstalk.accounts.models import Role

    settings = make_settings(database_url)
    listener = await make_account(settings, Role.listener, "listener@example.org")
    body = {"platform": "ios", "app_version": "1.0.0", "events": [{"type": "crash"}]}
    assert (await limited.post("/api/v1/telemetry", json=body)).status_code == 202
    # A signed-in caller shares the address's bucket: a token does not buy a fresh one.
    assert (await limited.post("/api/v1/telemetry", json=body, headers=listener.headers)).status_code == 202
    refused = await limited.post("/api/v1/telemetry", json=body, headers=listener.headers)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1


async def test_metrics_carry_the_gauges_the_alerts_and_dashboards_read(client: httpx.AsyncClient) -> None:
    from newstalk import __version__
    from newstalk.pipeline.stages import STAGE_NAMES

    samples = await scrape(client)
    for stage in STAGE_NAMES:  # every stage has a series, so a stalled one is visible, not absent
        assert value(samples, "newstalk_queue_oldest_pending_age_seconds", stage=stage) == 0
        for status in ("ready", "running", "dead"):
            assert (
                "newstalk_queue_depth",
                frozenset({"stage": stage, "status": status}.items()),
            ) in samples
    assert value(samples, "newstalk_active_listeners", window="1h") == 0
    assert value(samples, "newstalk_active_listeners", window="1d") == 0
    assert value(samples, "newstalk_build_info", version=__version__) == 1
    assert value(samples, "process_resident_memory_bytes") > 0
