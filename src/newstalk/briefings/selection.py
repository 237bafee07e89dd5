"""Which stories a listener's daily briefing covers: the one seam between briefings and the feed.

``stories_for_listener`` is all the briefing builder asks. It takes the listener's
personal feed (``feed.service.rank_for_listener``, the ranking the app shows them) and
keeps the stories that have articles in the briefing's language. When the feed has too
few of those, or fails, the rest comes from today's trending stories filtered and ordered
by the listener's preferences (wanted categories and keywords first; muted topics and
stories only muted outlets cover left out), so a briefing is never short for a ranking
problem and a listener without history still gets their own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.briefings import repository
from newstalk.feed.service import rank_for_listener
from newstalk.listeners import repository as listeners_repository
from newstalk.listeners.models import MUTE, Preferences
from newstalk.stories.models import Story, StoryArticle

log = logging.getLogger(__name__)

POOL = 60  # trending stories read to pick a listener's few from
FEED_DEPTH = 4  # feed items asked for per story wanted (some are in another language)


@dataclass(frozen=True)
class Choice:
    """The stories chosen and where each came from (``feed`` or ``preferences``), for logs and tests."""

    story_ids: list[int]
    sources: list[str]


async def stories_for_listener(session: AsyncSession, user_id: int, lang: str, limit: int) -> Choice:
    """Up to ``limit`` story ids for a listener's briefing in ``lang``, best first."""
    chosen: list[int] = []
    sources: list[str] = []
    try:
        items = await rank_for_listener(session, user_id, limit * FEED_DEPTH)
    except Exception:  # the briefing must still go out; the feed logs its own detail
        log.warning(
            "briefings: personal feed of listener %s failed; using preferences", user_id, exc_info=True
        )
        items = []
    for item in items:
        if lang in item.languages and item.story_id not in chosen:
            chosen.append(item.story_id)
            sources.append("feed")
        if len(chosen) == limit:
            return Choice(chosen, sources)
    for story_id in await preferred_trending(session, user_id, lang, POOL):
        if story_id not in chosen:
            chosen.append(story_id)
            sources.append("preferences")
        if len(chosen) == limit:
            break
    return Choice(chosen, sources)


async def preferred_trending(session: AsyncSession, user_id: int, lang: str, pool: int) -> list[int]:
    """Trending stories in ``lang`` reordered by the listener's preferences, muted ones left out."""
    ids = await repository.top_story_ids(session, lang, pool)
    if not ids:
        return []
    prefs = await listeners_repository.get_preferences(session, user_id)
    muted_outlets = {
        c.source_id for c in await listeners_repository.outlet_choices(session, user_id) if c.stance == MUTE
    }
    stories = {s.id: s for s in (await session.scalars(select(Story).where(Story.id.in_(ids)))).all()}
    outlets = await _outlets(session, ids) if muted_outlets else {}
    wanted: list[int] = []
    rest: list[int] = []
    for story_id in ids:
        story = stories.get(story_id)
        if story is None or _muted(story, prefs):
            continue
        if muted_outlets and outlets.get(story_id) and outlets[story_id] <= muted_outlets:
            continue  # only outlets the listener muted cover it
        (wanted if _wanted(story, prefs) else rest).append(story_id)
    return wanted + rest


def _text(story: Story) -> str:
    return " ".join([story.title, *story.keywords, story.category or ""]).casefold()


def _muted(story: Story, prefs: Preferences | None) -> bool:
    if prefs is None or not prefs.muted_topics:
        return False
    text = _text(story)
    return any(topic.casefold() in text for topic in prefs.muted_topics)


def _wanted(story: Story, prefs: Preferences | None) -> bool:
    if prefs is None:
        return False
    if story.category and story.category in prefs.categories:
        return True
    text = _text(story)
    return any(k.casefold() in text for k in prefs.keywords)


async def _outlets(session: AsyncSession, ids: Sequence[int]) -> dict[int, set[int]]:
    rows = await session.execute(
        select(StoryArticle.story_id, Article.source_id)
        .join(Article, Article.id == StoryArticle.article_id)
        .where(StoryArticle.story_id.in_(ids))
        .distinct()
    )
    out: dict[int, set[int]] = {}
    for story_id, source_id in rows.all():
        out.setdefault(story_id, set()).add(source_id)
    return out


def briefing_language(preferred: Sequence[str], fallback: str) -> str:
    """The first of the listener's languages a briefing can be spoken in (en, ko), else ``fallback``."""
    return next((lang for lang in preferred if lang in ("en", "ko")), fallback)
