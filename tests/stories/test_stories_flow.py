"""Stories end to end: outlets' feeds → collect → stories stage → /api/v1/stories, editors' fixes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from newstalk.kit.bus import Event
from newstalk.runtime import Services
from newstalk.stories.models import ArticleFeatures, Story, StoryArticle
from tests.pipeline.test_ingest_flow import collect_worker, drain
from tests.support.feedserver import FeedServer, Item, Route, rss
from tests.support.newsroom import Feeds, drain_stories, subscribe_and_collect

pytestmark = [pytest.mark.anyio, pytest.mark.buses]

T0 = datetime.now(UTC) - timedelta(hours=2)

QUAKE_EN = (
    "Strong earthquake hits northern Japan, tsunami warning issued",
    "A magnitude 6.8 earthquake struck off the coast of Hokkaido in northern Japan on Tuesday morning, "
    "the Japan Meteorological Agency said. A tsunami warning was issued for the Pacific coast and residents "
    "were told to move to higher ground. There were no immediate reports of deaths.",
)
# Clustering compares headlines; paraphrases sharing few words can stay apart (measured by
# `newstalk eval stories --format uci`), so this outlet's headline names the same event terms.
QUAKE_EN_2 = (
    "Magnitude 6.8 earthquake strikes off northern Japan, tsunami warning for Hokkaido coast",
    "Japan's meteorological agency reported a 6.8 magnitude earthquake off Hokkaido on Tuesday. Authorities "
    "issued a tsunami warning along the Pacific coast, and trains were halted while engineers checked tracks.",
)
# Wire copy as another outlet runs it: re-titled, one line added (exact dedup can't catch it).
QUAKE_DAILY = (
    "Japan quake: strong tremor hits north, tsunami warning issued",
    QUAKE_EN[1] + " Reporting by our correspondent in Tokyo.",
)
QUAKE_KO = (
    "일본 홋카이도 앞바다 규모 6.8 지진…쓰나미 경보 발령",
    "화요일 오전 일본 홋카이도 앞바다에서 규모 6.8의 지진이 발생했다고 일본 기상청이 밝혔다. 태평양 연안에 쓰나미 "
    "경보가 내려졌으며 주민들에게 높은 곳으로 대피하라는 지시가 내려졌다. 아직 사망자 보고는 없다.",
)
RATES_EN = (
    "Central bank raises interest rates to 3.5% to curb inflation",
    "The central bank raised its benchmark interest rate by a quarter point to 3.5 percent on Thursday, its "
    "third increase this year, saying inflation remained too high. Markets had expected the move.",
)
RATES_KO = (
    "한국은행, 기준금리 3.5%로 인상…물가 잡기 총력",
    "한국은행이 목요일 기준금리를 0.25%포인트 올려 연 3.5%로 인상했다. 올해 들어 세 번째 인상으로, 물가 상승세가 "
    "여전히 높다는 판단에 따른 것이다. 시장은 이번 결정을 예상하고 있었다.",
)
FOOTBALL_EN = (
    "Late penalty sends City into the cup final",
    "A penalty in the 89th minute gave City a 2-1 win over United in the semi-final on Sunday, sending them "
    "to the cup final next month. The visitors had led at half-time through a header.",
)


def item(base: str, outlet: str, n: int, text: tuple[str, str], minutes: int) -> Item:
    return Item(text[0], f"{base}/{outlet}/{n}", text[1], T0 + timedelta(minutes=minutes))


@pytest.fixture
async def newsroom(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> dict[str, int]:
    base = feed_server.url("")
    feeds: Feeds = {
        "/wire.xml": ("Wire", [item(base, "wire", 1, QUAKE_EN, 0), item(base, "wire", 2, RATES_EN, 5)], "en"),
        "/daily.xml": (
            "Daily",
            [
                item(base, "daily", 1, QUAKE_DAILY, 3),
                item(base, "daily", 2, FOOTBALL_EN, 10),
            ],
            "en",
        ),
        "/times.xml": ("Times", [item(base, "times", 1, QUAKE_EN_2, 8)], "en"),
        "/hankook.xml": (
            "한국일보",
            [item(base, "hankook", 1, QUAKE_KO, 6), item(base, "hankook", 2, RATES_KO, 12)],
            "ko",
        ),
    }
    # One outlet after another, so arrival order (which incremental clustering depends on) is fixed.
    ids = await subscribe_and_collect(client, services, feed_server, admin, feeds)
    await drain_stories(services)
    return ids


async def story_of(services: Services, title: str) -> int:
    from newstalk.articles.models import Article

    async with services.db.read() as session:
        sid = await session.scalar(
            select(StoryArticle.story_id)
            .join(Article, Article.id == StoryArticle.article_id)
            .where(Article.title == title)
        )
    assert sid is not None
    return int(sid)


async def test_coverage_is_merged_across_outlets_and_languages(
    client: httpx.AsyncClient, services: Services, newsroom: dict[str, int]
) -> None:
    quake = await story_of(services, QUAKE_EN[0])
    assert await story_of(services, QUAKE_EN_2[0]) == quake
    assert await story_of(services, QUAKE_DAILY[0]) == quake
    assert await story_of(services, QUAKE_KO[0]) == quake
    rates = await story_of(services, RATES_EN[0])
    assert await story_of(services, RATES_KO[0]) == rates
    football = await story_of(services, FOOTBALL_EN[0])
    assert len({quake, rates, football}) == 3

    detail = (await client.get(f"/api/v1/stories/{quake}")).json()
    assert detail["article_count"] == 4
    assert detail["outlet_count"] == 4
    assert set(detail["languages"]) == {"en", "ko"}
    assert {c["outlet"] for c in detail["coverage"]} == {"Wire", "Daily", "Times", "한국일보"}
    copies = [t for t in detail["timeline"] if t["duplicate_of"] is not None]
    assert len(copies) == 1
    assert copies[0]["outlet"] == "Daily"
    assert 1 <= len(detail["summary"]) <= 3
    assert detail["keywords"]
    assert detail["category"] in {"world", "society"}
    assert detail["trending"]["reason"]
    reasons = detail["trending"]["reasons"]
    assert reasons["en"] == detail["trending"]["reason"]
    assert reasons["ko"]
    assert reasons["ko"] != reasons["en"]
    # Join reasons name the story by its real id, never the placeholder it had in the unit.
    joins = [t["reason"] for t in detail["timeline"] if t["reason"].startswith("joins story")]
    assert joins
    assert all(r.startswith(f"joins story {quake}:") for r in joins), joins

    listing = (await client.get("/api/v1/stories", params={"language": "ko"})).json()["items"]
    assert {s["id"] for s in listing} == {quake, rates}
    by_trend = (await client.get("/api/v1/stories", params={"sort": "trending"})).json()["items"]
    assert by_trend[0]["id"] == quake  # four outlets beat two and one
    trending = (await client.get("/api/v1/trending")).json()
    assert trending[0]["id"] == quake
    # The scheduler's periodic recompute (one query for all stories) keeps the same ranking.
    from newstalk.stories.tasks import refresh_trending

    assert await refresh_trending(services) == 3
    assert (await client.get("/api/v1/trending")).json()[0]["id"] == quake


async def test_redelivered_events_change_nothing(services: Services, newsroom: dict[str, int]) -> None:
    async with services.db.read() as session:
        before = (
            await session.scalar(select(func.count()).select_from(StoryArticle)),
            await session.scalar(select(func.count()).select_from(Story)),
        )
        article_ids = list((await session.scalars(select(ArticleFeatures.article_id))).all())
    async with services.db.unit() as uow:
        for article_id in article_ids:
            uow.emit(Event("article.ingested", None, {"article_id": article_id}, datetime.now(UTC)))
    await drain_stories(services)
    async with services.db.read() as session:
        after = (
            await session.scalar(select(func.count()).select_from(StoryArticle)),
            await session.scalar(select(func.count()).select_from(Story)),
        )
    assert after == before


async def test_editor_split_and_merge_stick(
    client: httpx.AsyncClient,
    services: Services,
    feed_server: FeedServer,
    admin: dict[str, str],
    newsroom: dict[str, int],
) -> None:
    quake = await story_of(services, QUAKE_EN[0])
    korean = (await client.get(f"/api/v1/stories/{quake}")).json()
    ko_id = next(t["article_id"] for t in korean["timeline"] if t["language"] == "ko")
    assert (
        await client.post(f"/api/v1/stories/{quake}/split", json={"article_ids": [ko_id]})
    ).status_code == 401
    split = await client.post(f"/api/v1/stories/{quake}/split", json={"article_ids": [ko_id]}, headers=admin)
    assert split.status_code == 201, split.text
    new_id = split.json()["id"]
    await drain_stories(services)  # the story.edited event refreshes both stories

    # A new quake article arrives: it joins the original story, and the split article stays out.
    base = feed_server.url("")
    more = (
        "Aftershocks rattle Hokkaido after magnitude 6.8 earthquake",
        "Several aftershocks shook Hokkaido on Wednesday, a day after a magnitude 6.8 earthquake struck off the "
        "coast of northern Japan and prompted a tsunami warning. The agency urged residents to stay alert.",
    )
    feed_server.routes["/times.xml"] = Route(
        rss("Times", [item(base, "times", 2, more, 30), item(base, "times", 1, QUAKE_EN_2, 8)])
    )
    from newstalk.sources.tasks import enqueue_due
    from tests.pipeline.test_ingest_flow import _make_due

    await _make_due(services)
    await enqueue_due(services)
    await drain(collect_worker(services))
    await drain_stories(services)
    # The follow-up may join either quake story (the split one is a translation of the same
    # report, scored close to the English one); the split article itself never goes back.
    landed = await story_of(services, more[0])
    assert landed in {quake, new_id}
    assert await story_of(services, QUAKE_KO[0]) == new_id
    counts = {
        sid: (await client.get(f"/api/v1/stories/{sid}")).json()["article_count"] for sid in (quake, new_id)
    }
    assert counts == ({quake: 4, new_id: 1} if landed == quake else {quake: 3, new_id: 2})

    # Merging the Korean story back: the kept story has everything, the other points to it.
    merged = await client.post(f"/api/v1/stories/{quake}/merge", json={"story_id": new_id}, headers=admin)
    assert merged.status_code == 200, merged.text
    await drain_stories(services)
    assert (await client.get(f"/api/v1/stories/{quake}")).json()["article_count"] == 5
    gone = (await client.get(f"/api/v1/stories/{new_id}")).json()
    assert gone["merged_into"] == quake
    again = await client.post(f"/api/v1/stories/{new_id}/merge", json={"story_id": quake}, headers=admin)
    assert again.status_code == 409
