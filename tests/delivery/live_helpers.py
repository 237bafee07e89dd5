"""Helpers for the live-update and webhook tests: stories in the database, the pipeline's
events through the real queue and stages, the app on a real port, and an SSE reader."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.kit.bus import Event
from newstalk.kit.db import utcnow
from newstalk.pipeline.stages import all_stages
from newstalk.pipeline.topics import STORY_UPDATED as UPDATED_TOPIC
from newstalk.pipeline.worker import StageWorker
from newstalk.runtime import Services
from newstalk.sources.models import Source
from newstalk.stories.models import Story, StoryArticle

SSE_ACCEPT = {"Accept": "text/event-stream"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def make_source(services: Services, title: str) -> int:
    now = utcnow()
    async with services.db.unit() as uow:
        src = Source(
            feed_url=f"https://{uuid.uuid4().hex[:8]}.example.org/feed.xml",
            title=title,
            fetch_interval_s=900,
            next_fetch_at=now,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(src)
        await uow.session.flush()
        return src.id


async def make_story(
    services: Services,
    title: str,
    *,
    category: str = "economy",
    languages: Sequence[str] = ("en",),
    keywords: Sequence[str] = (),
    source_ids: Sequence[int] = (),
    version: int = 1,
) -> int:
    """A story covered by one article from each given source."""
    now = utcnow()
    async with services.db.unit() as uow:
        story = Story(
            title=title,
            category=category,
            languages=list(languages),
            keywords=list(keywords),
            article_count=len(source_ids),
            outlet_count=len(source_ids),
            first_seen_at=now,
            last_seen_at=now,
            version=version,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(story)
        await uow.session.flush()
        for sid in source_ids:
            tag = uuid.uuid4().hex
            article = Article(
                source_id=sid,
                url=f"https://example.org/{tag}",
                content_hash=tag + tag,
                title=title,
                language=languages[0],
                published_at=now,
                first_seen_at=now,
                stored_at=now,
            )
            uow.session.add(article)
            await uow.session.flush()
            uow.session.add(StoryArticle(article_id=article.id, story_id=story.id, added_at=now))
        return story.id


async def emit(services: Services, *events: Event) -> None:
    async with services.db.unit() as uow:
        for event in events:
            uow.emit(event)


def story_updated(story_id: int, version: int = 1) -> Event:
    """The event the stories stage emits (same topic, key and payload)."""
    return Event(
        UPDATED_TOPIC,
        f"story:{story_id}:{version}",
        {"story_id": story_id, "version": version, "article_count": 1},
        utcnow(),
    )


async def run_stage(services: Services, name: str) -> int:
    """Run one stage's worker until its ready jobs are done; returns how many it handled."""
    stage = next(s for s in all_stages(services.settings) if s.name == name)
    worker = StageWorker(services, stage)
    total = 0
    while handled := await worker.run_once():
        total += handled
    return total


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    """The app behind a real uvicorn on 127.0.0.1 (httpx's ASGI transport buffers whole bodies)."""
    from newstalk.main import create_app

    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        app.state.live.stop_streams()
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@dataclass
class SSE:
    event: str | None
    id: str | None
    data: Any


@dataclass
class SSEReader:
    """Parses a text/event-stream response as it arrives; keeps comments and id-only blocks too."""

    response: httpx.Response
    lines: AsyncIterator[str] | None = None
    comments: list[str] = field(default_factory=list)
    ids_without_event: list[str] = field(default_factory=list)

    async def next(self, wait_s: float = 10.0) -> SSE:
        """The next dispatched event (one with data)."""
        if self.lines is None:
            self.lines = self.response.aiter_lines()
        return await asyncio.wait_for(self._next(), wait_s)

    async def _next(self) -> SSE:
        assert self.lines is not None
        event: str | None = None
        event_id: str | None = None
        data: list[str] = []
        async for line in self.lines:
            if line == "":
                if data:
                    return SSE(event, event_id, json.loads("\n".join(data)))
                if event_id is not None:
                    self.ids_without_event.append(event_id)
                event, event_id, data = None, None, []
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                self.comments.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                event_id = value
            elif name == "data":
                data.append(value)
        raise EOFError("the stream ended")

    async def ready(self, wait_s: float = 10.0) -> None:
        """Wait for the stream's opening comment: from then on the server buffers our events."""
        if self.lines is None:
            self.lines = self.response.aiter_lines()

        async def opening() -> None:
            assert self.lines is not None
            async for line in self.lines:
                if line == ": connected":
                    return
            raise EOFError("the stream ended before it opened")

        await asyncio.wait_for(opening(), wait_s)

    async def expect_end(self, wait_s: float = 10.0) -> None:
        """The server closes the stream (no further event)."""
        with contextlib.suppress(EOFError):
            event = await self.next(wait_s)
            raise AssertionError(f"expected the stream to end, got {event}")
