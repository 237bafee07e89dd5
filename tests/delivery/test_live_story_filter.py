"""The stream's ``story`` parameter: a story's page follows that story whatever the listener's
preferences say (docs/live.md, "Who gets what")."""

from __future__ import annotations

import httpx
import pytest

from newstalk.accounts.models import Role
from newstalk.config import Settings
from newstalk.delivery.live import StreamFilter
from newstalk.delivery.live_fanout import LiveMessage
from newstalk.listeners.schemas import PreferencesOut
from newstalk.listeners.service import DEFAULTS
from newstalk.runtime import Services
from tests.conftest import make_settings
from tests.delivery.live_helpers import (
    SSE_ACCEPT,
    SSEReader,
    emit,
    make_source,
    make_story,
    run_stage,
    serve,
    story_updated,
)
from tests.support.accounts import make_account


def _message(story_id: int, *, category: str = "economy", type: str = "story.checked") -> LiveMessage:
    return LiveMessage(
        id=story_id * 10,
        type=type,
        category=category,
        languages=("en",),
        keywords=("rates",),
        source_ids=(7,),
        title="Rates rise",
        data={"id": story_id * 10, "type": type, "story": {"id": story_id, "title": "Rates rise"}},
    )


def _preferences(**values: object) -> PreferencesOut:
    return PreferencesOut.model_validate(DEFAULTS | {"updated_at": None} | values)


def test_a_named_story_passes_preferences_that_would_drop_it() -> None:
    excluding = [
        _preferences(categories=["sports"]),
        _preferences(languages=["ko"]),
        _preferences(muted_topics=["economy"]),
        _preferences(muted_outlets=[7]),
        _preferences(keywords=["football"], outlets=[99]),
    ]
    for prefs in excluding:
        assert not StreamFilter.build(preferences=prefs).matches(_message(5)), prefs
        assert StreamFilter.build(stories=[5], preferences=prefs).matches(_message(5)), prefs
        # Only the named stories: another story's events stay out, preferences or not.
        assert not StreamFilter.build(stories=[5], preferences=prefs).matches(_message(6)), prefs
    assert not StreamFilter.build(stories=[5]).matches(_message(6))
    assert StreamFilter.build(stories=[5, 6]).matches(_message(6))


def test_the_other_query_parameters_still_narrow_a_named_story() -> None:
    assert not StreamFilter.build(stories=[5], types=["audio.ready"]).matches(_message(5))
    assert not StreamFilter.build(stories=[5], categories=["tech"]).matches(_message(5))
    assert StreamFilter.build(stories=[5], types=["story.checked"], categories=["economy"]).matches(
        _message(5)
    )


def test_an_event_without_a_story_never_matches_a_story_filter() -> None:
    msg = LiveMessage(1, "story.updated", None, (), (), (), "", {"id": 1, "type": "story.updated"})
    assert msg.story_id is None
    assert not StreamFilter.build(stories=[1]).matches(msg)
    assert StreamFilter.build().matches(msg)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, live_poll_s=0, live_heartbeat_s=0.3)


@pytest.mark.anyio
async def test_a_listener_whose_preferences_exclude_a_story_follows_it_by_id(settings: Settings) -> None:
    listener = await make_account(settings, Role.listener, "story-filter@example.org")
    async with serve(settings) as (base, app), httpx.AsyncClient(timeout=10, headers=SSE_ACCEPT) as http:
        svc: Services = app.state.services
        outlet = await make_source(svc, "Daily")
        resp = await http.put(
            f"{base}/api/v1/me/preferences", json={"categories": ["sports"]}, headers=listener.headers
        )
        assert resp.status_code == 200, resp.text
        followed = await make_story(svc, "Rates rise", category="economy", source_ids=[outlet])
        other = await make_story(svc, "Match won", category="sports", source_ids=[outlet])
        last = await make_story(svc, "Cup final", category="sports", source_ids=[outlet])
        bad = await http.get(f"{base}/api/v1/stream?story=0", headers=listener.headers)
        assert bad.status_code == 422
        async with (
            http.stream("GET", f"{base}/api/v1/stream?story={followed}", headers=listener.headers) as mine,
            http.stream("GET", f"{base}/api/v1/stream", headers=listener.headers) as prefs,
        ):
            readers = SSEReader(mine), SSEReader(prefs)
            for r in readers:
                await r.ready()
            await emit(svc, story_updated(other), story_updated(followed), story_updated(last))
            await run_stage(svc, "live")
            by_id = await readers[0].next()
            by_prefs = [await readers[1].next(), await readers[1].next()]
    assert by_id.data["story"]["id"] == followed
    assert [e.data["story"]["id"] for e in by_prefs] == [other, last]
