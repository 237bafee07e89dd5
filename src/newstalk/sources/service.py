"""Decisions about sources: adding (with autodiscovery), updating, polling outcomes, OPML."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.config import Settings
from newstalk.errors import Conflict, FeedParseError, FetchError, InvalidInput, NotFound
from newstalk.ingestion.parse import parse_feed
from newstalk.ingestion.types import ParsedFeed
from newstalk.ingestion.urls import canonicalize_url
from newstalk.kit.bus import Event
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.kit.http import Fetcher
from newstalk.pipeline import topics
from newstalk.sources import repository, schedule
from newstalk.sources.discovery import discover_feeds, looks_like_feed
from newstalk.sources.models import ACTIVE, PAUSED, Source
from newstalk.sources.opml import OpmlOutline

log = logging.getLogger(__name__)

HELD_BACK = "held-back"
# A source whose new items the collect caps held back is polled again this soon (or sooner).
HELD_BACK_RETRY_S = 300


def poll_event(source_id: int, now: datetime) -> Event:
    """The event asking the collect stage to poll one source; one pending per source."""
    return Event(
        topic=topics.SOURCE_POLL,
        key=f"source:{source_id}",
        payload=topics.SourceRef(source_id=source_id),
        first_seen_at=now,
    )


def websub_event(source_id: int, now: datetime) -> Event:
    """The event asking the websub stage to (re)subscribe one source; one pending per source."""
    return Event(topics.SOURCE_WEBSUB, f"websub:{source_id}", topics.SourceRef(source_id=source_id), now)


@dataclass(frozen=True, slots=True)
class ResolvedFeed:
    feed_url: str
    feed: ParsedFeed


async def resolve_feed(fetcher: Fetcher, url: str) -> ResolvedFeed:
    """Find the feed behind a URL: the URL itself, or the first feed a web page links to."""
    result = await fetcher.fetch(url)
    if looks_like_feed(result.body, result.content_type):
        return ResolvedFeed(
            result.permanent_url or url,
            parse_feed(result.body, url=result.url, content_type=result.content_type),
        )
    candidates = discover_feeds(result.body, result.url)
    if not candidates:
        raise InvalidInput(
            f'sources: {url} is neither a feed nor a page that links to one (<link rel="alternate">)'
        )
    errors = []
    for candidate in candidates[:3]:
        try:
            found = await fetcher.fetch(candidate.url)
            feed = parse_feed(found.body, url=found.url, content_type=found.content_type)
        except (FetchError, FeedParseError) as exc:
            errors.append(exc.detail)
            continue
        return ResolvedFeed(found.permanent_url or candidate.url, feed)
    raise InvalidInput(f"sources: {url} links to feeds that could not be read: {'; '.join(errors)}")


async def add_source(
    uow: UnitOfWork,
    settings: Settings,
    fetcher: Fetcher | None,
    *,
    url: str,
    title: str | None = None,
    category: str | None = None,
    language: str | None = None,
    full_text: bool = False,
    poll_interval_s: int | None = None,
) -> Source:
    """Subscribe to a feed (discovering it from a page when needed) and schedule its first poll now.

    With ``fetcher`` None the URL is stored as given without contacting it (OPML import).
    ``poll_interval_s`` fixes the source's poll interval (at least ``NEWSTALK_POLL_MIN_S``).
    """
    check_poll_interval(settings, poll_interval_s)
    feed_url = canonicalize_url(url)
    feed: ParsedFeed | None = None
    if fetcher is not None:
        resolved = await resolve_feed(fetcher, feed_url)
        feed_url, feed = canonicalize_url(resolved.feed_url), resolved.feed
    if await repository.get_by_url(uow.session, feed_url) is not None:
        raise Conflict(f"sources: {feed_url} is already subscribed")
    now = utcnow()
    plan = schedule.plan_poll(
        now=now,
        freshness_s=settings.freshness_s,
        floor_s=settings.poll_min_s,
        max_s=settings.poll_max_s,
        source_interval_s=poll_interval_s,
    )
    source = Source(
        feed_url=feed_url,
        site_url=feed.site_url if feed else None,
        title=(title or (feed.title if feed else "") or feed_url)[:512],
        language=language or (feed.language[:16] if feed and feed.language else None),
        category=category,
        full_text=full_text,
        status=ACTIVE,
        fetch_interval_s=plan.interval_s,
        planned_reason=plan.reason,
        poll_interval_s=poll_interval_s,
        next_fetch_at=now + timedelta(seconds=plan.interval_s),
        consecutive_failures=0,
        fetch_count=0,
        not_modified_count=0,
        article_count=0,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(source)
    await uow.session.flush()
    uow.emit(poll_event(source.id, now))
    return source


async def get_source(session: AsyncSession, source_id: int) -> Source:
    """A source by id, or NotFound."""
    source = await repository.get(session, source_id)
    if source is None:
        raise NotFound(f"sources: no source with id {source_id}")
    return source


async def update_source(
    uow: UnitOfWork, settings: Settings, source_id: int, changes: dict[str, object]
) -> Source:
    """Apply an admin's changes; resuming a paused source resets its failures and polls it now.

    Setting ``poll_interval_s`` (null: adaptive again) replans the source's polling at once.
    """
    source = await get_source(uow.session, source_id)
    now = utcnow()
    status = changes.pop("status", None)
    interval_changed = "poll_interval_s" in changes
    if interval_changed:
        value = changes["poll_interval_s"]
        check_poll_interval(settings, value if isinstance(value, int) else None)
    for name, value in changes.items():
        setattr(source, name, value)
    if interval_changed:
        replan(source, settings, now=now)
        source.next_fetch_at = min(source.next_fetch_at, next_poll_at(now, source.fetch_interval_s, settings))
    if status == PAUSED and source.status != PAUSED:
        source.status, source.paused_reason = PAUSED, "paused by an admin"
    elif status == ACTIVE and source.status != ACTIVE:
        source.status, source.paused_reason = ACTIVE, None
        source.consecutive_failures = 0
        source.next_fetch_at = now
        uow.emit(poll_event(source.id, now))
    source.updated_at = now
    return source


async def delete_source(uow: UnitOfWork, source_id: int) -> None:
    """Unsubscribe; the source's articles go with it."""
    source = await get_source(uow.session, source_id)
    await uow.session.delete(source)


