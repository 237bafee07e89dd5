"""Decisions about stories: where an article goes, what a story says about itself, editors' fixes."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.errors import Conflict, InvalidInput, NotFound
from newstalk.kit.bus import Event
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.pipeline import topics
from newstalk.stories import neardup
from newstalk.stories.aggregate import Member, StoryAggregate
from newstalk.stories.engine import Computed, StoryEngine
from newstalk.stories.models import MERGED, OPEN, ArticleFeatures, Story, StoryArticle, StoryBlock
from newstalk.stories.summary import extractive_summary, representative_title
from newstalk.stories.trending import TrendInput, trending

log = logging.getLogger(__name__)

BASELINE_DAYS = 7
TREND_HORIZON = timedelta(days=1)


async def assign(uow: UnitOfWork, engine: StoryEngine, batch: Sequence[Computed]) -> set[int]:
    """Place each new article in a story (its first copy's, a matching open one, or a new one).

    Updates the engine's memory as it goes; the caller reloads the engine if the unit fails.
    Articles already placed (a redelivered event) are skipped. Returns the stories touched.
    """
    session = uow.session
    ids = [c.article.article_id for c in batch]
    placed = set(
        (await session.scalars(select(StoryArticle.article_id).where(StoryArticle.article_id.in_(ids)))).all()
    )
    now = utcnow()
    touched: set[int] = set()
    # New stories get placeholder ids (negative) until one flush inserts them all at the end;
    # their story_articles rows wait for the real ids.
    new_stories: dict[int, Story] = {}
    links: list[StoryArticle] = []
    for c in sorted(batch, key=lambda c: (c.article.first_seen_at, c.article.article_id)):
        a = c.article
        if a.article_id in placed:
            continue
        dup = neardup.find_duplicate(engine.neardup, c.minhash)
        duplicate_of = score = None
        story_id: int | None = None
        reason: str
        first_copy_story = (
            engine.clusterer.resolve(engine.story_of[dup[0]]) if dup and dup[0] in engine.story_of else None
        )
        if dup is not None and first_copy_story in engine.clusterer.stories:
            duplicate_of, score = dup
            story_id = first_copy_story
            reason = f"near-duplicate of article {duplicate_of} (similarity {score:.2f})"
        else:
            choice = engine.clusterer.assign(c.features)
            story_id, score, reason = choice.story_id, choice.score, choice.reason
        if story_id is None:
            story = Story(
                status=OPEN,
                title=a.title,
                summary=[],
                keywords=[],
                languages=[a.language],
                article_count=0,
                outlet_count=0,
                trending_score=0.0,
                first_seen_at=a.first_seen_at,
                last_seen_at=a.first_seen_at,
                version=0,
                created_at=now,
                updated_at=now,
            )
            session.add(story)
            story_id = -2 - len(new_stories)
            new_stories[story_id] = story
            engine.clusterer.new_story(story_id, c.features)
            engine.aggregates[story_id] = StoryAggregate()
        else:
            engine.clusterer.add(story_id, c.features)
        links.append(
            StoryArticle(
                article_id=a.article_id,
                story_id=story_id,
                score=float(score or 1.0),
                reason=reason,
                pinned=False,
                added_at=now,
            )
        )
        session.add(
            ArticleFeatures(
                article_id=a.article_id,
                minhash=neardup.signature_bytes(c.minhash),
                embedding=np.asarray(c.features.embedding, dtype=np.float32).tobytes(),
                keywords=c.keywords,
                entities=sorted(c.features.entities),
                sentiment=c.sentiment,
                lead=c.lead,
                duplicate_of_id=duplicate_of,
                duplicate_score=score if duplicate_of else None,
                computed_at=now,
            )
        )
        engine.story_of[a.article_id] = story_id
        engine.pending.setdefault(story_id, []).append(
            Member(
                article_id=a.article_id,
                source_id=a.source_id,
                title=a.title,
                language=a.language,
                first_seen_at=a.first_seen_at,
                keywords=c.keywords,
                embedding=c.features.embedding,
                sentiment=c.sentiment,
                lead=c.lead,
                original=duplicate_of is None,
            )
        )
        if duplicate_of is None:
            engine.neardup.add(a.article_id, c.minhash)
        touched.add(story_id)
    if new_stories:
        await session.flush()
        real = {tmp: story.id for tmp, story in new_stories.items()}
        engine.rename_stories(real, [link.article_id for link in links if link.story_id in real])
        touched = {real.get(sid, sid) for sid in touched}
        for link in links:
            # Reasons were written while new stories had placeholder ids: name the real ones.
            for tmp, rid in real.items():
                link.reason = (link.reason or "").replace(f"story {tmp}:", f"story {rid}:")
            link.story_id = real.get(link.story_id, link.story_id)
    session.add_all(links)
    if batch:
        # Stories with nothing new within the window stop taking articles (by article time,
        # so a replayed backlog behaves as it did live).
        for gone in engine.clusterer.evict(max(c.article.published_at for c in batch)):
            engine.aggregates.pop(gone, None)
    await session.flush()
    return touched


async def refresh(
    uow: UnitOfWork, engine: StoryEngine, story_id: int, baselines: dict[str, float]
) -> Story | None:
    """Update what a story says about itself from its new members, bump its version, emit story.updated.

    Incremental: the engine's running aggregate of the story takes the members placed in
    this unit; a story without one (after a rebuild, a split or a merge) is read whole once.
    """
    session = uow.session
    story = await session.get(Story, story_id)
    pending = sorted(engine.pending.pop(story_id, []), key=lambda m: m.article_id)
    if story is None:
        return None
    agg = engine.aggregates.get(story_id)
    if agg is None:
        agg = StoryAggregate.build(await _members(session, story_id))
        engine.aggregates[story_id] = agg
    else:
        for m in pending:
            agg.add(m)
    if not agg.size or agg.first_seen is None or agg.last_seen is None:
        return story
    recent = agg.recent()
    main_language = agg.main_language()
    centroid = agg.centroid()
    category, category_score = engine.classifier.predict(centroid[None, :])[0]
    sentiment = agg.sentiment()

    story.title = representative_title([m.title for m in recent])
    story.summary = extractive_summary(
        [list(m.lead) for m in recent if m.language == main_language], main_language
    )
    story.keywords = [k for k, _ in agg.keyword_counts.most_common(8)]
    story.languages = sorted(agg.languages)
    story.category, story.category_score = category, float(category_score)
    story.sentiment = float(sentiment) if sentiment is not None else None
    story.article_count = agg.size
    story.outlet_count = len(agg.source_ids)
    story.centroid = centroid.tobytes()
    story.first_seen_at = agg.first_seen
    story.last_seen_at = agg.last_seen
    apply_trend(story, agg.arrivals, baselines)
    story.version += 1
    story.updated_at = utcnow()
    uow.emit(
        Event(
            topics.STORY_UPDATED,
            f"story:{story.id}:{story.version}",
            topics.StoryUpdated(story_id=story.id, version=story.version, article_count=story.article_count),
            story.last_seen_at,
        )
    )
    return story


async def _members(session: AsyncSession, story_id: int) -> list[Member]:
    """Every member of a story with its features, in story order (the full read behind an aggregate)."""
    rows = (
        await session.execute(
            select(
                StoryArticle.article_id,
                Article.source_id,
                Article.title,
                Article.language,
                Article.first_seen_at,
                ArticleFeatures,
            )
            .join(Article, Article.id == StoryArticle.article_id)
            .join(ArticleFeatures, ArticleFeatures.article_id == StoryArticle.article_id)
            .where(StoryArticle.story_id == story_id)
            .order_by(StoryArticle.added_at, StoryArticle.article_id)
        )
    ).all()
    return [
        Member(
            article_id=r.article_id,
            source_id=r.source_id,
            title=r.title,
            language=r.language,
            first_seen_at=r.first_seen_at,
            keywords=r.ArticleFeatures.keywords,
            embedding=np.frombuffer(r.ArticleFeatures.embedding, dtype=np.float32),
            sentiment=r.ArticleFeatures.sentiment,
            lead=r.ArticleFeatures.lead,
            original=r.ArticleFeatures.duplicate_of_id is None,
        )
        for r in rows
    ]


def apply_trend(story: Story, arrivals: Sequence[tuple[datetime, int]], baselines: dict[str, float]) -> None:
    """Store the trending score and its reason for a story from its members' arrival times."""
    result = trending(
        TrendInput(
            published_at=[t for t, _ in arrivals],
            outlets=[str(s) for _, s in arrivals],
            category=story.category or "world",
            now=utcnow(),
        ),
        baselines.get(story.category or "", 0.0),
    )
    story.trending_score = float(result.score)
    story.trending_reason = result.reason
    story.trending_detail = {
        "velocity_per_hour": result.velocity_per_hour,
        "baseline_per_hour": result.baseline_per_hour,
        "outlets": result.outlets,
        "why": result.why.as_dict(),
    }


async def category_baselines(session: AsyncSession, now: datetime) -> dict[str, float]:
    """Articles per hour per category over the last week, the yardstick for 'the usual pace'."""
    since = now - timedelta(days=BASELINE_DAYS)
    rows = await session.execute(
        select(Story.category, func.count())
        .join(StoryArticle, StoryArticle.story_id == Story.id)
        .where(StoryArticle.added_at >= since, Story.category.is_not(None))
        .group_by(Story.category)
    )
    hours = BASELINE_DAYS * 24
    return {category: count / hours for category, count in rows.all() if category}


async def split(uow: UnitOfWork, story_id: int, article_ids: Sequence[int]) -> Story:
    """Move articles out of a story into a new one; they never rejoin the old story."""
    session = uow.session
    story = await _open_story(session, story_id)
    members = set(
        (
            await session.scalars(select(StoryArticle.article_id).where(StoryArticle.story_id == story_id))
        ).all()
    )
    wanted = set(article_ids)
    if not wanted or not wanted <= members:
        raise InvalidInput(f"stories: articles {sorted(wanted - members)} are not in story {story_id}")
    if wanted == members:
        raise InvalidInput("stories: a split must leave at least one article in the story")
    now = utcnow()
    first = await session.scalar(select(func.min(Article.first_seen_at)).where(Article.id.in_(wanted)))
    new = Story(
        status=OPEN,
        title="",
        summary=[],
        keywords=[],
        languages=[],
        article_count=0,
        outlet_count=0,
        trending_score=0.0,
        first_seen_at=first or now,
        last_seen_at=first or now,
        version=0,
        created_at=now,
        updated_at=now,
    )
    session.add(new)
    await session.flush()
    await session.execute(
        update(StoryArticle)
        .where(StoryArticle.article_id.in_(wanted))
        .values(story_id=new.id, pinned=True, reason="split by an editor")
    )
    for article_id in wanted:
        session.add(StoryBlock(story_id=story.id, article_id=article_id, created_at=now))
    uow.emit(
        Event(topics.STORY_EDITED, None, topics.StoryEdited(stories=[story.id, new.id], action="split"), now)
    )
    return new


async def merge(uow: UnitOfWork, keep_id: int, gone_id: int) -> Story:
    """Fold one story into another; later articles that match either go to the one kept."""
    if keep_id == gone_id:
        raise InvalidInput("stories: a story cannot be merged into itself")
    session = uow.session
    keep = await _open_story(session, keep_id)
    gone = await _open_story(session, gone_id)
    now = utcnow()
    await session.execute(
        update(StoryArticle)
        .where(StoryArticle.story_id == gone.id)
        .values(story_id=keep.id, pinned=True, reason="merged by an editor")
    )
    gone.status, gone.merged_into_id, gone.updated_at = MERGED, keep.id, now
    gone.article_count = gone.outlet_count = 0
    gone.trending_score = 0.0
    uow.emit(
        Event(topics.STORY_EDITED, None, topics.StoryEdited(stories=[keep.id, gone.id], action="merge"), now)
    )
    return keep


async def _open_story(session: AsyncSession, story_id: int) -> Story:
    story = await session.get(Story, story_id)
    if story is None:
        raise NotFound(f"stories: no story with id {story_id}")
    if story.status != OPEN:
        raise Conflict(f"stories: story {story_id} was merged into {story.merged_into_id}; edit that one")
    return story
