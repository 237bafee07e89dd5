"""Queries for fact-checking; no commits here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.factcheck.checker import Document
from newstalk.factcheck.models import (
    DISPUTED,
    REFUTED,
    REVIEW_CONFIRMED,
    REVIEW_OVERTURNED,
    SUPPORTED,
    Claim,
    Evidence,
    OutletPrior,
)
from newstalk.sources.models import Source
from newstalk.stories.models import ArticleFeatures, StoryArticle

# Pseudo-counts behind an outlet's prior: 20 checked claims weigh as much as the prior.
PRIOR_WEIGHT = 20.0


async def documents(session: AsyncSession, article_ids: Sequence[int], max_chars: int) -> list[Document]:
    """The articles as the checker reads them, in the order asked."""
    if not article_ids:
        return []
    rows = (
        await session.execute(
            select(
                Article.id,
                Article.source_id,
                Article.url,
                Article.language,
                Article.title,
                Article.summary,
                Article.content_text,
                Source.title.label("outlet"),
                Source.feed_url,
            )
            .join(Source, Source.id == Article.source_id)
            .where(Article.id.in_(list(article_ids)))
        )
    ).all()
    by_id = {
        r.id: Document(
            article_id=r.id,
            source_id=r.source_id,
            outlet=r.outlet or r.feed_url,
            url=r.url,
            language=r.language,
            title=r.title,
            text=(r.content_text or r.summary or "")[:max_chars],
        )
        for r in rows
    }
    return [by_id[i] for i in article_ids if i in by_id]


async def story_members(session: AsyncSession, story_id: int) -> list[tuple[int, int]]:
    """(article id, source id) of a story's original articles (near-duplicates left out), newest first."""
    rows = (
        await session.execute(
            select(StoryArticle.article_id, Article.source_id)
            .join(Article, Article.id == StoryArticle.article_id)
            .join(ArticleFeatures, ArticleFeatures.article_id == StoryArticle.article_id)
            .where(StoryArticle.story_id == story_id, ArticleFeatures.duplicate_of_id.is_(None))
            .order_by(Article.first_seen_at.desc(), Article.id.desc())
        )
    ).all()
    return [(r.article_id, r.source_id) for r in rows]


async def credibility(
    session: AsyncSession, source_ids: Sequence[int], default_prior: float
) -> dict[int, float]:
    """Each outlet's credibility: its prior, moved by how its checked claims fared.

    Beta-style posterior mean: (prior·W + supported + ½·disputed) / (W + checked), where
    "checked" counts claims with a supported, refuted or disputed final verdict (an
    editor's decision overrides the machine's) and W = ``PRIOR_WEIGHT``.
    """
    ids = sorted(set(source_ids))
    if not ids:
        return {}
    priors = dict(
        (
            await session.execute(
                select(OutletPrior.source_id, OutletPrior.prior).where(OutletPrior.source_id.in_(ids))
            )
        ).all()
    )
    stats = await outlet_stats(session, ids)
    out: dict[int, float] = {}
    for sid in ids:
        prior = priors.get(sid, default_prior)
        good, checked = stats.get(sid, (0.0, 0))
        out[sid] = (prior * PRIOR_WEIGHT + good) / (PRIOR_WEIGHT + checked)
    return out


async def outlet_stats(
    session: AsyncSession, source_ids: Sequence[int] | None = None
) -> dict[int, tuple[float, int]]:
    """source id → (supported + ½ disputed, checked) over final verdicts."""
    good = func.sum(
        case((Claim.final_verdict == SUPPORTED, 1.0), (Claim.final_verdict == DISPUTED, 0.5), else_=0.0)
    )
    stmt = (
        select(Claim.source_id, good, func.count())
        .where(Claim.final_verdict.in_((SUPPORTED, REFUTED, DISPUTED)))
        .group_by(Claim.source_id)
    )
    if source_ids is not None:
        stmt = stmt.where(Claim.source_id.in_(list(source_ids)))
    return {int(sid): (float(g or 0.0), int(n)) for sid, g, n in (await session.execute(stmt)).all()}


async def refuted_counts(session: AsyncSession, source_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """source id → (claims refuted, claims overturned by an editor)."""
    stmt = (
        select(
            Claim.source_id,
            func.sum(case((Claim.final_verdict == REFUTED, 1), else_=0)),
            func.sum(case((Claim.review_status == REVIEW_OVERTURNED, 1), else_=0)),
        )
        .where(Claim.source_id.in_(list(source_ids)))
        .group_by(Claim.source_id)
    )
    return {int(s): (int(r or 0), int(o or 0)) for s, r, o in (await session.execute(stmt)).all()}


async def agreement(session: AsyncSession) -> tuple[int, int]:
    """(confirmed, reviewed): how often editors agreed with NewsTalk's verdict."""
    row = (
        await session.execute(
            select(
                func.sum(case((Claim.review_status == REVIEW_CONFIRMED, 1), else_=0)),
                func.sum(case((Claim.review_status.in_((REVIEW_CONFIRMED, REVIEW_OVERTURNED)), 1), else_=0)),
            )
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


async def evidence_of(
    session: AsyncSession, claim_ids: Sequence[int]
) -> dict[int, list[tuple[Evidence, str, str]]]:
    """claim id → [(evidence, outlet name, article url)], strongest first."""
    if not claim_ids:
        return {}
    rows = (
        await session.execute(
            select(Evidence, Source.title, Source.feed_url, Article.url)
            .join(Article, Article.id == Evidence.article_id)
            .join(Source, Source.id == Evidence.source_id)
            .where(Evidence.claim_id.in_(list(claim_ids)))
            .order_by(Evidence.claim_id, Evidence.id)
        )
    ).all()
    out: dict[int, list[tuple[Evidence, str, str]]] = {}
    for ev, title, feed_url, url in rows:
        out.setdefault(ev.claim_id, []).append((ev, title or feed_url, url))
    return out
