"""The web app across pages in a real Chromium against a real ``newstalk up --demo`` (conftest.py).

The player keeps playing while the listener moves between pages (in-app navigation); a story
page follows its own story live whatever the listener's preferences; Today adds a story that
appears live; the player takes the listener's speed and keeps its queue per account.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from newstalk.stories.category import CATEGORIES
from tests.web.conftest import Server
from tests.web.test_browser import PASSWORD, new_listener

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

QUEUE_KEY, NOW_KEY = "nt_queue", "nt_now"  # static/player.js: the browser's storage


def api(page: Any, method: str, path: str, body: Any = None) -> Any:
    """The API as the page's signed-in listener (session cookie and CSRF token, as app.js calls it)."""
    return page.evaluate(
        "([m, p, b]) => window.NewsTalk.api(m, p, b === null ? undefined : b)", [method, path, body]
    )


def audio_time(page: Any) -> float:
    return float(page.evaluate("() => document.getElementById('audio').currentTime"))


def wait_audio_past(page: Any, seconds: float) -> None:
    page.wait_for_function(
        "t => { const a = document.getElementById('audio'); return !a.paused && a.currentTime > t; }",
        arg=seconds,
        timeout=30_000,
    )


def test_playback_survives_moving_between_pages(
    browser: Any, server: Server, conflicting_story: dict[str, Any], spoken_story: dict[str, Any]
) -> None:
    story = conflicting_story["story"]
    context, page = new_listener(browser, server, "moving@example.org")
    try:
        page.goto(f"/stories/{story['id']}")
        story_title = page.title()
        page.click(f'button[data-play-story="{story["id"]}"]')
        wait_audio_past(page, 1)
        page.evaluate("() => { window.__sameDocument = true; }")  # gone if a page loads

        # The header's Today link: the page changes, the audio plays on.
        before = audio_time(page)
        page.click('header nav a[href="/"]')
        page.wait_for_url(server.url + "/")
        page.wait_for_function("() => document.body.dataset.page === 'today'")
        assert page.title() != story_title
        assert page.title().startswith("Today")
        assert page.locator("#latest .card").count() > 0
        wait_audio_past(page, before + 0.5)

        # Another page: Listen (its queue box filled by the player), then a search (a GET form).
        before = audio_time(page)
        page.click('header nav a[href="/listen"]')
        page.wait_for_url(server.url + "/listen")
        page.wait_for_function("() => document.body.dataset.page === 'listen'")
        assert page.title().startswith("Listen")
        assert page.locator("#queue li").count() == 1  # the "queue is empty" line the player writes
        wait_audio_past(page, before + 0.5)
        page.click('header nav a[href="/search"]')
        page.wait_for_url(server.url + "/search")
        page.fill("input[name=q]", "rate")
        page.press("input[name=q]", "Enter")
        page.wait_for_url(lambda url: url.startswith(server.url + "/search?q=rate"))
        page.wait_for_function("() => document.body.dataset.page === 'search'")
        wait_audio_past(page, audio_time(page) + 0.5)

        # Back in history: the Listen page again, swapped in place.
        page.go_back()
        page.go_back()
        page.wait_for_url(server.url + "/listen")
        page.wait_for_function("() => document.body.dataset.page === 'listen'")
        assert page.title().startswith("Listen")
        assert page.evaluate("() => window.__sameDocument === true")
        assert not page.evaluate("() => document.getElementById('audio').paused")

        # A typed address is a plain load: the player comes back with the story, paused.
        page.goto(f"/stories/{story['id']}")
        assert page.evaluate("() => window.__sameDocument === undefined")
        assert page.evaluate("() => document.getElementById('audio').paused")
    finally:
        context.close()


def test_a_story_page_follows_its_story_live_outside_the_listeners_preferences(
    browser: Any, server: Server, conflicting_story: dict[str, Any]
) -> None:
    story = conflicting_story["story"]
    claim = conflicting_story["claim"]
    context, page = new_listener(browser, server, "elsewhere@example.org")
    try:
        # The listener follows another category only: their preference stream drops this story.
        other = next(c for c in CATEGORIES if c != story["category"])
        prefs = api(page, "PATCH", "/api/v1/me/preferences", {"categories": [other]})
        assert prefs["categories"] == [other]
        page.goto(f"/stories/{story['id']}")
        card = page.locator(f"#claim-{claim['id']}")
        assert card.locator("[data-reviewed]").count() == 0
        page.locator("body[data-live=open]").wait_for(state="attached")
        page.evaluate("() => { window.__sameDocument = true; }")

        # An editor overturns the verdict (the admin, through the API the desk uses).
        overturned = "supported" if claim["verdict"] != "supported" else "disputed"
        server.api(
            "POST",
            f"/api/v1/claims/{claim['id']}/review",
            {"decision": "overturn", "verdict": overturned, "note": "A later filing settles it."},
        )

        card.locator("[data-reviewed]").wait_for(timeout=20_000)
        assert card.locator("[data-verdict]").get_attribute("class") == f"verdict {overturned}"
        assert "a later filing settles it" in card.inner_text().lower()
        assert page.evaluate("() => window.__sameDocument === true")
    finally:
        context.close()


