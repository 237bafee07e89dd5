"""Live updates: the event log, fan-out between processes, and the Server-Sent Events stream.

The ``live`` pipeline stage turns ``story.updated``, ``story.checked`` and ``audio.ready``
into rows of ``live_events`` (the log SSE clients resume from; its id is the SSE id) and
webhook deliveries, in one transaction; after the commit it publishes the events. With
``NEWSTALK_REDIS_URL`` they go through Redis pub/sub to every API process; without it an
in-process broadcaster serves ``newstalk up``. Each API process also reads log rows newer
than the last it saw every ``NEWSTALK_LIVE_POLL_S``, so an event whose publish was lost
(Redis down, API and workers in separate processes without Redis) still arrives, late.

Ordering: an API process forwards an event only if its id is above the last one it
forwarded, so run one ``live`` replica (its ids then commit in order), like ``stories``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.briefings import repository as briefings_repository
from newstalk.briefings.models import STORY as STORY_SCRIPT
from newstalk.briefings.models import ScriptRecord
from newstalk.delivery import live_repository as repo
from newstalk.delivery import push
from newstalk.delivery.live_fanout import LiveMessage
from newstalk.delivery.live_models import LiveEvent
from newstalk.kit import metrics
from newstalk.kit.bus import Job
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.kit.resources import ResourceKey
from newstalk.listeners.schemas import PreferencesOut
from newstalk.pipeline import topics
from newstalk.speech.models import Audio
from newstalk.stories.models import MERGED, Story

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.pipeline.context import StageServices
    from newstalk.pipeline.worker import BatchContext, JobContext

log = logging.getLogger(__name__)

EVENT_TYPES = topics.LIVE_TOPICS
RESET = "reset"
RETRY_MS = 3000
PRUNE_EVERY_S = 300.0
_TAIL_BATCH = 500


def _fold(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.casefold() for v in values if v.strip())


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """What one stream wants: query-parameter filters, and for a listener their preferences.

    Query parameters narrow (each given list must match). Preferences, when the listener
    declared any interest, keep a story that matches at least one: a followed category,
    keyword (in the story's keywords or title) or outlet; declared languages must overlap
    the story's; muted topics drop a story they match, muted outlets one covered only by
    muted outlets. ``stories`` (the ``story`` parameter) narrows to those stories' events and
    lets them past the preferences: a client that names a story (its open page) wants every
    change to it, whatever the listener follows or mutes.
    """

    types: frozenset[str] = frozenset()
    stories: frozenset[int] = frozenset()
    categories: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    pref_categories: frozenset[str] = frozenset()
    pref_keywords: tuple[str, ...] = ()
    pref_outlets: frozenset[int] = frozenset()
    pref_languages: frozenset[str] = frozenset()
    muted_topics: tuple[str, ...] = ()
    muted_outlets: frozenset[int] = frozenset()

    @classmethod
    def build(
        cls,
        *,
        types: Sequence[str] = (),
        categories: Sequence[str] = (),
        languages: Sequence[str] = (),
        keywords: Sequence[str] = (),
        stories: Sequence[int] = (),
        preferences: PreferencesOut | None = None,
    ) -> StreamFilter:
        p = preferences
        return cls(
            types=frozenset(types),
            stories=frozenset(stories),
            categories=frozenset(c.lower() for c in categories),
            languages=frozenset(lang.lower() for lang in languages),
            keywords=_fold(keywords),
            pref_categories=frozenset(p.categories) if p else frozenset(),
            pref_keywords=_fold(p.keywords) if p else (),
            pref_outlets=frozenset(p.outlets) if p else frozenset(),
            pref_languages=frozenset(p.languages) if p else frozenset(),
            muted_topics=_fold(p.muted_topics) if p else (),
            muted_outlets=frozenset(p.muted_outlets) if p else frozenset(),
        )

    def matches(self, msg: LiveMessage) -> bool:
        if self.types and msg.type not in self.types:
            return False
        if self.stories and msg.story_id not in self.stories:
            return False
        if self.categories and msg.category not in self.categories:
            return False
        if self.languages and not self.languages & set(msg.languages):
            return False
        topics = {k.casefold() for k in msg.keywords}
        title = msg.title.casefold()

        def mentions(term: str) -> bool:
            return term in topics or term in title or term == (msg.category or "")

        if self.keywords and not any(mentions(k) for k in self.keywords):
            return False
        if self.stories:
            return True  # asked for by id: the listener's preferences do not apply
        if self.pref_languages and msg.languages and not self.pref_languages & set(msg.languages):
            return False
        if any(mentions(t) for t in self.muted_topics):
            return False
        if msg.source_ids and self.muted_outlets and set(msg.source_ids) <= self.muted_outlets:
            return False
        if self.pref_categories or self.pref_keywords or self.pref_outlets:
            return (
                msg.category in self.pref_categories
                or any(mentions(k) for k in self.pref_keywords)
                or bool(self.pref_outlets & set(msg.source_ids))
            )
        return True


# Writing the log (the live stage)


def _story_brief(story: Story, version: int) -> dict[str, Any]:
    return {
        "id": story.id,
        "version": version,
        "title": story.title,
        "category": story.category,
        "languages": list(story.languages),
        "keywords": list(story.keywords),
        "article_count": story.article_count,
        "outlet_count": story.outlet_count,
        "trending_score": story.trending_score,
        "last_seen_at": story.last_seen_at.isoformat(),
        "url": f"/api/v1/stories/{story.id}",
    }


async def _payload_for(session: AsyncSession, job: Job) -> tuple[Story, dict[str, Any]] | None:
    """The story an event is about and what clients are told; None when there is nothing to say."""
    p = job.payload
    if job.topic == topics.AUDIO_READY:
        audio = await session.get(Audio, str(p["audio_id"]))
        script = await session.get(ScriptRecord, audio.script_id) if audio is not None else None
        # Only story audio is announced: on-demand text and daily briefings are someone's own.
        if audio is None or script is None or script.kind != STORY_SCRIPT or script.story_id is None:
            return None
        story = await session.get(Story, script.story_id)
        if story is None or story.status == MERGED:
            return None
        base = f"/api/v1/audio/{audio.id}"
        first = await briefings_repository.is_first_edition(session, script)
        return story, {
            "story": _story_brief(
                story, int(p.get("story_version") or script.story_version or story.version)
            ),
            "audio": {
                "id": audio.id,
                "lang": audio.lang,
                "characters": list(audio.speakers),
                "duration_s": audio.duration_s,
                # "first": the short first edition of this version; its "full" script follows.
                "edition": "first" if first else "full",
                "url": f"{base}.opus",
                "mp3_url": f"{base}.mp3",
                "transcript_url": f"{base}/transcript.vtt",
                "status_url": f"/api/v1/voice/{audio.id}",
            },
        }
    story = await session.get(Story, int(p["story_id"]))
    if story is None or story.status == MERGED:
        return None
    version = int(p.get("version") or story.version)
    if job.topic == topics.STORY_UPDATED:
        # A newer version's own event follows; announcing every step of a burst helps nobody.
        if story.version > version:
            return None
        new = not await repo.story_was_announced(session, story.id, topics.STORY_UPDATED)
        return story, {"story": _story_brief(story, version), "new": new}
    verdicts = {str(k): int(v) for k, v in dict(p.get("verdicts") or {}).items()}
    return story, {
        "story": _story_brief(story, version),
        "check": {
            "version": version,
            "claims": int(p.get("claims") or 0),
            "verdicts": verdicts,
            "url": f"/api/v1/stories/{story.id}/factcheck",
        },
    }


async def record_event(uow: UnitOfWork, job: Job) -> LiveMessage | None:
    """Write the log row (and webhook deliveries) for one pipeline event; a redelivery writes nothing."""
    from newstalk.delivery.webhooks import enqueue_deliveries

    session = uow.session
    key = f"{job.topic}:{job.key or f'job:{job.id}'}"[:160]
    if await repo.event_by_key(session, key) is not None:
        return None
    found = await _payload_for(session, job)
    if found is None:
        return None
    story, payload = found
    row = LiveEvent(
        dedup_key=key,
        type=job.topic,
        story_id=story.id,
        category=story.category,
        languages=list(story.languages),
        keywords=list(story.keywords),
        source_ids=await repo.story_outlets(session, story.id),
        payload=payload,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    msg = LiveMessage.from_row(row)
    await enqueue_deliveries(uow, msg)
    metrics.LIVE_EVENTS.labels(job.topic).inc()
    return msg


async def publish(services: StageServices, messages: Sequence[LiveMessage]) -> None:
    """Tell every API process; a failure only delays clients until their process reads the log."""
    if not messages:
        return
    try:
        await services.broadcaster.publish(messages)
    except Exception as exc:
        metrics.LIVE_PUBLISH_ERRORS.inc(len(messages))
        log.warning(
            "live: could not publish %d events (%s); clients get them from the log", len(messages), exc
        )


async def prune(services: StageServices) -> int:
    """Drop log rows past retention (or the row cap), finished webhook deliveries past theirs and
    webhooks' previous signing secrets past their overlap (these are not counted)."""
    settings = services.settings
    now = utcnow()
    async with services.db.unit() as uow:
        events = await repo.prune_events(
            uow.session,
            before=now - timedelta(hours=settings.live_retention_h),
            max_rows=settings.live_log_max_rows,
        )
        deliveries = await repo.prune_deliveries(
            uow.session, before=now - timedelta(days=settings.webhook_log_retention_days)
        )
        await repo.drop_expired_secrets(uow.session, now=now)
    return events + deliveries


@dataclass
class LiveState:
    """What the live stage remembers in this process between jobs."""

    # When the event log was last pruned (monotonic seconds); -inf: never.
    pruned_at: float = float("-inf")


LIVE_STATE: ResourceKey[LiveState] = ResourceKey("live")


async def _maybe_prune(services: StageServices) -> None:
    state = services.resources.get_or_build(LIVE_STATE, LiveState)
    if time.monotonic() - state.pruned_at < PRUNE_EVERY_S:
        return
    state.pruned_at = time.monotonic()
    try:
        removed = await prune(services)
    except Exception as exc:
        log.warning("live: pruning the event log failed (%s); trying again in %.0f s", exc, PRUNE_EVERY_S)
        return
    if removed:
        log.info("live: pruned %d old events and webhook deliveries", removed)


async def handle_live(ctx: JobContext) -> None:
    """The live stage, one job: log the event, then publish it after the commit."""
    async with ctx.commit() as uow:
        msg = await record_event(uow, ctx.job)
    await publish(ctx.services, [msg] if msg else [])
    await push.notify(ctx.services, [msg] if msg else [])
    await _maybe_prune(ctx.services)


async def handle_live_batch(ctx: BatchContext) -> None:
    """The live stage, a batch in one transaction (events keep the batch's order)."""
    messages: list[LiveMessage] = []
    async with ctx.commit() as uow:
        for job in ctx.jobs:
            msg = await record_event(uow, job)
            if msg is not None:
                messages.append(msg)
    await publish(ctx.services, messages)
    await push.notify(ctx.services, messages)
    await _maybe_prune(ctx.services)


# The SSE side (API processes)

_STOP = None


@dataclass(eq=False)
class Subscription:
    """One open stream's buffer; a client too slow to keep up is cut off and resumes from the log."""

    filter: StreamFilter
    queue: asyncio.Queue[LiveMessage | None]
    owner: str = ""
    overflowed: bool = False

    def push(self, message: LiveMessage | None) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(_STOP)


@dataclass
class LiveHub:
    """Per API process: receives events (broadcaster and log tail) and hands them to open streams."""

    services: StageServices
    subscriptions: set[Subscription] = field(default_factory=set)
    owners: Counter[str] = field(default_factory=Counter)
    last_id: int = 0
    stopping: bool = False
    _started: bool = False
    _unsubscribe: Callable[[], None] | None = None
    _tail: asyncio.Task[None] | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Subscribe to the broadcaster and start tailing the log, once, on the first stream."""
        if self._started:
            return
        self._started = True
        self._loop = asyncio.get_running_loop()
        async with self.services.db.read() as session:
            _, newest = await repo.log_bounds(session)
        self.last_id = max(self.last_id, newest or 0)
        self._unsubscribe = self.services.broadcaster.subscribe(self.dispatch)
        if self.services.settings.live_poll_s > 0:
            self._tail = asyncio.create_task(self._tail_log(), name="live-log-tail")

    def dispatch(self, message: LiveMessage) -> None:
        if message.id <= self.last_id:
            return
        self.last_id = message.id
        for sub in list(self.subscriptions):
            sub.push(message)

    async def _tail_log(self) -> None:
        interval = self.services.settings.live_poll_s
        while not self.stopping:
            await asyncio.sleep(interval)
            if not self.subscriptions:
                continue
            try:
                async with self.services.db.read() as session:
                    rows = await repo.events_after(session, self.last_id, _TAIL_BATCH)
            except Exception as exc:
                log.warning("live: reading the event log failed (%s)", exc)
                continue
            for row in rows:
                self.dispatch(LiveMessage.from_row(row))

    def subscribe(self, flt: StreamFilter, owner: str = "") -> Subscription:
        sub = Subscription(flt, asyncio.Queue(maxsize=self.services.settings.live_queue_size), owner)
        self.subscriptions.add(sub)
        self.owners[owner] += 1
        metrics.LIVE_STREAMS.set(len(self.subscriptions))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self.subscriptions:
            self.subscriptions.discard(sub)
            self.owners[sub.owner] -= 1
            if self.owners[sub.owner] <= 0:
                del self.owners[sub.owner]
        metrics.LIVE_STREAMS.set(len(self.subscriptions))

    def refusal(self, owner: str) -> str | None:
        """Why a new stream for ``owner`` is refused (caps from settings), or None to open it.

        Checked before the response starts; counted when the stream subscribes, so a burst of
        simultaneous opens may pass by a few (the route's rate limit bounds the burst).
        """
        settings = self.services.settings
        if len(self.subscriptions) >= settings.live_max_streams:
            return f"live: this server has {settings.live_max_streams} open streams; retry shortly"
        if self.owners[owner] >= settings.live_max_streams_per_caller:
            return (
                f"live: {settings.live_max_streams_per_caller} streams are already open for you; "
                "close one first"
            )
        return None

    def stop_streams(self) -> None:
        """End every open stream now (server shutdown); clients reconnect elsewhere and resume."""
        self.stopping = True
        for sub in list(self.subscriptions):
            sub.overflowed = False
            sub.push(_STOP)

    def request_stop(self) -> None:
        """``stop_streams`` from a signal handler or another thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.stop_streams)
        else:
            self.stopping = True

    async def aclose(self) -> None:
        self.stop_streams()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._tail is not None:
            self._tail.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tail


def sse(event: str | None, data: dict[str, Any] | None, *, event_id: int | None = None) -> bytes:
    """One SSE block; data is one line of JSON."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
    if data is not None:
        lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


@dataclass(frozen=True, slots=True)
class Replay:
    messages: list[LiveMessage]
    reset_to: int | None  # set: the client must refetch; continue from this id
    reason: str = ""


async def replay(session: AsyncSession, settings: Settings, after_id: int) -> Replay:
    """What a client that last saw ``after_id`` missed, or a reset when the log can't say."""
    oldest, newest = await repo.log_bounds(session)
    if newest is None:
        if after_id > 0:
            return Replay([], 0, "the event log is empty; your id is from another log")
        return Replay([], None)
    if after_id > newest:
        return Replay([], newest, f"event {after_id} is not in the log (newest is {newest})")
    assert oldest is not None
    if after_id < oldest - 1:
        return Replay(
            [],
            newest,
            f"events after {after_id} were pruned (kept: {settings.live_retention_h} h, "
            f"at most {settings.live_log_max_rows} events)",
        )
    rows = await repo.events_after(session, after_id, settings.live_replay_max + 1)
    if len(rows) > settings.live_replay_max:
        return Replay([], newest, f"more than {settings.live_replay_max} events were missed")
    return Replay([LiveMessage.from_row(r) for r in rows], None)


async def stream(
    hub: LiveHub, flt: StreamFilter, resume_from: int | None, owner: str = ""
) -> AsyncIterator[bytes]:
    """The SSE body: replay (or reset), then live events and heartbeats until the client or server leaves.

    Heartbeats are comments; when events were filtered out since the last one sent, the
    heartbeat also carries ``id:`` (with no data, so no event fires) so a reconnect
    resumes after them instead of replaying them again.
    """
    services = hub.services
    settings = services.settings
    await hub.start()
    sub = hub.subscribe(flt, owner)
    # Read with the subscription (no await between): events after this id are in our queue.
    position = sent = hub.last_id
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
        if resume_from is not None:
            async with services.db.read() as session:
                missed = await replay(session, settings, resume_from)
            if missed.reset_to is not None:
                position = sent = missed.reset_to
                yield sse(
                    RESET,
                    {"reason": missed.reason, "last_event_id": missed.reset_to, "refetch": "/api/v1/stories"},
                    event_id=missed.reset_to,
                )
            else:
                position = sent = resume_from
                for msg in missed.messages:
                    position = msg.id
                    if flt.matches(msg):
                        sent = msg.id
                        yield sse(msg.type, msg.data, event_id=msg.id)
        while not hub.stopping:
            try:
                item = await asyncio.wait_for(sub.queue.get(), timeout=settings.live_heartbeat_s)
            except TimeoutError:
                if position > sent:
                    sent = position
                    yield f": keep-alive\nid: {position}\n\n".encode()
                else:
                    yield b": keep-alive\n\n"
                continue
            if item is None:
                break
            if item.id <= position:
                continue
            position = item.id
            if flt.matches(item):
                sent = item.id
                yield sse(item.type, item.data, event_id=item.id)
    finally:
        hub.unsubscribe(sub)
