"""HTTP for fact-checking: verdicts per story and claim, ad-hoc checks, the editors' review queue."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newstalk.articles.models import Article
from newstalk.config import Settings
from newstalk.deps import DbDep, EditorDep, ServicesDep
from newstalk.errors import InvalidInput, NotFound
from newstalk.factcheck import repository, service
from newstalk.factcheck.checker import CheckedClaim
from newstalk.factcheck.jsonld import claim_review
from newstalk.factcheck.models import REVIEW_PENDING, Claim, OutletPrior, StoryCheck
from newstalk.factcheck.schemas import (
    AdhocRequest,
    AdhocResult,
    ClaimOut,
    EvidenceOut,
    OutletCredibility,
    PriorRequest,
    ReviewOut,
    ReviewPage,
    ReviewRequest,
    StoryFactcheck,
)
from newstalk.kit.api import decode_cursor, encode_cursor
from newstalk.sources.models import Source
from newstalk.stories.models import Story

router = APIRouter(prefix="/api/v1", tags=["fact-checking"])

PUBLISHER = "NewsTalk"


async def claims_out(session: AsyncSession, settings: Settings, claims: list[Claim]) -> list[ClaimOut]:
    """Stored claims with their evidence, outlet, credibility and ClaimReview."""
    if not claims:
        return []
    evidence = await repository.evidence_of(session, [c.id for c in claims])
    article_ids = {c.article_id for c in claims}
    articles = {
        r.id: (r.url, r.outlet or r.feed_url)
        for r in (
            await session.execute(
                select(Article.id, Article.url, Source.title.label("outlet"), Source.feed_url)
                .join(Source, Source.id == Article.source_id)
                .where(Article.id.in_(article_ids))
            )
        ).all()
    }
    cred = await repository.credibility(
        session, [c.source_id for c in claims], settings.factcheck_outlet_prior
    )
    evidence_languages = dict(
        (
            await session.execute(
                select(Article.id, Article.language).where(
                    Article.id.in_({ev.article_id for rows in evidence.values() for ev, _, _ in rows})
                )
            )
        ).all()
    )
    out = []
    for c in claims:
        url, outlet = articles.get(c.article_id, (None, None))
        items = [
            EvidenceOut(
                outlet=name,
                source_id=ev.source_id,
                article_id=ev.article_id,
                url=ev_url,
                quote=ev.quote,
                start=ev.start,
                end=ev.end,
                language=evidence_languages.get(ev.article_id),
                origin=ev.origin,
                stance=ev.stance,
                score=ev.score,
                related=ev.related,
                conflicts=ev.conflicts,
            )
            for ev, name, ev_url in evidence.get(c.id, [])
        ]
        out.append(
            ClaimOut(
                id=c.id,
                text=c.text,
                article_id=c.article_id,
                story_id=c.story_id,
                outlet=outlet,
                outlet_credibility=round(cred.get(c.source_id, settings.factcheck_outlet_prior), 4),
                url=url,
                start=c.start,
                end=c.end,
                language=c.language,
                checkworthiness=c.score,
                kinds=c.kinds,
                verdict=c.final_verdict,
                machine_verdict=c.verdict,
                confidence=c.confidence,
                explanation=c.explanation,
                detail=c.detail,
                verifier=c.verifier,
                checked_at=c.checked_at,
                review=ReviewOut(
                    status=c.review_status,
                    reason=c.review_reason,
                    verdict=c.reviewed_verdict,
                    note=c.review_note,
                    reviewed_at=c.reviewed_at,
                ),
                evidence=items,
                claim_review=claim_review(
                    url=f"{settings.public_url.rstrip('/')}/api/v1/claims/{c.id}",
                    claim=c.text,
                    verdict=c.final_verdict,
                    explanation=c.explanation,
                    checked_at=c.reviewed_at or c.checked_at,
                    language=c.language,
                    outlet=outlet,
                    appearance_url=url,
                    publisher=PUBLISHER,
                ),
            )
        )
    return out


def adhoc_out(settings: Settings, checked: CheckedClaim) -> ClaimOut:
    v = checked.verdict
    return ClaimOut(
        id=None,
        text=checked.claim.text,
        article_id=None,
        story_id=None,
        outlet=None,
        outlet_credibility=None,
        url=None,
        start=checked.claim.start,
        end=checked.claim.end,
        language=checked.language,
        checkworthiness=checked.claim.score,
        kinds=list(checked.claim.kinds),
        verdict=v.verdict,
        machine_verdict=v.verdict,
        confidence=round(v.confidence, 4),
        explanation=v.explanation,
        detail=v.detail,
        verifier=settings.verifier_provider,
        checked_at=None,
        review=ReviewOut(status="none"),
        evidence=[
            EvidenceOut(
                outlet=e.candidate.doc.outlet,
                source_id=e.candidate.doc.source_id,
                article_id=e.candidate.doc.article_id,
                url=e.candidate.doc.url,
                quote=e.candidate.quote,
                start=e.candidate.start,
                end=e.candidate.end,
                language=e.candidate.doc.language,
                origin=e.candidate.origin,
                stance=e.judgement.stance.value,
                score=round(e.judgement.confidence, 4),
                related=round(e.judgement.related, 4),
                conflicts=list(e.judgement.conflicts),
            )
            for e in checked.evidence
        ],
        claim_review=claim_review(
            url=f"{settings.public_url.rstrip('/')}/api/v1/fact-check",
            claim=checked.claim.text,
            verdict=v.verdict,
            explanation=v.explanation,
            checked_at=None,
            language=checked.language,
            outlet=None,
            appearance_url=None,
            publisher=PUBLISHER,
        ),
    )


@router.get("/stories/{story_id}/factcheck", response_model=StoryFactcheck)
async def story_factcheck(
    story_id: int, services: ServicesDep, db: DbDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> StoryFactcheck:
    """The checked claims of a story, most check-worthy first, each with its evidence."""
    async with db.reading() as session:
        if await session.get(Story, story_id) is None:
            raise NotFound(f"story {story_id} not found")
        check = await session.get(StoryCheck, story_id)
        claims = list(
            (
                await session.execute(
                    select(Claim)
                    .where(Claim.story_id == story_id)
                    .order_by(Claim.score.desc(), Claim.id)
                    .limit(limit)
                )
            ).scalars()
        )
        items = await claims_out(session, services.settings, claims)
    return StoryFactcheck(
        story_id=story_id,
        checked_at=check.checked_at if check else None,
        story_version=check.story_version if check else None,
        verdicts=dict(Counter(c.verdict for c in items)),
        claims=items,
    )


@router.get("/claims/{claim_id}", response_model=ClaimOut)
async def get_claim(claim_id: int, services: ServicesDep, db: DbDep) -> ClaimOut:
    """One claim: verdict, confidence, the evidence behind it and its ClaimReview JSON-LD."""
    async with db.reading() as session:
        claim = await session.get(Claim, claim_id)
        if claim is None:
            raise NotFound(f"claim {claim_id} not found")
        return (await claims_out(session, services.settings, [claim]))[0]


@router.post("/fact-check", response_model=AdhocResult)
async def fact_check(body: AdhocRequest, services: ServicesDep) -> AdhocResult:
    """Check any text against the recent corpus: its claims, each with evidence and a verdict."""
    checked = await service.check_text(services, body.text, body.language)
    return AdhocResult(claims=[adhoc_out(services.settings, c) for c in checked])


@router.get("/factcheck/review", response_model=ReviewPage)
async def review_queue(
    services: ServicesDep,
    db: DbDep,
    _: EditorDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> ReviewPage:
    """Verdicts waiting for an editor, oldest first."""
    stmt = select(Claim).where(Claim.review_status == REVIEW_PENDING)
    if cursor:
        checked_at, last_id = decode_cursor(cursor, 2)
        try:
            at, after = datetime.fromisoformat(str(checked_at)), int(last_id)
        except (TypeError, ValueError):
            raise InvalidInput("api: cursor is not valid; pass the next_cursor of a previous page") from None
        stmt = stmt.where((Claim.checked_at > at) | ((Claim.checked_at == at) & (Claim.id > after)))
    stmt = stmt.order_by(Claim.checked_at, Claim.id).limit(limit + 1)
    async with db.reading() as session:
        claims = list((await session.execute(stmt)).scalars())
        more = len(claims) > limit
        claims = claims[:limit]
        items = await claims_out(session, services.settings, claims)
    next_cursor = encode_cursor(claims[-1].checked_at.isoformat(), claims[-1].id) if more else None
    return ReviewPage(items=items, next_cursor=next_cursor)


@router.post("/claims/{claim_id}/review", response_model=ClaimOut)
async def review_claim(
    claim_id: int, body: ReviewRequest, services: ServicesDep, db: DbDep, _: EditorDep
) -> ClaimOut:
    """An editor confirms or overturns a verdict, with a note; readers see the editor's verdict."""
    async with db.unit() as uow:
        claim = await service.review(uow.session, claim_id, body.decision, body.verdict, body.note)
        await service.announce_review(uow, claim)
        return (await claims_out(uow.session, services.settings, [claim]))[0]


