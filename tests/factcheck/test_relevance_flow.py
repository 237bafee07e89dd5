"""Issue 12: a verdict only from evidence about the same event, through feeds, stages and the HTTP API.

Unrelated coverage sits in the corpus beside the events it must not be confused with: an
open-source weather model, Korean interest rates, a wheat harvest and convenience-store lunch
prices, each with figures that share a unit with another story's ("1.2 percent" vs "5 percent").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from newstalk.factcheck.models import StoryCheck
from newstalk.runtime import Services
from tests.pipeline.test_ingest_flow import drain
from tests.support.feedserver import FeedServer, Item
from tests.support.newsroom import Feeds, drain_stories, stage_worker, subscribe_and_collect

pytestmark = pytest.mark.anyio

T0 = datetime.now(UTC) - timedelta(hours=2)

WEATHER = (
    "University team releases open-source weather model",
    "A university team released an open-source weather model on Tuesday that forecasts rain "
    "ten days ahead. The code and data are public. The team said the model cut forecast errors "
    "by 5 percent compared with the national weather service's system.",
)
RATES_KO = (
    "한국은행, 기준금리 연 3.5%로 동결",
    "한국은행 금융통화위원회가 목요일 기준금리를 연 3.5%로 동결했다. "
    "앞서 실시된 설문에서 전문가 10명 가운데 8명이 동결을 예상했다. "
    "소비자물가 상승률은 지난달 1.2%로 둔화했다고 통계청이 밝혔다.",
)
WHEAT = (
    "Wheat harvest rises 1.2 percent on good spring rain",
    "Farmers in the southern plains harvested 1.2 percent more wheat this year, the agriculture "
    "ministry said on Wednesday. Good spring rain lifted yields on most farms in the region, "
    "and the ministry expects grain prices to stay stable through the autumn months.",
)
LUNCH = (
    "Convenience-store lunch boxes cost 5 percent more",
    "Lunch boxes at convenience stores cost 5 percent more than a year ago, a consumer group "
    "said on Wednesday. Office workers in Seoul are turning to cheaper set menus at small "
    "restaurants, and chains are adding smaller portions to their lunch menus.",
)


def item(base: str, outlet: str, text: tuple[str, str], minutes: int) -> Item:
    return Item(text[0], f"{base}/{outlet}/1", text[1], T0 + timedelta(minutes=minutes))


@pytest.fixture
async def corpus(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> dict[str, str]:
    base = feed_server.url("")
    feeds: Feeds = {
        "/tech.xml": ("Tech Daily", [item(base, "tech", WEATHER, 0)], "en"),
        "/econ.xml": ("경제신문", [item(base, "econ", RATES_KO, 3)], "ko"),
        "/farm.xml": ("Farm Wire", [item(base, "farm", WHEAT, 6)], "en"),
        "/city.xml": ("City Times", [item(base, "city", LUNCH, 9)], "en"),
    }
    await subscribe_and_collect(client, services, feed_server, admin, feeds)
    await drain_stories(services)
    await drain(stage_worker(services, "factcheck"))
    return {
        "weather": f"{base}/tech/1",
        "rates": f"{base}/econ/1",
        "wheat": f"{base}/farm/1",
        "lunch": f"{base}/city/1",
    }


async def fact_check(
    client: httpx.AsyncClient, text: str, language: str | None = None
) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"text": text}
    if language:
        body["language"] = language
    resp = await client.post("/api/v1/fact-check", json=body)
    assert resp.status_code == 200, resp.text
    claims: list[dict[str, Any]] = resp.json()["claims"]
    assert claims
    return claims


async def test_a_claim_about_something_else_is_unverified_without_evidence(
    client: httpx.AsyncClient, corpus: dict[str, str]
) -> None:
    # Issue 12: "Rail strike ends." came out refuted by "The code and data are public."
    [claim] = await fact_check(client, "Rail strike ends.", "en")
    assert claim["verdict"] == "unverified", claim
    assert claim["evidence"] == [], claim


async def test_a_word_for_word_copy_finds_its_own_article_and_nothing_else(
    client: httpx.AsyncClient, corpus: dict[str, str]
) -> None:
    # Issue 12: a copy of an article came out unverified with Korean interest-rate sentences.
    claims = await fact_check(client, WHEAT[1], "en")
    evidence = [ev for c in claims for ev in c["evidence"]]
    assert evidence, claims
    assert {ev["url"] for ev in evidence} == {corpus["wheat"]}, evidence
    assert all(ev["conflicts"] == [] for ev in evidence), evidence
    assert "refuted" not in {c["verdict"] for c in claims}
    assert "supported" in {c["verdict"] for c in claims}, claims


async def test_a_conflict_in_the_evidence_never_yields_supported(
    client: httpx.AsyncClient, corpus: dict[str, str]
) -> None:
    # Issue 12: this came out supported while its evidence listed "5 person vs 8 person".
    [claim] = await fact_check(client, "전문가 10명 가운데 5명이 인하를 예상했다", "ko")
    conflicts = [x for ev in claim["evidence"] for x in ev["conflicts"]]
    assert claim["verdict"] != "supported", claim
    # The same survey is about the same event: its other count is named and counts against.
    assert any("5" in x and "8" in x for x in conflicts), claim
    assert claim["verdict"] in {"refuted", "disputed"}, claim
    # The inflation sentence of the same article shares only a unit: it is not evidence.
    assert all("1.2" not in ev["quote"] for ev in claim["evidence"]), claim


async def test_a_shared_unit_is_not_a_conflict_between_events(
    client: httpx.AsyncClient, corpus: dict[str, str]
) -> None:
    # Issue 12: story fact-checks refuted true sentences with "number: 1.2 percent vs 5 percent".
    [claim] = await fact_check(client, "Wheat harvests rose 5 percent this year, the ministry said.", "en")
    urls = {ev["url"] for ev in claim["evidence"]}
    assert corpus["lunch"] not in urls, claim
    assert corpus["weather"] not in urls, claim
    assert not any(
        "5 percent" in x for ev in claim["evidence"] for x in ev["conflicts"] if ev["url"] != corpus["wheat"]
    )


async def test_story_verdicts_cite_only_their_own_event(
    client: httpx.AsyncClient, services: Services, corpus: dict[str, str]
) -> None:
    # Each fixture article is its own event and no other outlet covers it, so no sentence of
    # another article is evidence for any of its claims, whatever the stories stage grouped.
    async with services.db.read() as session:
        story_ids = list((await session.execute(select(StoryCheck.story_id))).scalars())
    assert story_ids
    claims = []
    for story_id in story_ids:
        resp = await client.get(f"/api/v1/stories/{story_id}/factcheck")
        assert resp.status_code == 200
        claims += resp.json()["claims"]
    assert claims, "the stage checked the stories' claims"
    for claim in claims:
        assert claim["evidence"] == [], claim
        assert claim["verdict"] == "unverified", claim
