"""Queries for scripts: what a story's script is made from, and scripts already written. No commits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.briefings.models import BRIEFING, ScriptRecord
from newstalk.briefings.scripts import ClaimFact, StoryInput, lang_of
from newstalk.factcheck.models import Claim
from newstalk.stories.models import OPEN, ArticleFeatures, Story, StoryArticle
from newstalk.stories.summary import representative_title

MAX_LEADS = 12


async def story_inputs(session: AsyncSession, story_id: int, langs: Sequence[str] | None) -> list[StoryInput]:
    """A story's material per language: its main language first, then ``langs`` it also has."""
    story = await session.get(Story, story_id)
    if story is None or story.status != OPEN or story.article_count == 0:
        return []
    rows = (
        await session.execute(
            select(Article.source_id, Article.language, Article.title, ArticleFeatures.lead)
            .join(StoryArticle, StoryArticle.article_id == Article.id)
            .join(ArticleFeatures, ArticleFeatures.article_id == Article.id)
            .where(StoryArticle.story_id == story_id, ArticleFeatures.duplicate_of_id.is_(None))
            .order_by(Article.first_seen_at.desc(), Article.id.desc())
        )
    ).all()
    if not rows:
        return []
    # The language the stories stage summarized the story in; by article count otherwise.
    main = lang_of(" ".join(story.summary) or story.title)
    if main not in {r.language for r in rows}:
        main = Counter(r.language for r in rows).most_common(1)[0][0]
    claims = (
        await session.scalars(select(Claim).where(Claim.story_id == story_id).order_by(Claim.score.desc()))
    ).all()
    facts = [
        ClaimFact(
            source_id=c.source_id,
            text=c.text,
            language=c.language,
            verdict=c.final_verdict,
            confidence=c.confidence,
            score=c.score,
            kinds=tuple(c.kinds or ()),
        )
        for c in claims
    ]
    wanted = [main, *(lang for lang in (langs or ()) if lang != main)]
    out = []
    for lang in wanted:
        mine = [r for r in rows if r.language == lang]
        if not mine:
            continue
        # Each outlet's newest lead first, then the rest, so different outlets' material comes in.
        firsts: dict[int, int] = {}
        for i, r in enumerate(mine):
            firsts.setdefault(r.source_id, i)
        order = [*firsts.values(), *(i for i in range(len(mine)) if i not in firsts.values())]
        leads = [list(mine[i].lead or []) for i in order[:MAX_LEADS]]
        out.append(
            StoryInput(
                story_id=story.id,
                version=story.version,
                lang=lang,
                title=story.title if lang == main else representative_title([r.title for r in mine]),
                summary=list(story.summary) if lang == main else [],
                leads=leads,
                outlet_count=story.outlet_count,
                claims=facts,
            )
        )
    return out


async def top_story_ids(session: AsyncSession, lang: str, limit: int) -> list[int]:
    """The most trending open stories that have articles in ``lang``."""
    in_lang = (
        select(StoryArticle.story_id)
        .join(Article, Article.id == StoryArticle.article_id)
        .where(Article.language == lang)
    )
    ids = await session.scalars(
        select(Story.id)
        .where(Story.status == OPEN, Story.article_count > 0, Story.id.in_(in_lang))
        .order_by(Story.trending_score.desc(), Story.last_seen_at.desc(), Story.id.desc())
        .limit(limit)
    )
    return list(ids.all())


async def script_by_hash(session: AsyncSession, content_hash: str) -> ScriptRecord | None:
    """The script with this content, if it was written before."""
    return await session.scalar(select(ScriptRecord).where(ScriptRecord.content_hash == content_hash))


async def daily_briefing(session: AsyncSession, briefing_key: str, date: str) -> ScriptRecord | None:
    """The newest briefing written for a configuration on a day."""
    return await session.scalar(
        select(ScriptRecord)
        .where(
            ScriptRecord.kind == BRIEFING,
            ScriptRecord.briefing_key == briefing_key,
            ScriptRecord.briefing_date == date,
        )
        .order_by(ScriptRecord.id.desc())
        .limit(1)
    )