def check_poll_interval(settings: Settings, interval_s: int | None) -> None:
    """A source's own interval may be long, never shorter than the politeness floor."""
    if interval_s is not None and interval_s < settings.poll_min_s:
        raise InvalidInput(
            f"sources: poll_interval_s {interval_s} is under the politeness floor "
            f"NEWSTALK_POLL_MIN_S ({settings.poll_min_s} s)"
        )


def next_poll_at(
    now: datetime, interval_s: int, settings: Settings, *, floor_s: int | None = None
) -> datetime:
    """The next poll, jittered but never under the politeness floor nor past the freshness target."""
    return schedule.next_fetch_at(
        now,
        interval_s,
        floor_s=settings.poll_min_s if floor_s is None else floor_s,
        ceiling_s=settings.freshness_s,
    )


def politeness_for(
    source: Source, settings: Settings, *, ttl_s: int | None = None, max_age_s: int | None = None
) -> schedule.Politeness:
    """The source's politeness floor: lower for a feed that answers conditional GET (docs/sources.md)."""
    return schedule.politeness(
        has_validators=bool(source.etag or source.last_modified),
        floor_s=settings.poll_min_s,
        validated_floor_s=settings.poll_min_validated_s,
        freshness_s=settings.freshness_s,
        ttl_s=ttl_s,
        max_age_s=max_age_s,
    )


