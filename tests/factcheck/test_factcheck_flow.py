"""Fact-checking end to end: outlets' feeds → collect → stories → factcheck stage → API, editors' review."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from newstalk.articles.models import Article
from newstalk.factcheck.models import Claim, Evidence, StoryCheck
from newstalk.runtime import Services
from tests.pipeline.test_ingest_flow import drain
from tests.support.feedserver import FeedServer, Item
from tests.support.newsroom import Feeds, drain_stories, stage_worker, subscribe_and_collect

pytestmark = pytest.mark.anyio

T0 = datetime.now(UTC) - timedelta(hours=2)

FLOOD_WIRE = (
    "Gangwon floods kill 12, thousands evacuated as rivers burst banks",
    "At least 12 people died in floods in Gangwon province on Monday, the interior ministry said. "
    "More than 300 homes were destroyed and 2,000 residents were evacuated, according to officials. "
    "Rescue teams were still searching for three missing people late on Monday.",
)
FLOOD_TIMES = (
    "Gangwon floods kill 15 as rivers burst banks, thousands evacuated",
    "Fifteen people were killed in floods in Gangwon province on Monday, the interior ministry said. "
    "About 300 homes were destroyed and 2,000 residents were evacuated from low-lying villages. "
    "The prime minister said the government would declare a special disaster zone.",
)
FLOOD_DAILY = (
    "Floods in Gangwon kill 12, thousands evacuated after rivers burst",
    "Twelve people died in floods in Gangwon province on Monday, officials said. "
    "The interior ministry said more than 300 homes were destroyed and 2,000 people were evacuated. "
    "Heavy rain is forecast to continue until Wednesday.",
)
FLOOD_KO = (
    "강원 홍수로 12명 사망…주민 2천 명 대피",
    "월요일 강원도에서 발생한 홍수로 최소 12명이 숨졌다고 행정안전부가 밝혔다. "
    "당국에 따르면 주택 300여 채가 파손되고 주민 2천 명이 대피했다. "
    "구조대는 실종자 3명을 찾기 위해 수색을 계속하고 있다.",
)


def item(base: str, outlet: str, n: int, text: tuple[str, str], minutes: int) -> Item:
    return Item(text[0], f"{base}/{outlet}/{n}", text[1], T0 + timedelta(minutes=minutes))


@pytest.fixture
async def checked(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> dict[str, int]:
    base = feed_server.url("")
    feeds: Feeds = {
        "/wire.xml": ("Wire", [item(base, "wire", 1, FLOOD_WIRE, 0)], "en"),
        "/times.xml": ("Times", [item(base, "times", 1, FLOOD_TIMES, 4)], "en"),
        "/daily.xml": ("Daily", [item(base, "daily", 1, FLOOD_DAILY, 6)], "en"),
        "/yonhap.xml": ("연합", [item(base, "yonhap", 1, FLOOD_KO, 8)], "ko"),
    }
    ids = await subscribe_and_collect(client, services, feed_server, admin, feeds)
    await drain_stories(services)
    await drain(stage_worker(services, "factcheck"))
    async with services.db.read() as session:
        story_id = await session.scalar(select(StoryCheck.story_id).order_by(StoryCheck.claim_count.desc()))
    assert story_id is not None
    ids["story"] = int(story_id)
    return ids


async def test_story_claims_carry_offsets_evidence_and_verdicts(
    client: httpx.AsyncClient, services: Services, checked: dict[str, int]
) -> None:
    resp = await client.get(f"/api/v1/stories/{checked['story']}/factcheck")
    assert resp.status_code == 200
    body = resp.json()
    assert body["claims"], body
    assert sum(body["verdicts"].values()) == len(body["claims"])
    async with services.db.read() as session:
        texts = dict((await session.execute(select(Article.id, Article.content_text))).all())
    for claim in body["claims"]:
        assert texts[claim["article_id"]][claim["start"] : claim["end"]] == claim["text"]
        assert claim["verdict"] in {"supported", "refuted", "disputed", "unverified"}
        assert 0.0 <= claim["confidence"] <= 1.0
        assert claim["outlet"] in {"Wire", "Times", "Daily", "연합"}
        assert 0 < claim["outlet_credibility"] < 1
        for ev in claim["evidence"]:
            # Evidence comes from other outlets only, quoted exactly, with where to read it.
            assert ev["outlet"] != claim["outlet"]
            assert texts[ev["article_id"]][ev["start"] : ev["end"]] == ev["quote"]
            assert ev["url"].startswith("http")
            assert ev["stance"] in {"supports", "refutes", "neutral"}
        review = claim["claim_review"]
        assert review["@type"] == "ClaimReview"
        assert review["claimReviewed"] == claim["text"]
        assert 1 <= review["reviewRating"]["ratingValue"] <= 5
    # A death toll claim meets the other count among its evidence: "12" vs "15" is named.
    toll = [c for c in body["claims"] if re.search(r"\b12\b|Twelve|12명", c["text"]) and c["evidence"]]
    assert toll
    conflicts = [x for c in toll for ev in c["evidence"] for x in ev["conflicts"]]
    assert any("12" in x and "15" in x for x in conflicts), conflicts
    # "2,000 evacuated" is another count of people, not a conflict with "12 dead".
    assert not any("2000" in x for x in conflicts), conflicts
    # The outlier figure is contradicted; the figures every outlet repeats are confirmed.
    verdicts = {c["text"]: c["verdict"] for c in body["claims"]}
    fifteen = [v for t, v in verdicts.items() if t.startswith("Fifteen")]
    assert fifteen, verdicts
    assert set(fifteen) <= {"refuted", "disputed"}, verdicts
    homes = [v for t, v in verdicts.items() if "300" in t and ("2,000" in t or "2천" in t)]
    assert homes, verdicts
    assert set(homes) == {"supported"}, verdicts


async def test_claim_detail_and_unchanged_story_is_not_checked_again(
    client: httpx.AsyncClient, services: Services, checked: dict[str, int]
) -> None:
    async with services.db.read() as session:
        claim_id = await session.scalar(select(Claim.id).order_by(Claim.id))
        claims_before = await session.scalar(select(func.count()).select_from(Claim))
        evidence_before = await session.scalar(select(func.count()).select_from(Evidence))
    resp = await client.get(f"/api/v1/claims/{claim_id}")
    assert resp.status_code == 200
    assert resp.json()["id"] == claim_id
    assert (await client.get("/api/v1/claims/999999")).status_code == 404
    # Re-delivering story.updated for an unchanged story leaves everything as it was.
    from newstalk.kit.bus import Event
    from newstalk.pipeline.topics import STORY_UPDATED as UPDATED_TOPIC

    async with services.db.unit() as uow:
        uow.emit(
            Event(UPDATED_TOPIC, "again", {"story_id": checked["story"], "version": 99}, datetime.now(UTC))
        )
    await drain(stage_worker(services, "factcheck"))
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Claim)) == claims_before
        assert await session.scalar(select(func.count()).select_from(Evidence)) == evidence_before


async def test_editors_review_moves_the_agreement_gauge(
    client: httpx.AsyncClient, services: Services, checked: dict[str, int], admin: dict[str, str]
) -> None:
    queue = await client.get("/api/v1/factcheck/review", headers=admin)
    assert queue.status_code == 200
    assert (await client.get("/api/v1/factcheck/review")).status_code == 401
    async with services.db.read() as session:
        ids = list((await session.execute(select(Claim.id, Claim.verdict).order_by(Claim.id).limit(2))).all())
    assert len(ids) == 2
    (first, _), (second, second_verdict) = ids
    ok = await client.post(f"/api/v1/claims/{first}/review", json={"decision": "confirm"}, headers=admin)
    assert ok.status_code == 200
    assert ok.json()["review"]["status"] == "confirmed"
    other = "refuted" if second_verdict != "refuted" else "supported"
    bad = await client.post(
        f"/api/v1/claims/{second}/review",
        json={"decision": "overturn", "verdict": other, "note": "the ministry corrected the toll"},
        headers=admin,
    )
    assert bad.status_code == 200
    assert bad.json()["verdict"] == other
    assert bad.json()["machine_verdict"] == second_verdict
    assert bad.json()["claim_review"]["reviewRating"]["alternateName"] in {"False", "True"}
    missing = await client.post(
        f"/api/v1/claims/{second}/review", json={"decision": "overturn"}, headers=admin
    )
    assert missing.status_code == 422
    typo = await client.post(f"/api/v1/claims/{first}/review", json={"decision": "maybe"}, headers=admin)
    assert typo.status_code == 422
    metrics = (await client.get("/metrics")).text
    assert "newstalk_factcheck_agreement_ratio 0.5" in metrics
    assert "newstalk_factcheck_reviewed_claims 2.0" in metrics
    # The overturned claim's outlet shows it in its record.
    outlets = {o["source_id"]: o for o in (await client.get("/api/v1/factcheck/outlets")).json()}
    assert sum(o["claims_overturned"] for o in outlets.values()) == 1


async def test_outlet_priors_move_credibility(
    client: httpx.AsyncClient, checked: dict[str, int], admin: dict[str, str]
) -> None:
    wire = checked["Wire"]
    resp = await client.put(f"/api/v1/factcheck/outlets/{wire}", json={"prior": 0.95}, headers=admin)
    assert resp.status_code == 200
    assert resp.json()["prior"] == 0.95
    assert resp.json()["prior_is_default"] is False
    assert resp.json()["credibility"] > 0.7
    assert (
        await client.put(f"/api/v1/factcheck/outlets/{wire}", json={"prior": 1.5}, headers=admin)
    ).status_code == 422
    assert (
        await client.put("/api/v1/factcheck/outlets/99999", json={"prior": 0.5}, headers=admin)
    ).status_code == 404
    assert (await client.put(f"/api/v1/factcheck/outlets/{wire}", json={"prior": 0.5})).status_code == 401


async def test_adhoc_text_is_checked_against_the_corpus(
    client: httpx.AsyncClient, checked: dict[str, int]
) -> None:
    resp = await client.post(
        "/api/v1/fact-check",
        json={"text": "Floods in Gangwon province killed 40 people on Monday, officials said."},
    )
    assert resp.status_code == 200
    claims = resp.json()["claims"]
    assert len(claims) == 1
    assert claims[0]["id"] is None
    assert claims[0]["evidence"], "the flood coverage is in the corpus"
    assert all(ev["url"].startswith("http") for ev in claims[0]["evidence"])
    assert (await client.post("/api/v1/fact-check", json={"text": ""})).status_code == 422
    assert (await client.post("/api/v1/fact-check", json={"text": 5})).status_code == 422
    assert (await client.post("/api/v1/fact-check", json={"text": "x" * 5001})).status_code == 422


async def test_a_job_for_an_older_story_version_is_skipped(
    services: Services, checked: dict[str, int]
) -> None:
    from newstalk.factcheck import service
    from newstalk.kit import metrics
    from newstalk.stories.models import Story

    async with services.db.unit() as uow:
        story = await uow.session.get(Story, checked["story"])
        assert story is not None
        # The check on record goes: only the version decides now, not an unchanged signature.
        done = await uow.session.get(StoryCheck, checked["story"])
        assert done is not None
        await uow.session.delete(done)
        story.version += 1  # the stories stage moved on; its own story.updated would check it
        newest = story.version
    skipped = metrics.FACTCHECK_SUPERSEDED._value.get()
    assert await service.check_story(services, checked["story"], newest - 1) == ([], False)
    assert metrics.FACTCHECK_SUPERSEDED._value.get() == skipped + 1
    checked_now, changed = await service.check_story(services, checked["story"], newest)
    assert changed
    assert checked_now


async def test_a_version_with_the_same_evidence_pool_is_announced_checked(
    services: Services, checked: dict[str, int]
) -> None:
    from newstalk.kit.bus import Event
    from newstalk.kit.bus.dbqueue import QueueJob
    from newstalk.pipeline.topics import STORY_CHECKED, STORY_UPDATED
    from newstalk.stories.models import Story

    async with services.db.read() as session:
        claims_before = await session.scalar(select(func.count()).select_from(Claim))
        mine_before = await session.scalar(
            select(func.count()).select_from(Claim).where(Claim.story_id == checked["story"])
        )
    # A new version whose members leave the evidence pool as it was (as when an article
    # joins that pick_pool does not take): nothing to check again, but the version is checked.
    async with services.db.unit() as uow:
        story = await uow.session.get(Story, checked["story"])
        assert story is not None
        story.version += 1
        version = story.version
        uow.emit(
            Event(
                STORY_UPDATED,
                f"story:{story.id}:{version}",
                {"story_id": story.id, "version": version},
                datetime.now(UTC),
            )
        )
    await drain(stage_worker(services, "factcheck"))
    async with services.db.read() as session:
        done = await session.get(StoryCheck, checked["story"])
        assert done is not None
        assert done.story_version == version
        assert await session.scalar(select(func.count()).select_from(Claim)) == claims_before
        announced = (
            await session.scalars(
                select(QueueJob).where(QueueJob.topic == STORY_CHECKED, QueueJob.stage == "briefings")
            )
        ).all()
    mine = [j.payload for j in announced if j.payload["version"] == version]
    assert mine
    assert mine[0]["claims"] == mine_before
    assert sum(mine[0]["verdicts"].values()) == mine_before
