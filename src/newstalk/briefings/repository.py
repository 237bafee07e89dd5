"""Queries for scripts: what a story's script is made from, and scripts already written. No commits."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.briefings.models import BRIEFING, STORY, ScriptRecord
from newstalk.briefings.scripts import ClaimFact, StoryInput, lang_of
from newstalk.factcheck.models import Claim, Evidence
from newstalk.sources.models import Source
from newstalk.stories.models import OPEN, ArticleFeatures, Story, StoryArticle
from newstalk.stories.summary import representative_title
from newstalk.stories.text import sentences

MAX_LEADS = 12
MAX_BODY_SENTENCES = 40  # of the lead article; a 90 s script never reads more


async def story_inputs(session: AsyncSession, story_id: int, langs: Sequence[str] | None) -> list[StoryInput]:
    """A story's material per language: its main language first, then ``langs`` it also has."""
    story = await session.get(Story, story_id)
    if story is None or story.status != OPEN or story.article_count == 0:
        return []
    rows = (
        await session.execute(
            select(
                Article.id,
                Article.source_id,
                Article.language,
                Article.title,
                ArticleFeatures.lead,
                func.length(Article.content_text).label("length"),
            )
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
    # Every outlet that covered the story, near-duplicates included (a wire copy is coverage too).
    coverage = (
        await session.execute(
            select(Article.source_id, func.count())
            .join(StoryArticle, StoryArticle.article_id == Article.id)
            .where(StoryArticle.story_id == story_id)
            .group_by(Article.source_id)
        )
    ).all()
    per_outlet = {int(source_id): int(count) for source_id, count in coverage}
    names = await _outlet_names(session, set(per_outlet) | {c.source_id for c in claims})
    counters = await _counter_evidence(session, [c.id for c in claims])
    facts = []
    for c in claims:
        counter = next((e for e in counters.get(c.id, []) if e.source_id != c.source_id), None)
        facts.append(
            ClaimFact(
                source_id=c.source_id,
                text=c.text,
                language=c.language,
                verdict=c.final_verdict,
                confidence=c.confidence,
                score=c.score,
                kinds=tuple(c.kinds or ()),
                counter_outlet=names.get(counter.source_id, "") if counter else "",
                counter_quote=counter.quote if counter else "",
            )
        )
    # Outlets with the most coverage first (then the first subscribed), named as their feeds title them.
    outlets = [names[i] for i in sorted(per_outlet, key=lambda i: (-per_outlet[i], i)) if names.get(i)]
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
        # The lead article, read on past its lead: the longest in this language (most to tell).
        longest = max(mine, key=lambda r: r.length or 0)
        text = await session.scalar(select(Article.content_text).where(Article.id == longest.id))
        body = sentences(text or "", lang)[:MAX_BODY_SENTENCES]
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
                body=body,
                outlets=outlets,
            )
        )
    return out


async def _outlet_names(session: AsyncSession, source_ids: set[int]) -> dict[int, str]:
    """Outlet names by source id: the feed's title ("" when the feed has none)."""
    if not source_ids:
        return {}
    rows = await session.execute(select(Source.id, Source.title).where(Source.id.in_(source_ids)))
    return {r.id: (r.title or "").strip() for r in rows}


async def _counter_evidence(session: AsyncSession, claim_ids: list[int]) -> dict[int, list[Evidence]]:
    """Per claim, the evidence that contradicts it (refuting, or in conflict on a detail), strongest first.

    Only evidence from the story's own articles: a sentence retrieved from the wider corpus
    may be about another event, and the script quotes it as this story's coverage.
    """
    if not claim_ids:
        return {}
    rows = await session.scalars(
        select(Evidence).where(Evidence.claim_id.in_(claim_ids)).order_by(Evidence.score.desc(), Evidence.id)
    )
    out: dict[int, list[Evidence]] = {}
    for e in rows:
        if e.stance == "refutes" or e.conflicts:
            out.setdefault(e.claim_id, []).append(e)
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


async def other_story_scripts(session: AsyncSession, record: ScriptRecord) -> list[int]:
    """The ids of a story's other scripts in the same language and form as ``record`` (the versions it replaces)."""
    if record.kind != STORY or record.story_id is None:
        return []
    rows = await session.scalars(
        select(ScriptRecord.id).where(
            ScriptRecord.story_id == record.story_id,
            ScriptRecord.kind == STORY,
            ScriptRecord.lang == record.lang,
            ScriptRecord.form == record.form,
            ScriptRecord.id != record.id,
        )
    )
    return list(rows)


async def is_first_edition(session: AsyncSession, record: ScriptRecord) -> bool:
    """Whether a story script is its version's short first edition: a longer script of the
    same story version, language and form exists (``service.write_story_scripts``)."""
    if record.kind != STORY or record.story_id is None or record.story_version is None:
        return False
    longer = await session.scalar(
        select(ScriptRecord.id)
        .where(
            ScriptRecord.story_id == record.story_id,
            ScriptRecord.story_version == record.story_version,
            ScriptRecord.kind == STORY,
            ScriptRecord.lang == record.lang,
            ScriptRecord.form == record.form,
            ScriptRecord.estimated_s > record.estimated_s,
        )
        .limit(1)
    )
    return longer is not None


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