def replan(
    source: Source,
    settings: Settings,
    *,
    now: datetime,
    busy_s: int | None = None,
    polite: schedule.Politeness | None = None,
) -> None:
    """Set the source's interval and its reason from the freshness target (``schedule.plan_poll``).

    ``busy_s`` is the busy-feed interval from the items just fetched and ``polite`` the floor
    that fetch allows; without them (a 304, a push, an admin's change) a busy source keeps
    the interval it last learned.
    """
    polite = polite or politeness_for(source, settings)
    hint_s = polite.hint_s
    if busy_s is None and source.planned_reason in (schedule.BUSY, schedule.PUBLISHER_HINT):
        busy_s = source.fetch_interval_s
        if source.planned_reason == schedule.PUBLISHER_HINT:
            hint_s = source.fetch_interval_s
    pushed_at = source.last_push_at if source.websub_state == "active" else None
    plan = schedule.plan_poll(
        now=now,
        freshness_s=settings.freshness_s,
        # An admin's own interval is bounded by the plain floor (check_poll_interval).
        floor_s=settings.poll_min_s if source.poll_interval_s is not None else max(polite.floor_s, hint_s),
        max_s=settings.poll_max_s,
        source_interval_s=source.poll_interval_s,
        pushed_at=pushed_at,
        last_item_at=source.last_item_at or source.last_new_item_at,
        busy_s=busy_s,
        hint_s=hint_s,
    )
    source.fetch_interval_s, source.planned_reason = plan.interval_s, plan.reason


def record_failure(source: Source, settings: Settings, error: str, *, reason: str, now: datetime) -> None:
    """Count a failed poll: back off exponentially and pause after too many in a row."""
    source.consecutive_failures += 1
    source.fetch_count += 1
    source.last_fetched_at = now
    source.last_status = reason[:32]
    source.last_error = error[:2000]
    interval = schedule.backoff_interval(
        source.consecutive_failures,
        base_s=max(source.fetch_interval_s, settings.poll_min_s),
        max_s=settings.poll_max_s,
    )
    source.next_fetch_at = schedule.next_fetch_at(now, interval)
    if source.consecutive_failures >= settings.pause_after_failures:
        source.status = PAUSED
        source.paused_reason = (
            f"{error} — paused after {source.consecutive_failures} consecutive failures; "
            "fix the feed, then set status to active"
        )[:2000]
    source.updated_at = now


def note_store_failure(source: Source, error: str, *, now: datetime) -> None:
    """Show in source health that a fetched feed could not be stored (the job retries, then dead-letters)."""
    source.last_status = "store"
    source.last_error = f"ingestion: storing this feed's items failed: {error}"[:2000]
    source.updated_at = now


def record_success(
    source: Source,
    settings: Settings,
    *,
    now: datetime,
    status: int,
    etag: str | None,
    last_modified: str | None,
    permanent_url: str | None,
    feed: ParsedFeed | None,
    new_items: int,
    held_back: int = 0,
    max_age_s: int | None = None,
) -> None:
    """Store a good poll: validators for the next conditional GET and the adaptive interval.

    ``held_back`` new items that the collect caps left for later make the status
    ``held-back`` and bring the next poll to the shortest interval. ``max_age_s`` (the
    response's ``Cache-Control: max-age``) and the feed's ``<ttl>`` raise the floor, never
    past the freshness target.
    """
    source.fetch_count += 1
    source.consecutive_failures = 0
    source.last_error = None
    source.last_fetched_at = source.last_success_at = now
    source.last_status = NOT_MODIFIED if status == 304 else "ok"
    if status == 304:
        source.not_modified_count += 1
    else:
        source.etag, source.last_modified = (etag or None), (last_modified or None)
    if permanent_url and permanent_url != source.feed_url:
        log.info("sources: %s moved permanently to %s", source.feed_url, permanent_url)
        source.feed_url = permanent_url
    busy_s: int | None = None
    newest: datetime | None = None
    polite = politeness_for(source, settings, ttl_s=feed.ttl_s if feed else None, max_age_s=max_age_s)
    if new_items and source.last_push_at is not None:
        # The poll found items the hub did not push: poll on the freshness target until it pushes again.
        source.last_push_at = None
    if feed is not None:
        times = [e.published_at or e.updated_at for e in feed.entries]
        busy_s = schedule.busy_interval(
            times,
            floor_s=polite.floor_s,
            freshness_s=settings.freshness_s,
            polls_per_gap=polite.polls_per_gap,
        )
        newest = schedule.newest_item_at(times, now)
        if newest is not None:
            source.last_item_at = newest
        if not source.site_url and feed.site_url:
            source.site_url = feed.site_url[:2048]
        if source.title == source.feed_url and feed.title:
            # Subscribed without a fetch (the title defaulted to the URL): the outlet's own name.
            source.title = feed.title[:512]
    if new_items:
        source.last_new_item_at = now
        source.article_count += new_items
        if newest is None or source.fetch_count > 1:
            # Items we had not seen: the feed is alive now, whatever dates it gives them (the
            # first poll finds every item new, so there the feed's own dates tell).
            source.last_item_at = now
    replan(source, settings, now=now, busy_s=busy_s, polite=polite)
    source.next_fetch_at = next_poll_at(now, source.fetch_interval_s, settings, floor_s=polite.floor_s)
    if held_back:
        note_held_back(source, held_back, now=now)
    source.updated_at = now


