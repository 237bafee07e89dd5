"""Search end to end: feeds → collect → stories → search stage → GET /api/v1/search, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update

from newstalk.articles.models import Article
from newstalk.runtime import Services
from newstalk.search import service
from newstalk.search.models import SearchDoc
from newstalk.stories.models import MERGED, Story, StoryArticle
from tests.pipeline.test_ingest_flow import drain
from tests.support.feedserver import FeedServer, Item
from tests.support.newsroom import Feeds, drain_stories, stage_worker, subscribe_and_collect

pytestmark = pytest.mark.anyio

T0 = datetime.now(UTC) - timedelta(hours=3)

QUAKE_EN = (
    "Strong earthquake hits northern Japan, tsunami warning issued",
    "A magnitude 6.8 earthquake struck off the coast of Hokkaido in northern Japan on Tuesday morning, "
    "the Japan Meteorological Agency said. A tsunami warning was issued for the Pacific coast.",
)
CHIPS_EN = (
    "Samsung Electronics reports record semiconductor profit",
    "Samsung Electronics said its quarterly operating profit hit a record as memory chip prices rose. "
    "The company's elections of new board members were also announced.",
)
CHIPS_KO = (
    "삼성전자가 반도체 호황에 사상 최대 실적을 냈다",
    "삼성전자가 메모리 반도체 가격 상승에 힘입어 분기 영업이익 사상 최대치를 기록했다고 밝혔다.",
)
CAFE_EN = (
    "Café owners in Montréal protest new rent rules",
    "Owners of cafés across Montréal closed for an hour on Friday to protest rent increases.",
)
VOTE_EN = (
    "Voters head to the polls as national election begins",
    "Millions of voters cast ballots on Sunday in a national election seen as a referendum on the economy.",
)


def item(base: str, outlet: str, n: int, text_: tuple[str, str], minutes: int) -> Item:
    return Item(text_[0], f"{base}/{outlet}/{n}", text_[1], T0 + timedelta(minutes=minutes))


@pytest.fixture
async def newsroom(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> dict[str, int]:
    base = feed_server.url("")
    feeds: Feeds = {
        "/wire.xml": ("Wire", [item(base, "wire", 1, QUAKE_EN, 0), item(base, "wire", 2, CHIPS_EN, 5)], "en"),
        "/daily.xml": (
            "Daily",
            [item(base, "daily", 1, CAFE_EN, 3), item(base, "daily", 2, VOTE_EN, 10)],
            "en",
        ),
        "/hankook.xml": ("한국일보", [item(base, "hankook", 1, CHIPS_KO, 6)], "ko"),
    }
    return await subscribe_and_collect(client, services, feed_server, admin, feeds)


async def search(client: httpx.AsyncClient, q: str, **params: Any) -> dict[str, Any]:
    resp = await client.get("/api/v1/search", params={"q": q, **params})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def titles(page: dict[str, Any]) -> list[str]:
    return [hit["title"] for hit in page["items"]]


async def test_articles_are_searchable_as_soon_as_ingested_then_stories_follow(
    client: httpx.AsyncClient, services: Services, newsroom: dict[str, int]
) -> None:
    # The search stage runs before the stories stage here: words first, no vectors yet.
    assert await drain(stage_worker(services, "search")) == 5
    page = await search(client, "삼성전자", mode="text")
    assert titles(page) == [CHIPS_KO[0]]
    hit = page["items"][0]
    assert hit["type"] == "article"
    assert hit["outlet"] == "한국일보"
    assert hit["matched"] == ["text"]
    start, end = hit["title_highlights"][0]
    assert hit["title"][start:end] == "삼성전자가"  # the particle does not break the match
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).where(SearchDoc.has_vector.is_(True))) == 0

    await drain_stories(services)
    await drain(stage_worker(services, "search"))
    async with services.db.read() as session:
        docs = (await session.scalars(select(SearchDoc))).all()
    assert {d.kind for d in docs} == {"article", "story"}
    assert all(d.has_vector for d in docs)
    assert all(d.category for d in docs if d.kind == "article")  # copied from their stories

    stories = await search(client, "Samsung semiconductor profit", mode="text", type="stories")
    assert stories["items"]
    assert all(h["type"] == "story" for h in stories["items"])
    summary = stories["items"][0]["story"]
    for key in (
        "id",
        "title",
        "summary",
        "category",
        "languages",
        "article_count",
        "outlet_count",
        "trending",
    ):
        assert key in summary


async def test_korean_english_stemming_accents_and_semantics(
    client: httpx.AsyncClient, services: Services, newsroom: dict[str, int]
) -> None:
    await drain_stories(services)
    await drain(stage_worker(services, "search"))

    # English is stemmed and accent-folded.
    assert titles(await search(client, "elections", mode="text", type="articles")) == [
        VOTE_EN[0],
        CHIPS_EN[0],
    ]
    assert titles(await search(client, "CAFE montreal", mode="text", type="articles")) == [CAFE_EN[0]]
    # Korean particles and endings are gone on both sides.
    assert CHIPS_KO[0] in titles(await search(client, "삼성전자는 반도체를", mode="text", type="articles"))

    # A Korean query finds the English earthquake report by meaning alone (no shared word).
    semantic = await search(client, "일본 지진 쓰나미 경보", mode="semantic", type="articles", limit=1)
    assert titles(semantic) == [QUAKE_EN[0]]
    assert semantic["items"][0]["matched"] == ["semantic"]
    assert (await search(client, "일본 지진 쓰나미 경보", mode="text", type="articles"))["items"] == []

    # Hybrid: a document both retrievers found outranks one found by only one of them.
    hybrid = await search(client, "Samsung chips", type="articles")
    assert hybrid["items"][0]["title"] == CHIPS_EN[0]
    assert hybrid["items"][0]["matched"] == ["text", "semantic"]
    scores = [h["score"] for h in hybrid["items"]]
    assert scores == sorted(scores, reverse=True)


async def test_filters_and_pages(
    client: httpx.AsyncClient, services: Services, newsroom: dict[str, int]
) -> None:
    await drain_stories(services)
    await drain(stage_worker(services, "search"))
    for mode in ("text", "semantic", "hybrid"):
        ko = await search(client, "삼성 반도체 실적 Samsung", mode=mode, language="ko")
        assert ko["items"]
        assert all(h["language"] == "ko" or "ko" in h["story"]["languages"] for h in ko["items"])
        wire = await search(client, "Samsung earthquake election", mode=mode, source_id=newsroom["Wire"])
        for h in wire["items"]:
            if h["type"] == "article":
                assert h["source_id"] == newsroom["Wire"]
            else:
                assert h["title"] in (QUAKE_EN[0], CHIPS_EN[0], CHIPS_KO[0])
        future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        assert (await search(client, "Samsung", mode=mode, since=future))["items"] == []
        assert (await search(client, "Samsung", mode=mode, until=(T0 - timedelta(minutes=1)).isoformat()))[
            "items"
        ] == []
        stories = await search(client, "Samsung", mode=mode, type="stories")
        category = stories["items"][0]["story"]["category"]
        assert (await search(client, "Samsung", mode=mode, category=category))["items"]

    first = await search(client, "news", mode="semantic", limit=2)
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = await search(client, "news", mode="semantic", limit=2, cursor=first["next_cursor"])
    seen = [(h["type"], h["id"]) for h in first["items"] + second["items"]]
    assert len(second["items"]) == 2
    assert len(set(seen)) == 4


async def test_a_merged_story_is_never_shown(
    client: httpx.AsyncClient, services: Services, newsroom: dict[str, int]
) -> None:
    await drain_stories(services)
    await drain(stage_worker(services, "search"))
    hits = (await search(client, "Samsung semiconductor profit", mode="text", type="stories"))["items"]
    assert hits
    gone = hits[0]["id"]
    # The index still holds the row until the search stage catches up; the page re-read drops it.
    async with services.db.unit() as uow:
        await uow.session.execute(update(Story).where(Story.id == gone).values(status=MERGED))
    for mode in ("text", "hybrid"):
        page = await search(client, "Samsung semiconductor profit", mode=mode, type="stories")
        assert gone not in [h["id"] for h in page["items"]]


async def test_deleting_an_article_removes_it_from_the_index(
    client: httpx.AsyncClient, services: Services, newsroom: dict[str, int], admin: dict[str, str]
) -> None:
    await drain_stories(services)
    await drain(stage_worker(services, "search"))
    hit = (await search(client, "Montreal cafe rent", mode="text", type="articles"))["items"][0]
    assert (await search(client, "Montreal cafe rent", mode="semantic", type="articles"))["items"][0][
        "id"
    ] == hit["id"]
    async with services.db.read() as session:
        doc_id = await session.scalar(select(SearchDoc.id).where(SearchDoc.article_id == hit["id"]))
    resp = await client.delete(f"/api/v1/news/{hit['id']}", headers=admin)
    assert resp.status_code == 204
    async with services.db.read() as session:
        assert await session.scalar(select(func.count()).where(SearchDoc.article_id == hit["id"])) == 0
        if session.get_bind().dialect.name == "sqlite":
            # The FTS5 table forgot it too (the trigger ran on the cascade delete).
            matches = await session.scalars(
                text("SELECT rowid FROM search_fts WHERE search_fts MATCH 'montreal'")
            )
            assert doc_id not in set(matches.all())
    # Text search forgets it at once; the vector matrix still holds it, the database check drops it.
    assert (await search(client, "Montreal cafe rent", mode="text", type="articles"))["items"] == []
    semantic = await search(client, "Montreal cafe rent", mode="semantic", type="articles")
    assert hit["id"] not in [h["id"] for h in semantic["items"]]
    index = await service.refresh_vectors(services, full=True)
    async with services.db.read() as session:
        assert len(index) == await session.scalar(select(func.count()).select_from(SearchDoc))


async def test_reindex_rebuilds_the_same_index(services: Services, newsroom: dict[str, int]) -> None:
    await drain_stories(services)
    await drain(stage_worker(services, "search"))
    async with services.db.read() as session:
        before = {
            (d.kind, d.article_id, d.story_id, d.terms)
            for d in (await session.scalars(select(SearchDoc))).all()
        }
        articles = await session.scalar(select(func.count()).select_from(Article))
        stories = await session.scalar(select(func.count(func.distinct(StoryArticle.story_id))))
    seen: list[tuple[str, int, int]] = []
    written = await service.reindex(services.db, batch=2, progress=lambda w, d, t, _e: seen.append((w, d, t)))
    assert written == articles + stories
    assert seen[-1] == ("stories", stories, stories)
    assert ("articles", articles, articles) in seen
    async with services.db.read() as session:
        after = {
            (d.kind, d.article_id, d.story_id, d.terms)
            for d in (await session.scalars(select(SearchDoc))).all()
        }
    assert after == before
