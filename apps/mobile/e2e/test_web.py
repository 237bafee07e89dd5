"""The app's web build in Debian Chromium against a real ``newstalk up --demo``:
server choice -> register and sign in -> today's feed -> a story -> play (the audio element
passes 1 s) -> ask (an answer with its quotes) -> Korean UI (today, story, ask, player), with
screenshots of each in both languages.

Run by scripts/check-mobile after ``npx expo export --platform web``:
    PYTHONPATH=.:src .venv/bin/pytest -q apps/mobile/e2e/test_web.py -p no:cacheprovider
Screenshots go to $MOBILE_SCREENSHOTS (default apps/mobile/e2e/screenshots, git-ignored).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from benchmarks._mobile_web import APP, launch_chromium, newstalk_demo, serve_static, wait_for_stories

playwright_sync = pytest.importorskip("playwright.sync_api")

SHOTS = Path(os.environ.get("MOBILE_SCREENSHOTS", APP / "e2e" / "screenshots"))
PASSWORD = "listen-on-the-way-1234"  # noqa: S105 - a test account on a throwaway server


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[str, str]]:
    with serve_static() as web, newstalk_demo(web) as server:
        wait_for_stories(server.url)
        yield web, server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        b = launch_chromium(p)
        try:
            yield b
        finally:
            b.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def sign_up(page: Any, web: str, server: str) -> None:
    page.goto(web)
    url_box = page.get_by_test_id("server-url")
    url_box.fill(server)
    page.get_by_test_id("server-continue").click()
    page.get_by_test_id("signin-mode").click()
    page.get_by_test_id("email").fill(f"e2e-{uuid.uuid4().hex[:8]}@example.org")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("signin-submit").click()
    page.get_by_test_id("today").wait_for(timeout=30_000)


def story_cards(page: Any) -> Any:
    """The first story card of today's feed or trending list."""
    return page.locator("[data-testid^='feed-item-'], [data-testid^='trending-item-']").first


def open_first_story(page: Any) -> None:
    story_cards(page).wait_for(timeout=60_000)
    story_cards(page).click()
    page.get_by_test_id("coverage").first.wait_for(timeout=30_000)


def test_sign_in_feed_story_play_ask_in_english_and_korean(stack: tuple[str, str], browser: Any) -> None:
    web, server = stack
    context = browser.new_context(locale="en-US", viewport={"width": 420, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_up(page, web, server)
        assert page.get_by_role("heading", name="Today").is_visible()
        story_cards(page).wait_for(timeout=60_000)
        shot(page, "en-today")

        open_first_story(page)
        shot(page, "en-story")

        page.get_by_test_id("listen").click()
        # Synthesis of a story takes seconds to tens of seconds on the demo; then playback starts.
        page.wait_for_function(
            "() => globalThis.__newstalkPlayer && globalThis.__newstalkPlayer.currentTime > 1",
            timeout=240_000,
        )
        page.get_by_test_id("tab-player").click()
        page.get_by_test_id("player-time").wait_for()
        shot(page, "en-player")

        page.go_back()
        title = page.get_by_role("heading").first.inner_text()
        page.get_by_test_id("ask-link").click()
        page.get_by_test_id("ask-input").fill(f"What does the coverage say about {title}?")
        page.get_by_test_id("ask-send").click()
        page.get_by_test_id("answer").first.wait_for(timeout=60_000)
        # A found answer quotes the coverage it comes from.
        page.get_by_test_id("citation").first.wait_for(timeout=10_000)
        shot(page, "en-ask")

        # The UI language switches in settings (the device locale is the default).
        page.get_by_test_id("tab-settings").click()
        page.get_by_test_id("locale-ko").click()
        page.get_by_test_id("tab-today").click()
        page.get_by_role("heading", name="오늘").wait_for()
        story_cards(page).wait_for(timeout=60_000)
        shot(page, "ko-today")
        open_first_story(page)
        assert page.get_by_text("언론사별 보도").is_visible()
        # Verdicts and stances are Korean words too, never the API's English ones.
        assert page.get_by_text(re.compile(r"^(supported|refuted|disputed|unverified) · ")).count() == 0
        shot(page, "ko-story")

        page.get_by_test_id("ask-link").click()
        page.get_by_role("heading", name="질문").wait_for()
        page.get_by_test_id("ask-input").fill("이 뉴스에서 각 언론사는 무엇을 보도했나요?")
        page.get_by_test_id("ask-send").click()
        page.get_by_test_id("answer").first.wait_for(timeout=60_000)
        shot(page, "ko-ask")

        page.get_by_test_id("tab-player").click()
        page.get_by_test_id("player-time").wait_for()
        assert page.get_by_text("속도").is_visible()
        assert page.get_by_role("heading", name="대본").is_visible()
        shot(page, "ko-player")
    finally:
        context.close()
    assert errors == []


def test_a_korean_device_gets_the_korean_ui(stack: tuple[str, str], browser: Any) -> None:
    web, server = stack
    context = browser.new_context(locale="ko-KR", viewport={"width": 420, "height": 900})
    page = context.new_page()
    try:
        page.goto(web)
        page.get_by_role("heading", name="뉴스톡 서버 선택").wait_for(timeout=30_000)
        sign_up(page, web, server)
        page.get_by_role("heading", name="오늘").wait_for()
    finally:
        context.close()