def test_today_adds_a_story_that_appears_live(
    browser: Any, server: Server, conflicting_story: dict[str, Any]
) -> None:
    context, page = new_listener(browser, server, "today-live@example.org")
    try:
        page.locator("body[data-live=open]").wait_for(state="attached")
        page.evaluate("() => { window.__sameDocument = true; }")

        # A new story, cheaply: an editor splits an article out of a story with several.
        def splittable() -> dict[str, Any] | None:
            for item in server.api("GET", "/api/v1/stories?limit=50")["items"]:
                if item["id"] == conflicting_story["story"]["id"]:
                    continue
                detail: dict[str, Any] = server.api("GET", f"/api/v1/stories/{item['id']}")
                if len(detail["timeline"]) >= 2:
                    return detail
            return None

        source = server.wait_for("a story with two articles", splittable)
        new = server.api(
            "POST",
            f"/api/v1/stories/{source['id']}/split",
            {"article_ids": [source["timeline"][-1]["article_id"]]},
        )
        assert page.locator(f'[data-story="{new["id"]}"]').count() == 0

        card = page.locator(f'#latest .card[data-story="{new["id"]}"]')
        card.wait_for(timeout=60_000)
        assert "fresh" in (card.get_attribute("class") or "")
        link = card.locator("h3 a")
        assert link.get_attribute("href") == f"/stories/{new['id']}"
        assert link.inner_text().strip()
        assert page.locator("#latest .card").first.get_attribute("data-story") == str(new["id"])
        assert page.evaluate("() => window.__sameDocument === true")
    finally:
        context.close()


def stored(page: Any, key: str) -> Any:
    raw = page.evaluate("k => localStorage.getItem(k)", key)
    return None if raw is None else json.loads(raw)


def test_the_player_takes_the_listeners_speed_and_keeps_its_queue_per_account(
    browser: Any, server: Server, conflicting_story: dict[str, Any]
) -> None:
    story = conflicting_story["story"]
    context, page = new_listener(browser, server, "speed-a@example.org")
    try:
        # The speed saved on the server (Settings, another device) is the player's speed.
        assert page.input_value("#player-speed") == "1.0"
        api(page, "PATCH", "/api/v1/me/preferences", {"playback_speed": 1.5})
        page.goto(f"/stories/{story['id']}")
        page.wait_for_function("() => document.getElementById('player-speed').value === '1.5'")
        assert page.evaluate("() => document.getElementById('audio').playbackRate") == 1.5
        owner_a = page.get_attribute("#player", "data-user")
        assert owner_a

        # The queue is kept for this account, and logging out leaves nothing behind.
        page.click(f'button[data-queue-story="{story["id"]}"]')
        queue = stored(page, QUEUE_KEY)
        assert queue["owner"] == owner_a
        assert [item["id"] for item in queue["items"]] == [str(story["id"])]
        page.click("header form[action='/logout'] button[type=submit]")
        page.wait_for_url(server.url + "/")
        assert stored(page, QUEUE_KEY) is None
        assert stored(page, NOW_KEY) is None

        # Another account in the same browser never sees the first one's queue or audio.
        page.goto("/register")
        page.fill("#email", "speed-b@example.org")
        page.fill("#password", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_url(server.url + "/")
        owner_b = page.get_attribute("#player", "data-user")
        assert owner_b
        assert owner_b != owner_a
        leftover = {"owner": owner_a, "items": [{"id": str(story["id"]), "title": "A's story"}]}
        playing = {
            "owner": owner_a,
            "id": story["id"],
            "audio": "x",
            "title": "A's story",
            "url": "/nothing.opus",
        }
        page.evaluate(
            "([q, n, qv, nv]) => { localStorage.setItem(q, JSON.stringify(qv)); localStorage.setItem(n, JSON.stringify(nv)); }",
            [QUEUE_KEY, NOW_KEY, leftover, playing],
        )
        page.goto("/listen")
        assert page.locator("#queue li").all_inner_texts() == [page.get_attribute("#queue", "data-empty")]
        assert page.locator("#player").is_hidden()
        assert page.input_value("#player-speed") == "1.0"
        assert stored(page, QUEUE_KEY) is None
        assert stored(page, NOW_KEY) is None
    finally:
        context.close()