NOT_MODIFIED = "not-modified"


def not_modified(source_id: int, target: repository.PollTarget, *, now: datetime) -> repository.NotModified:
    """A 304 as :func:`record_success` would store it: counters, health and the next poll time.

    The validators and the interval stay as they are (a 304 has no feed to learn from).
    """
    return repository.NotModified(
        source_id=source_id, at=now, next_fetch_at=schedule.next_fetch_at(now, target.fetch_interval_s)
    )


async def record_not_modified(uow: UnitOfWork, polls: Sequence[repository.NotModified]) -> None:
    """Store polls answered 304 (:func:`not_modified`) in one UPDATE, without loading a source."""
    await repository.mark_not_modified(uow.session, polls, status=NOT_MODIFIED)


def note_held_back(source: Source, held_back: int, *, now: datetime) -> None:
    """Show in source health that the collect caps left new items for later polls, and poll again soon."""
    source.last_status = HELD_BACK
    source.next_fetch_at = min(source.next_fetch_at or now, now + timedelta(seconds=HELD_BACK_RETRY_S))
    source.updated_at = now


def note_hub(uow: UnitOfWork, settings: Settings, source: Source, feed: ParsedFeed) -> None:
    """Ask the websub stage to subscribe when a feed advertises a hub (or a new hub or topic)."""
    if not settings.websub_enabled or not feed.hub_url:
        return
    topic = feed.feed_url or source.feed_url
    # Renewals and stuck verifications are the scheduler's job (websub.renew_expiring); a hub
    # that refused or failed us is asked again only when the feed names a different hub or topic.
    if source.websub_hub == feed.hub_url and source.websub_topic == topic and source.websub_state is not None:
        return
    source.websub_hub, source.websub_topic = feed.hub_url[:2048], topic[:2048]
    source.websub_state = "pending"
    uow.emit(websub_event(source.id, utcnow()))


def new_websub_secret() -> str:
    """A per-subscription HMAC secret."""
    return secrets.token_hex(32)


async def import_outlines(
    uow: UnitOfWork, settings: Settings, outlines: Sequence[OpmlOutline]
) -> tuple[int, int, list[str]]:
    """Subscribe to every outline not yet subscribed; returns (added, skipped, errors)."""
    added = skipped = 0
    errors: list[str] = []
    for outline in outlines:
        try:
            url = canonicalize_url(outline.feed_url)
        except InvalidInput as exc:
            errors.append(exc.detail)
            continue
        if await repository.get_by_url(uow.session, url) is not None:
            skipped += 1
            continue
        await add_source(uow, settings, None, url=url, title=outline.title, category=outline.category)
        added += 1
    return added, skipped, errors


async def export_outlines(session: AsyncSession) -> list[OpmlOutline]:
    """Every source as an OPML outline."""
    return [
        OpmlOutline(feed_url=s.feed_url, title=s.title, site_url=s.site_url, category=s.category)
        for s in await repository.list_all(session)
    ]
