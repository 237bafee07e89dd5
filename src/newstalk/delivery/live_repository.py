"""Queries for the live event log, webhooks, deliveries and attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.delivery.live_models import PENDING, LiveEvent, Webhook, WebhookAttempt, WebhookDelivery
from newstalk.stories.models import StoryArticle

MAX_OUTLETS = 100


async def event_by_key(session: AsyncSession, dedup_key: str) -> LiveEvent | None:
    return await session.scalar(select(LiveEvent).where(LiveEvent.dedup_key == dedup_key))


async def story_was_announced(session: AsyncSession, story_id: int, event_type: str) -> bool:
    stmt = select(exists().where(LiveEvent.story_id == story_id, LiveEvent.type == event_type))
    return bool(await session.scalar(stmt))


async def story_outlets(session: AsyncSession, story_id: int) -> list[int]:
    """Source ids of the outlets covering a story (for followed and muted outlets)."""
    stmt = (
        select(Article.source_id)
        .join(StoryArticle, StoryArticle.article_id == Article.id)
        .where(StoryArticle.story_id == story_id)
        .distinct()
        .order_by(Article.source_id)
        .limit(MAX_OUTLETS)
    )
    return [int(r) for r in (await session.scalars(stmt)).all()]


async def log_bounds(session: AsyncSession) -> tuple[int | None, int | None]:
    """The oldest and newest event ids still in the log (None, None when it is empty)."""
    row = (await session.execute(select(func.min(LiveEvent.id), func.max(LiveEvent.id)))).one()
    return row[0], row[1]


async def events_after(session: AsyncSession, after_id: int, limit: int) -> Sequence[LiveEvent]:
    stmt = select(LiveEvent).where(LiveEvent.id > after_id).order_by(LiveEvent.id).limit(limit)
    return (await session.scalars(stmt)).all()


async def prune_events(session: AsyncSession, *, before: datetime, max_rows: int) -> int:
    """Drop events older than ``before`` or beyond the newest ``max_rows``; the newest one always stays.

    Keeping the newest row lets a reconnecting client's id be told apart from an id of
    another (or a reset) database even after a quiet day.
    """
    _, newest = await log_bounds(session)
    if newest is None:
        return 0
    by_age = await session.execute(
        delete(LiveEvent).where(LiveEvent.created_at < before, LiveEvent.id < newest)
    )
    by_count = await session.execute(delete(LiveEvent).where(LiveEvent.id <= newest - max_rows))
    return int(by_age.rowcount or 0) + int(by_count.rowcount or 0)  # type: ignore[attr-defined]


async def prune_deliveries(session: AsyncSession, *, before: datetime) -> int:
    """Finished deliveries older than ``before`` (their attempts go with them)."""
    result = await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.status != PENDING, WebhookDelivery.created_at < before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def drop_expired_secrets(session: AsyncSession, *, now: datetime) -> int:
    """Forget previous signing secrets whose overlap after a rotation has ended."""
    result = await session.execute(
        update(Webhook)
        .where(Webhook.previous_secret_expires_at <= now)
        .values(previous_secret=None, previous_secret_expires_at=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def matching_webhooks(
    session: AsyncSession, event_type: str, category: str | None, languages: Sequence[str]
) -> list[Webhook]:
    """Active webhooks whose filter takes this event; filters are small lists checked here."""
    rows = (await session.scalars(select(Webhook).where(Webhook.active.is_(True)))).all()
    langs = set(languages)
    return [
        w
        for w in rows
        if (not w.event_types or event_type in w.event_types)
        and (not w.categories or (category is not None and category in w.categories))
        and (not w.languages or bool(langs & set(w.languages)))
    ]


async def list_webhooks(session: AsyncSession, user_id: int) -> Sequence[Webhook]:
    stmt = select(Webhook).where(Webhook.user_id == user_id).order_by(Webhook.id)
    return (await session.scalars(stmt)).all()


async def count_webhooks(session: AsyncSession, user_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(Webhook.user_id == user_id)) or 0)


async def owned_webhook(session: AsyncSession, user_id: int, webhook_id: int) -> Webhook | None:
    """The webhook if this user owns it; someone else's looks exactly like a missing one."""
    return await session.scalar(select(Webhook).where(Webhook.id == webhook_id, Webhook.user_id == user_id))


async def list_deliveries(
    session: AsyncSession, webhook_id: int, *, before_id: int | None, limit: int
) -> Sequence[WebhookDelivery]:
    stmt = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if before_id is not None:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    return (await session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit))).all()


async def attempts_of(session: AsyncSession, delivery_ids: Sequence[int]) -> dict[int, list[WebhookAttempt]]:
    if not delivery_ids:
        return {}
    stmt = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
    )
    out: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    for attempt in (await session.scalars(stmt)).all():
        out[attempt.delivery_id].append(attempt)
    return out


async def delivery_with_webhook(
    session: AsyncSession, delivery_id: int
) -> tuple[WebhookDelivery, Webhook] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, Webhook)
            .join(Webhook, and_(Webhook.id == WebhookDelivery.webhook_id))
            .where(WebhookDelivery.id == delivery_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None
