"""Listener pages in process: settings forms, podcast subscription with its QR code, evidence marks."""

from __future__ import annotations

import httpx
import pytest

from newstalk.web.pages import conflict_terms, highlight
from tests.web.test_session import csrf_of, register

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
