"""Listener pages in process: settings forms, podcast subscription with its QR code, evidence marks,
daily briefings for the player."""

from __future__ import annotations

import uuid

import httpx
import pytest

from newstalk.briefings import service as briefings
from newstalk.briefings.models import BRIEFING, ScriptRecord
from newstalk.kit.db import utcnow
from newstalk.runtime import Services
from newstalk.speech import service as speech
from newstalk.speech.models import PENDING, READY, Audio
from newstalk.web.pages import conflict_terms, highlight
from tests.delivery.live_helpers import make_source, make_story
from tests.web.test_session import PASSWORD, csrf_of, register

pytestmark = pytest.mark.anyio


def test_the_evidence_side_of_a_conflict_is_marked_as_the_quote_writes_it() -> None:
    quote = "Drivers accepted a 5.5 percent pay rise <over> two years."
    terms = conflict_terms(
        "Drivers accepted a 4.5 percent rise.", quote, ["number: 4.5 percent vs 5.5 percent"]
    )
    assert str(highlight(quote, terms)) == (
        "Drivers accepted a <mark>5.5 percent</mark> pay rise &lt;over&gt; two years."
    )
    # Normalized values the quote writes otherwise: the words with digits the claim lacks.
    claim = "누리전자는 영업이익이 12% 늘어난 4천200억 원이라고 발표했다."
    korean = "누리전자의 영업이익이 12% 늘어난 4천100억 원을 기록했다."
    marked = str(
        highlight(korean, conflict_terms(claim, korean, ["number: 420000000000 krw vs 410000000000 krw"]))
    )
    assert marked == "누리전자의 영업이익이 12% 늘어난 <mark>4천100억</mark> 원을 기록했다."


async def test_settings_save_preferences_and_delete_the_account(client: httpx.AsyncClient) -> None:
    await register(client)
    page = await client.get("/settings")
    assert page.status_code == 200
    token = csrf_of(page.text)
    saved = await client.post(
        "/settings/preferences",
        data={
            "csrf": token,
            "languages": ["ko", "en"],
            "categories": ["economy"],
            "keywords": "반도체, chips",
            "muted_topics": "sports",
            "voice": "reporter",
            "playback_speed": "1.25",
        },
    )
    assert saved.status_code == 303
    prefs = (await client.get("/api/v1/me/preferences")).json()
    assert prefs["languages"] == ["ko", "en"]
    assert prefs["keywords"] == ["반도체", "chips"]
    assert prefs["muted_topics"] == ["sports"]
    assert (prefs["voice"], prefs["playback_speed"]) == ("reporter", 1.25)
    key = await client.post("/settings/api-keys", data={"csrf": token, "name": "laptop"})
    assert 'id="new-key"' in key.text
    assert "ntk_" in key.text
    wrong = await client.post(
        "/settings/delete-account", data={"csrf": token, "confirm_email": "x@example.org"}
    )
    assert wrong.status_code == 400
    assert (await client.get("/api/v1/me")).status_code == 200
    gone = await client.post(
        "/settings/delete-account", data={"csrf": token, "confirm_email": "minji@example.org"}
    )
    assert gone.status_code == 303
    assert (await client.get("/api/v1/me")).status_code == 401


async def ui_lang(client: httpx.AsyncClient) -> str:
    html = (await client.get("/", headers={"Accept-Language": "en"})).text
    return html.split('<html lang="', 1)[1].split('"', 1)[0]


async def save_languages(client: httpx.AsyncClient, languages: list[str]) -> None:
    token = csrf_of((await client.get("/settings")).text)
    saved = await client.post(
        "/settings/preferences", data={"csrf": token, "languages": languages, "playback_speed": "1.0"}
    )
    assert saved.status_code == 303


async def test_the_ui_language_follows_the_listeners_preferred_languages(client: httpx.AsyncClient) -> None:
    await register(client)
    assert await ui_lang(client) == "en"  # no preference yet: the browser's
    await save_languages(client, ["ko"])
    assert await ui_lang(client) == "ko"  # adopted from the saved preference, not only at first login
    await client.get("/lang/en")
    assert await ui_lang(client) == "en"  # the switch wins over the preference...
    await save_languages(client, ["ko"])
    assert await ui_lang(client) == "en"  # ...when the languages did not change,
    await save_languages(client, ["ko", "en"])
    assert await ui_lang(client) == "ko"  # and changing them in settings overrides it again
    await client.post("/logout", data={"csrf": csrf_of((await client.get("/")).text)})
    assert await ui_lang(client) == "en"  # the account's language left with it
    token = csrf_of((await client.get("/login")).text)
    await client.post("/login", data={"csrf": token, "email": "minji@example.org", "password": PASSWORD})
    assert await ui_lang(client) == "ko"  # adopted again at sign-in
    await client.post("/logout", data={"csrf": csrf_of((await client.get("/")).text)})
    await register(client, "jisoo@example.org")
    assert await ui_lang(client) == "en"  # a new account without a preference: not the last one's