@router.get("/factcheck/outlets", response_model=list[OutletCredibility])
async def outlets(services: ServicesDep, db: DbDep) -> list[OutletCredibility]:
    """Every outlet's credibility: its prior and how its checked claims fared."""
    settings = services.settings
    async with db.reading() as session:
        sources = (
            await session.execute(select(Source.id, Source.title, Source.feed_url).order_by(Source.id))
        ).all()
        ids = [s.id for s in sources]
        priors = dict((await session.execute(select(OutletPrior.source_id, OutletPrior.prior))).all())
        cred = await repository.credibility(session, ids, settings.factcheck_outlet_prior)
        stats = await repository.outlet_stats(session, ids)
        bad = await repository.refuted_counts(session, ids)
    return [
        OutletCredibility(
            source_id=s.id,
            outlet=s.title or s.feed_url,
            prior=priors.get(s.id, settings.factcheck_outlet_prior),
            prior_is_default=s.id not in priors,
            credibility=round(cred[s.id], 4),
            claims_checked=stats.get(s.id, (0.0, 0))[1],
            claims_refuted=bad.get(s.id, (0, 0))[0],
            claims_overturned=bad.get(s.id, (0, 0))[1],
        )
        for s in sources
    ]


@router.put("/factcheck/outlets/{source_id}", response_model=OutletCredibility)
async def set_outlet_prior(
    source_id: int, body: PriorRequest, services: ServicesDep, db: DbDep, _: EditorDep
) -> OutletCredibility:
    """Set an outlet's credibility prior (0-1); its history moves it from there."""
    async with db.unit() as uow:
        await service.set_prior(uow.session, source_id, body.prior, body.note)
    rows = await outlets(services, db)
    return next(r for r in rows if r.source_id == source_id)
