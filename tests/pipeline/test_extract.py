"""Summary-only sources: the extract stage replaces the summary with the page's full text."""

from __future__ import annotations

import httpx
import pytest

from newstalk.pipeline.stages import all_stages
from newstalk.pipeline.worker import StageWorker
from newstalk.runtime import Services
from tests.pipeline.test_ingest_flow import collect_worker, drain
from tests.support.feedserver import FeedServer, Route, items, rss

pytestmark = pytest.mark.anyio

PARAGRAPHS = [
    "The harbour authority confirmed on Monday that the new ferry terminal will open in the spring, "
    "after two years of construction and a long public consultation about its design.",
    "Officials said the terminal can handle twelve departures an hour, double the old building, and that "
    "the waiting hall was designed around step-free access and natural light.",
    "Local businesses welcomed the news, saying that the delays had cost them visitors during the summer, "
    "while residents asked for more bicycle parking near the entrance.",
]


def article_page(title: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f"<html><head><title>{title}</title></head><body><nav>Home | World | Sport</nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>Copyright footer text</footer></body></html>"
    ).encode()


async def test_summary_only_source_gets_full_text(
    client: httpx.AsyncClient, services: Services, feed_server: FeedServer, admin: dict[str, str]
) -> None:
    entries = items("harbour", 2, base_url=feed_server.url(""))
    feed_server.routes["/summary.xml"] = Route(rss("Summaries", entries))
    for e in entries:
        path = e.link.removeprefix(feed_server.url(""))
        feed_server.routes[path] = Route(article_page(e.title), "text/html; charset=utf-8")
    created = await client.post(
        "/api/v1/sources", json={"url": feed_server.url("/summary.xml"), "full_text": True}, headers=admin
    )
    assert created.status_code == 201
    await drain(collect_worker(services))
    extract = next(s for s in all_stages(services.settings) if s.name == "extract")
    assert await drain(StageWorker(services, extract)) == 2

    news = (await client.get("/api/v1/news")).json()["items"]
    for item in news:
        full = (await client.get(f"/api/v1/news/{item['id']}")).json()
        assert full["full_text_extracted"] is True
        assert PARAGRAPHS[1][:60] in full["content_text"]
        assert "Copyright footer" not in full["content_text"]
