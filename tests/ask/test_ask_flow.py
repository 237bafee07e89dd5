"""POST /api/v1/stories/{id}/ask and saved threads, on real stories, on SQLite or PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from newstalk.accounts.models import Role
from newstalk.ask.answer import NOT_FOUND
from newstalk.ask.models import AskThread, AskTurn
from newstalk.config import Settings
from newstalk.kit.api import encode_cursor
from newstalk.kit.db import Database
from tests.ask.stories import article_text, build_story, supercomputer, time_warner
from tests.support.accounts import Account, make_account

pytestmark = pytest.mark.anyio


async def ask(
    client: httpx.AsyncClient, who: Account, story_id: int, question: str, thread_id: int | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"question": question}
    if thread_id is not None:
        body["thread_id"] = thread_id
    resp = await client.post(f"/api/v1/stories/{story_id}/ask", json=body, headers=who.headers)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


async def assert_exact(settings: Settings, citations: list[dict[str, Any]]) -> None:
    """Every citation's quote is the article's text between its offsets."""
    for c in citations:
        text = await article_text(settings, c["article_id"])
        assert text[c["start"] : c["end"]] == c["quote"]
        assert c["url"].startswith("https://")


async def test_english_question_cites_the_sentence_with_exact_offsets(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await make_account(settings, Role.listener)
    story_id, ids = await build_story(settings, time_warner())
    data = await ask(client, me, story_id, "How much did Time Warner's quarterly profits jump?")
    turn = data["turn"]
    assert data["story_id"] == story_id
    assert turn["found"] is True
    assert turn["mode"] == "extractive"
    assert turn["language"] == "en"
    assert turn["position"] == 1
    assert turn["follow_up"] is False
    first = turn["citations"][0]
    assert first["outlet"] == "BBC"
    assert first["article_id"] == ids["BBC"]
    assert "76%" in first["quote"]
    assert first["quote"] in turn["answer"]
    await assert_exact(settings, turn["citations"])
    assert 1 <= len(turn["citations"]) <= 3
    outlets = [c["outlet"] for c in turn["citations"]]
    assert len(outlets) == len(set(outlets))


async def test_korean_and_english_questions_answer_in_their_language(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await make_account(settings, Role.listener)
    story_id, ids = await build_story(settings, supercomputer())
    ko = (await ask(client, me, story_id, "수퍼컴퓨터는 초당 몇 번의 계산을 수행하나?"))["turn"]
    assert ko["found"] is True
    assert ko["language"] == "ko"
    assert ko["citations"][0]["outlet"] == "연합뉴스"
    assert "12조3천억" in ko["citations"][0]["quote"]
    await assert_exact(settings, ko["citations"])

    en = (await ask(client, me, story_id, "How many microprocessors does the supercomputer have?"))["turn"]
    assert en["found"] is True
    assert en["language"] == "en"
    assert en["citations"][0]["article_id"] == ids["Wire"]
    assert "8,192 microprocessors" in en["citations"][0]["quote"]
    await assert_exact(settings, en["citations"])


async def test_follow_ups_resolve_against_the_previous_turn(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await make_account(settings, Role.listener)
    story_id, _ = await build_story(settings, supercomputer())
    first = await ask(client, me, story_id, "미국은 언제 지하 핵실험을 중지했나?")
    thread = first["thread_id"]
    assert "1992년" in first["turn"]["citations"][0]["quote"]
    why = (await ask(client, me, story_id, "그 이유는?", thread))["turn"]
    assert why["follow_up"] is True
    assert why["context"] == [1]
    assert why["position"] == 2
    assert why["found"] is True
    assert why["language"] == "ko"
    # Read alone, "그 이유는?" names nothing in the story; with the first turn it finds the
    # sentences about the nuclear tests and the simulations they require.
    assert any("핵" in c["quote"] for c in why["citations"])
    await assert_exact(settings, why["citations"])
    alone = (await ask(client, me, story_id, "그 이유는?"))["turn"]
    assert alone["follow_up"] is False
    assert alone["found"] is False

    en_story, _ = await build_story(settings, time_warner())
    profits = await ask(client, me, en_story, "How much did Time Warner's quarterly profits jump?")
    how_many = (
        await ask(client, me, en_story, "And how many subscribers did AOL lose?", profits["thread_id"])
    )["turn"]
    assert how_many["follow_up"] is True
    assert "464,000 subscribers" in how_many["citations"][0]["quote"]


async def test_the_coverage_does_not_say(client: httpx.AsyncClient, settings: Settings) -> None:
    me = await make_account(settings, Role.listener)
    story_id, _ = await build_story(settings, supercomputer())
    for question, lang in [
        ("Who won the World Cup final last night?", "en"),
        ("어제 월드컵 결승전에서 누가 이겼나?", "ko"),
    ]:
        turn = (await ask(client, me, story_id, question))["turn"]
        assert turn["found"] is False
        assert turn["citations"] == []
        assert turn["answer"] == NOT_FOUND[lang]
        assert turn["language"] == lang


async def test_five_turns_of_context_and_every_turn_saved(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await make_account(settings, Role.listener)
    story_id, _ = await build_story(settings, supercomputer())
    questions = [
        "How much did the supercomputer cost?",
        "How many calculations can it perform a second?",
        "Who designed ASCI White?",
        "How many books can it store?",
        "How many microprocessors does it have?",
        "When did the United States suspend underground nuclear tests?",
        "Why?",
    ]
    thread = None
    turns = []
    for q in questions:
        data = await ask(client, me, story_id, q, thread)
        thread = data["thread_id"]
        turns.append(data["turn"])
    assert [t["position"] for t in turns] == list(range(1, 8))
    assert turns[0]["context"] == []
    assert turns[4]["context"] == [1, 2, 3, 4]
    # The seventh question sees turns 2-6: the first dropped out of context.
    assert turns[6]["context"] == [2, 3, 4, 5, 6]
    assert turns[6]["follow_up"] is True
    assert turns[6]["found"] is True

    resp = await client.get(f"/api/v1/ask/threads/{thread}", headers=me.headers)
    assert resp.status_code == 200
    detail = resp.json()
    assert detail["turn_count"] == 7
    assert detail["title"] == questions[0]
    assert [t["question"] for t in detail["turns"]] == questions
    assert detail["turns"][1]["citations"] == turns[1]["citations"]
    for t in detail["turns"]:
        await assert_exact(settings, t["citations"])


async def test_threads_are_private_paginated_and_deletable(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await make_account(settings, Role.listener)
    other = await make_account(settings, Role.listener)
    story_id, _ = await build_story(settings, time_warner())
    other_story, _ = await build_story(settings, supercomputer())
    made = [
        (await ask(client, me, story_id, f"How much did profits jump? ({i})"))["thread_id"] for i in range(3)
    ]
    theirs = (await ask(client, other, story_id, "How many subscribers did AOL lose?"))["thread_id"]

    page = (await client.get("/api/v1/ask/threads", params={"limit": 2}, headers=me.headers)).json()
    assert [t["id"] for t in page["items"]] == made[::-1][:2]
    assert page["next_cursor"]
    rest = (
        await client.get(
            "/api/v1/ask/threads", params={"limit": 2, "cursor": page["next_cursor"]}, headers=me.headers
        )
    ).json()
    assert [t["id"] for t in rest["items"]] == [made[0]]
    assert rest["next_cursor"] is None
    # A turn moves its thread to the top.
    await ask(client, me, story_id, "And how many subscribers did AOL lose?", made[0])
    top = (await client.get("/api/v1/ask/threads", headers=me.headers)).json()["items"]
    assert top[0]["id"] == made[0]
    assert top[0]["turn_count"] == 2

    # Another listener's thread does not exist for me, whatever I try.
    assert (await client.get(f"/api/v1/ask/threads/{theirs}", headers=me.headers)).status_code == 404
    assert (await client.delete(f"/api/v1/ask/threads/{theirs}", headers=me.headers)).status_code == 404
    resp = await client.post(
        f"/api/v1/stories/{story_id}/ask", json={"question": "Why?", "thread_id": theirs}, headers=me.headers
    )
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    # A thread continues only about its own story.
    resp = await client.post(
        f"/api/v1/stories/{other_story}/ask",
        json={"question": "Why?", "thread_id": made[1]},
        headers=me.headers,
    )
    assert resp.status_code == 422
    assert "not" in resp.json()["detail"]

    assert (await client.delete(f"/api/v1/ask/threads/{made[1]}", headers=me.headers)).status_code == 204
    assert (await client.get(f"/api/v1/ask/threads/{made[1]}", headers=me.headers)).status_code == 404
    assert (await client.delete(f"/api/v1/ask/threads/{made[1]}", headers=me.headers)).status_code == 404
    assert (await client.get(f"/api/v1/ask/threads/{theirs}", headers=other.headers)).status_code == 200

    # Deleting my account deletes my threads and their turns (foreign keys cascade).
    assert (await client.delete("/api/v1/me", headers=me.headers)).status_code == 204
    db = Database.open(settings.async_database_url)
    try:
        async with db.read() as session:
            mine = await session.scalar(
                select(func.count()).select_from(AskThread).where(AskThread.user_id == me.id)
            )
            turns = await session.scalar(select(func.count()).select_from(AskTurn))
            left = await session.scalar(select(func.count()).select_from(AskThread))
    finally:
        await db.dispose()
    assert mine == 0
    assert left == 1
    assert turns == 1


async def test_bad_input_and_missing_auth_are_refused(
    fresh_client: httpx.AsyncClient, settings: Settings
) -> None:
    # The app builds its own answerer here, as in production (sharing the fact-checker's caches).
    client = fresh_client
    me = await make_account(settings, Role.listener)
    story_id, _ = await build_story(settings, time_warner())
    url = f"/api/v1/stories/{story_id}/ask"
    assert (await client.post(url, json={"question": "How much?"})).status_code == 401
    too_long = await client.post(url, json={"question": "가" * 501}, headers=me.headers)
    assert too_long.status_code == 422
    assert too_long.headers["content-type"].startswith("application/problem+json")
    assert (await client.post(url, json={"question": "   "}, headers=me.headers)).status_code == 422
    assert (await client.post(url, json={"question": "x", "extra": 1}, headers=me.headers)).status_code == 422
    assert (
        await client.post(url, json={"question": "x", "thread_id": 0}, headers=me.headers)
    ).status_code == 422
    missing = await client.post(
        "/api/v1/stories/999999/ask", json={"question": "How much?"}, headers=me.headers
    )
    assert missing.status_code == 404
    assert "no story 999999" in missing.json()["detail"]
    for cursor in (
        "bm9wZQ",
        encode_cursor("2026-11-26T10:00:00", 5),
        encode_cursor("soon", 5),
        encode_cursor(1, {}),
    ):
        bad_cursor = await client.get("/api/v1/ask/threads", params={"cursor": cursor}, headers=me.headers)
        assert bad_cursor.status_code == 422, cursor
    # 500 characters is still a question.
    assert (await client.post(url, json={"question": "a" * 500}, headers=me.headers)).status_code == 200


async def test_asking_is_limited_to_twenty_a_minute_per_listener(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await make_account(settings, Role.listener)
    other = await make_account(settings, Role.listener)
    # A missing story costs no retrieval, and the limit counts the request all the same.
    url = "/api/v1/stories/987654/ask"
    for _ in range(20):
        resp = await client.post(url, json={"question": "How much?"}, headers=me.headers)
        assert resp.status_code == 404
    limited = await client.post(url, json={"question": "How much?"}, headers=me.headers)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Limit"] == "20"
    # The limit is per listener.
    assert (await client.post(url, json={"question": "How much?"}, headers=other.headers)).status_code == 404