async def test_subscribing_shows_the_private_feed_link_and_its_qr_code(client: httpx.AsyncClient) -> None:
    await register(client)
    token = csrf_of((await client.get("/listen")).text)
    page = await client.post(
        "/listen/podcasts", data={"csrf": token, "title": "아침 브리핑", "lang": "ko", "character": "anchor"}
    )
    assert page.status_code == 200
    assert '<svg width="' in page.text
    assert 'class="qr-code"' in page.text
    feed_url = page.text.split('id="feed-url" type="text" readonly value="', 1)[1].split('"', 1)[0]
    feed = await client.get(httpx.URL(feed_url).path)
    assert feed.status_code == 200
    assert "아침 브리핑" in feed.text


async def test_listener_pages_send_anonymous_visitors_to_log_in(client: httpx.AsyncClient) -> None:
    for path in ("/listen", "/ask", "/settings"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"
    assert (await client.get("/search?q=rail")).status_code == 200


async def seed_briefing(services: Services, podcast_id: int, day: str, *, ready: bool) -> str:
    """A daily briefing written for a personal feed, with its audio row (ready or pending)."""
    record = ScriptRecord(
        content_hash=uuid.uuid4().hex,
        kind=BRIEFING,
        lang="ko",
        form="solo",
        speakers=["anchor"],
        title=f"{day} 아침 브리핑",
        lines=[{"speaker": "anchor", "text": f"{day} 브리핑입니다.", "chapter": "Intro"}],
        story_ids=[],
        briefing_key=f"podcast:{podcast_id}",
        briefing_date=day,
        word_count=2,
        estimated_s=2.0,
        created_at=utcnow(),
    )
    async with services.db.unit() as uow:
        uow.session.add(record)
        await uow.session.flush()
        audio_id = speech.audio_id_for(briefings.script_of(record))
        uow.session.add(
            Audio(
                id=audio_id,
                script_id=record.id,
                status=READY if ready else PENDING,
                lang="ko",
                speakers=["anchor"],
                engine_version="test",
                duration_s=95.0 if ready else None,
                created_at=utcnow(),
            )
        )
    return audio_id


async def test_listen_and_today_offer_the_listeners_daily_briefings_to_the_player(
    client: httpx.AsyncClient, services: Services
) -> None:
    await register(client)
    listen = await client.get("/listen")
    assert "briefings-h" in listen.text
    assert 'data-play-audio="' not in listen.text  # no feed yet: nothing written for them
    token = csrf_of(listen.text)
    await client.post("/listen/podcasts", data={"csrf": token, "title": "아침", "lang": "ko"})
    (podcast,) = (await client.get("/api/v1/podcasts")).json()
    older = await seed_briefing(services, podcast["id"], "2026-12-03", ready=True)
    newer = await seed_briefing(services, podcast["id"], "2026-12-04", ready=False)

    listen = (await client.get("/listen")).text
    # The spoken one plays and queues in the persistent player; the other is still being recorded.
    assert f'data-play-audio="{older}"' in listen
    assert f'data-queue-audio="{older}"' in listen
    assert f'data-play-audio="{newer}"' not in listen
    assert listen.index("2026-12-04 아침 브리핑") < listen.index("2026-12-03 아침 브리핑")
    assert "being recorded" in listen
    # Today shows the latest one (still being recorded) in the side column.
    today = (await client.get("/")).text
    assert "briefing-h" in today
    assert "2026-12-04 아침 브리핑" in today
    assert "2026-12-03 아침 브리핑" not in today
    # The player plays it by its audio id: the status it reads names the file.
    status = (await client.get(f"/api/v1/voice/{older}")).json()
    assert status["url"] == f"/api/v1/audio/{older}.opus"


async def test_a_story_card_fragment_for_today_and_the_players_owner(
    client: httpx.AsyncClient, services: Services
) -> None:
    outlet = await make_source(services, "Daily")
    story_id = await make_story(services, "Harbour bridge opens", category="society", source_ids=[outlet])
    # Today's script inserts this when the story arrives live: the card alone, as Today lists it.
    card = await client.get(f"/stories/{story_id}?fragment=card")
    assert card.status_code == 200
    assert card.text.strip().startswith(f'<article class="card" data-story="{story_id}">')
    assert f'<a href="/stories/{story_id}">Harbour bridge opens</a>' in card.text
    assert "<html" not in card.text
    assert (await client.get("/stories/999999?fragment=card")).status_code == 404

    # The player's storage is kept per account: the page names whose it is (nobody's, signed out).
    assert 'data-user=""' in (await client.get("/")).text
    await register(client)
    me = (await client.get("/api/v1/me")).json()
    assert f'data-user="{me["id"]}"' in (await client.get("/")).text


async def test_today_says_why_a_story_trends_in_the_pages_language(
    client: httpx.AsyncClient, services: Services
) -> None:
    from newstalk.stories.tasks import refresh_trending

    outlets = [await make_source(services, name) for name in ("Daily", "Herald", "Courier")]
    await make_story(services, "Harbour bridge opens", category="society", source_ids=outlets)
    await refresh_trending(services)
    trend = (await client.get("/api/v1/trending")).json()[0]["trending"]
    assert trend["reasons"]["en"] == trend["reason"]
    assert trend["reasons"]["ko"].startswith("1분 동안 언론사 3곳")
    assert trend["reasons"]["ko"] in (await client.get("/", headers={"Accept-Language": "ko"})).text
    english = (await client.get("/", headers={"Accept-Language": "en"})).text
    assert trend["reason"] in english
    assert trend["reasons"]["ko"] not in english
