"""Two API replicas on one database and one Redis: a request may land on either.

A feed cursor handed out by replica A pages on through replica B (B never saw the listener:
it ranks again at the cursor's instant with the profile as it was, both read from the
database), feedback written through A is in the profile B ranks with, and an SSE stream resumed on B with A's last event id continues right after it:
first the events B reads back from the shared log, then live ones through Redis.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import httpx
import pytest

from newstalk.accounts.models import Role
from newstalk.config import Settings
from newstalk.feed import service as feed_service
from newstalk.kit.api import decode_cursor
from newstalk.runtime import Services
from tests.accounts.test_principal_invalidation import REDIS_URL, _redis_available
from tests.conftest import make_settings
from tests.delivery.live_helpers import (
    SSE_ACCEPT,
    SSEReader,
    emit,
    make_story,
    run_stage,
    serve,
    story_updated,
)
from tests.feed.stories import NEWS_DAY, seed
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio


@pytest.fixture
def shared(database_url: str) -> Settings:
    if not _redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"no Redis at {REDIS_URL}: CI needs it (.ci/run starts it)")
        pytest.skip(f"needs Redis at {REDIS_URL}")
    return make_settings(
        database_url, redis_url=REDIS_URL, redis_prefix=f"nt-replicas-{uuid.uuid4().hex[:8]}:"
    )


async def _feed(http: httpx.AsyncClient, base: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    resp = await http.get(f"{base}/api/v1/feed", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_a_feed_cursor_from_one_replica_pages_on_through_the_other(shared: Settings) -> None:
    await seed(shared, NEWS_DAY)
    me = await make_account(shared, Role.listener)
    async with serve(shared) as (a, _), serve(shared) as (b, _), httpx.AsyncClient(timeout=30) as http:
        first = await _feed(http, a, me.headers, limit=4)
        assert first["next_cursor"]
        on_a = await _feed(http, a, me.headers, limit=4, cursor=first["next_cursor"])
        on_b = await _feed(http, b, me.headers, limit=4, cursor=first["next_cursor"])
        assert [i["story_id"] for i in on_b["items"]] == [i["story_id"] for i in on_a["items"]]
        assert on_b["next_cursor"] == on_a["next_cursor"]
        # And back: B's cursor works on A; no story is served twice across the pages.
        third = await _feed(http, a, me.headers, limit=4, cursor=on_b["next_cursor"])
        seen = [i["story_id"] for page in (first, on_b, third) for i in page["items"]]
        assert len(seen) == len(set(seen))
        assert len(seen) == min(12, len(NEWS_DAY))

        # Feedback written through A is in the profile B ranks with (B re-reads a listener it
        # has seen at most REFRESH_S later): the cursor's third part is the newest feedback id.
        liked = {"story_id": first["items"][0]["story_id"], "event": "liked"}
        resp = await http.post(f"{a}/api/v1/me/feedback", json=liked, headers=me.headers)
        assert resp.status_code == 201, resp.text
        await asyncio.sleep(feed_service.REFRESH_S)
        fresh = await _feed(http, b, me.headers, limit=4)
        assert decode_cursor(fresh["next_cursor"], 3)[2] > decode_cursor(first["next_cursor"], 3)[2]


async def test_sse_resumed_on_the_other_replica_continues_after_the_last_id(shared: Settings) -> None:
    async with (
        serve(shared) as (a, app_a),
        serve(shared) as (b, _),
        httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http,
    ):
        svc: Services = app_a.state.services
        async with http.stream("GET", f"{a}/api/v1/stream") as resp:
            reader = SSEReader(resp)
            await reader.ready()
            stories = [await make_story(svc, f"Story {i}") for i in range(2)]
            await emit(svc, *(story_updated(s) for s in stories))
            await run_stage(svc, "live")
            got_a = [await reader.next() for _ in stories]
        assert [e.data["story"]["id"] for e in got_a] == stories
        last_a = int(got_a[-1].id or 0)

        # Missed while the client moved: one event committed between the two connections.
        missed = await make_story(svc, "Missed while reconnecting")
        await emit(svc, story_updated(missed))
        await run_stage(svc, "live")

        async with http.stream("GET", f"{b}/api/v1/stream", headers={"Last-Event-ID": str(last_a)}) as resp:
            reader = SSEReader(resp)
            replayed = await reader.next()
            assert replayed.data["story"]["id"] == missed
            assert int(replayed.id or 0) > last_a
            # A live event, published once by the live stage, reaches B through Redis, in order.
            later = await make_story(svc, "Later")
            await emit(svc, story_updated(later))
            await run_stage(svc, "live")
            live_event = await reader.next()
            assert live_event.data["story"]["id"] == later
            assert int(live_event.id or 0) > int(replayed.id or 0)
