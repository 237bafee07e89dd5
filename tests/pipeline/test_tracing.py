"""One article from an API request through collect, stories, factcheck, briefings and speech is one trace."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from newstalk.config import Settings
from newstalk.kit import tracing
from newstalk.runtime import Services
from tests.conftest import make_settings
from tests.pipeline.test_ingest_flow import drain
from tests.support.feedserver import FeedServer, Route, items, rss
from tests.support.newsroom import stage_worker

pytestmark = pytest.mark.anyio

STAGES = ("collect", "embed", "stories", "factcheck", "briefings", "speech")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, audio_dir=str(tmp_path / "audio"), briefings_debounce_s=0, briefings_factcheck_grace_s=0
    )


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    tracing.use_provider(provider)
    try:
        yield spans
    finally:
        tracing.shutdown()


async def test_one_article_is_one_trace_from_the_api_to_audio(
    client: httpx.AsyncClient,
    services: Services,
    feed_server: FeedServer,
    admin: dict[str, str],
    exporter: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    [article] = items("springfield", 1, base_url=feed_server.url(""))
    feed_server.routes["/one.xml"] = Route(rss("Springfield News", [article]))
    resp = await client.post(
        "/api/v1/sources",
        json={"url": feed_server.url("/one.xml")},
        headers={**admin, "X-Request-ID": "subscribe-1"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.headers["x-request-id"] == "subscribe-1"
    with caplog.at_level(logging.DEBUG, logger="newstalk.pipeline.worker"):
        for name in STAGES:
            assert await drain(stage_worker(services, name)) >= 1, name
    audio = (await client.get("/api/v1/news", params={"limit": 5})).json()["items"]
    assert [a["title"] for a in audio] == [article.title]

    spans: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    request = next(s for s in spans if s.name == "POST /api/v1/sources")
    trace_id = request.context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    stages = {
        str(s.attributes["newstalk.stage"])
        for s in in_trace
        if s.attributes and "newstalk.stage" in s.attributes
    }
    assert set(STAGES) <= stages
    # Every span of the trace hangs under another one of it, up to the API request.
    by_id = {s.context.span_id: s for s in in_trace}
    for s in in_trace:
        if s is request:
            assert s.parent is None
        else:
            assert s.parent is not None, s.name
            assert s.parent.span_id in by_id, s.name
    speech = next(s for s in in_trace if s.name.startswith("speech "))
    hops = 0
    node: ReadableSpan | None = speech
    while node is not None and node.parent is not None:
        node, hops = by_id[node.parent.span_id], hops + 1
    assert node is request
    assert hops >= 5

    # The stages' log lines carry the request id that queued the work, their job and event ids.
    done = [
        r for r in caplog.records if r.getMessage().startswith("pipeline: ") and " done in " in r.getMessage()
    ]
    fields = [r.newstalk for r in done]  # type: ignore[attr-defined]
    collect = next(f for f in fields if f["stage"] == "collect")
    assert collect["request_id"] == "subscribe-1"
    assert collect["trace_id"] == format(trace_id, "032x")
    assert {"job_id", "event_id"} <= set(collect)
    assert {f["stage"] for f in fields if f.get("trace_id") == format(trace_id, "032x")} >= {"speech"}
