"""Fact-checking decisions: which claims of a story to check, what is stored, what editors see."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from newstalk.errors import InvalidInput, NotFound
from newstalk.factcheck import repository
from newstalk.factcheck.checker import CheckedClaim, Checker, Document, PreparedClaim
from newstalk.factcheck.claims import Claim as DetectedClaim
from newstalk.factcheck.claims import detect_claims
from newstalk.factcheck.corpus import CorpusIndex, related_articles
from newstalk.factcheck.models import (
    REVIEW_CONFIRMED,
    REVIEW_NONE,
    REVIEW_OVERTURNED,
    REVIEW_PENDING,
    VERDICTS,
    Claim,
    Evidence,
    OutletPrior,
    StoryCheck,
)
from newstalk.kit import metrics
from newstalk.kit.bus import Event
from newstalk.kit.db import UnitOfWork, utcnow
from newstalk.kit.resources import ResourceKey
from newstalk.pipeline.topics import STORY_CHECKED as CHECKED_TOPIC
from newstalk.stories.models import OPEN, Story

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from newstalk.pipeline.context import StageServices as Services

TARGET_ARTICLES = 6  # articles whose claims are checked, one per outlet, newest first
POOL_ARTICLES = 24  # articles read for evidence
CLAIMS_PER_ARTICLE = 2
CLAIMS_PER_STORY = 8
MIN_CLAIM_SCORE = 0.35
TEXT_CHARS = 12_000
ADHOC_MAX_CHARS = 5_000
ADHOC_CLAIMS = 5
CORPUS_ARTICLES = 2
ENGINE: ResourceKey[FactcheckEngine] = ResourceKey("factcheck")


@dataclass
class FactcheckEngine:
    checker: Checker
    corpus: CorpusIndex
    lock: asyncio.Lock


async def engine_for(services: Services) -> FactcheckEngine:
    """The checker and corpus index of this process, built on first use."""
    engine = services.resources.get(ENGINE)
    if engine is None:
        from newstalk.factcheck.features import LruEncoder
        from newstalk.factcheck.providers import build_verifier
        from newstalk.providers.embeddings import shared_embeddings

        embeddings = LruEncoder(shared_embeddings(services.resources, services.settings))
        verifier = await asyncio.to_thread(build_verifier, services.settings, embeddings)
        engine = FactcheckEngine(
            Checker(verifier, embeddings), CorpusIndex(services.settings.story_window_h), asyncio.Lock()
        )
        services.resources.set(ENGINE, engine)
    return engine


def signature(article_ids: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(article_ids))).encode()).hexdigest()


def pick_targets(members: Sequence[tuple[int, int]], n: int) -> list[int]:
    """The newest article of each outlet, up to ``n``."""
    seen: set[int] = set()
    out: list[int] = []
    for article_id, source_id in members:
        if source_id not in seen:
            seen.add(source_id)
            out.append(article_id)
        if len(out) >= n:
            break
    return out


def pick_pool(members: Sequence[tuple[int, int]], n: int) -> list[int]:
    """Up to ``n`` articles for evidence, spread over outlets (round-robin, newest first)."""
    by_outlet: dict[int, list[int]] = {}
    for article_id, source_id in members:
        by_outlet.setdefault(source_id, []).append(article_id)
    out: list[int] = []
    depth = 0
    while len(out) < n and any(len(v) > depth for v in by_outlet.values()):
        out.extend(v[depth] for v in by_outlet.values() if len(v) > depth)
        depth += 1
    return out[:n]


async def check_story(services: Services, story_id: int, version: int) -> tuple[list[CheckedClaim], bool]:
    """Check a story's claims; ([], False) when it is gone, moved on or its articles did not change.

    A job for an older ``version`` than the story's is skipped: every version bump queues
    its own story.updated (stories/service.py), so the newest one checks what this one would.
    Under a backlog this is most of the queue (one check per story, not per version).
    """
    engine = await engine_for(services)
    settings = services.settings
    async with services.db.read() as session:
        story = await session.get(Story, story_id)
        if story is None or story.status != OPEN:
            return [], False
        if 0 < version < story.version:
            metrics.FACTCHECK_SUPERSEDED.inc()
            return [], False
        members = await repository.story_members(session, story_id)
        pool_ids = pick_pool(members, POOL_ARTICLES)
        sig = signature(pool_ids)
        done = await session.get(StoryCheck, story_id)
        if done is not None and done.signature == sig:
            return [], False
        target_ids = pick_targets(members, TARGET_ARTICLES)
        docs = await repository.documents(
            session, pool_ids + [i for i in target_ids if i not in pool_ids], TEXT_CHARS
        )
        await engine.corpus.refresh(session)
    by_id = {d.article_id: d for d in docs}
    targets = [by_id[i] for i in target_ids if i in by_id]
    prepared = await asyncio.to_thread(
        engine.checker.prepare,
        targets,
        per_article=CLAIMS_PER_ARTICLE,
        limit=CLAIMS_PER_STORY,
        min_score=MIN_CLAIM_SCORE,
    )
    member_ids = {a for a, _ in members}
    corpus_docs = await _corpus_documents(services, engine, prepared, story_id, member_ids)
    async with services.db.read() as session:
        cred = await repository.credibility(
            session,
            [d.source_id for d in docs if d.source_id is not None]
            + [d.source_id for ds in corpus_docs.values() for d in ds if d.source_id is not None],
            settings.factcheck_outlet_prior,
        )
    checked = await asyncio.to_thread(
        engine.checker.check,
        prepared,
        [by_id[i] for i in pool_ids if i in by_id],
        corpus_docs,
        credibility=cred,
        default_credibility=settings.factcheck_outlet_prior,
    )
    return checked, True


async def _corpus_documents(
    services: Services,
    engine: FactcheckEngine,
    prepared: Sequence[PreparedClaim],
    story_id: int | None,
    exclude: set[int],
) -> dict[int, list[Document]]:
    wanted = related_articles(engine.corpus, prepared, story_id, exclude, CORPUS_ARTICLES)
    all_ids = sorted({a for ids in wanted.values() for a in ids})
    if not all_ids:
        return {}
    async with services.db.read() as session:
        docs = {d.article_id: d for d in await repository.documents(session, all_ids, TEXT_CHARS)}
    return {i: [docs[a] for a in ids if a in docs] for i, ids in wanted.items() if ids}


def needs_review(
    confidence: float,
    category: str | None,
    below: float,
    categories: Sequence[str],
    *,
    verdict: str = "supported",
    evidence: int = 1,
) -> str | None:
    """Why a verdict goes to the editors' queue, or None.

    An ``unverified`` verdict with no evidence at all says only that no other outlet
    reported on it; there is nothing for an editor to weigh, so it is not queued for
    low confidence (its calibrated confidence sits near the default threshold).
    """
    if category and category in categories:
        return f"every {category} verdict is reviewed"
    if verdict == "unverified" and evidence == 0:
        return None
    if confidence < below:
        return f"confidence {confidence:.2f} below {below:.2f}"
    return None


async def store_story_check(
    uow: UnitOfWork,
    services: Services,
    story_id: int,
    version: int,
    checked: Sequence[CheckedClaim],
) -> None:
    """Write claims and evidence, queue reviews, remember the check, emit story.checked."""
    session = uow.session
    settings = services.settings
    story = await session.get(Story, story_id)
    if story is None:
        return
    now = utcnow()
    by_article: dict[int, list[CheckedClaim]] = {}
    for c in checked:
        if c.doc is not None and c.doc.article_id is not None:
            by_article.setdefault(c.doc.article_id, []).append(c)
    for article_id, claims in by_article.items():
        existing = {
            (row.start, row.end): row
            for row in (await session.execute(select(Claim).where(Claim.article_id == article_id))).scalars()
        }
        keep: set[int] = set()
        for c in claims:
            assert c.doc is not None
            assert c.doc.source_id is not None
            row = existing.get((c.claim.start, c.claim.end))
            if row is None or row.text != c.claim.text:
                if row is not None:
                    await session.delete(row)
                    await session.flush()
                row = Claim(
                    article_id=article_id,
                    source_id=c.doc.source_id,
                    start=c.claim.start,
                    end=c.claim.end,
                    review_status=REVIEW_NONE,
                )
                session.add(row)
            _apply(row, c, story_id, now, services.settings.verifier_provider)
            reason = needs_review(
                row.confidence,
                story.category,
                settings.factcheck_review_below,
                settings.factcheck_review_categories,
                verdict=row.verdict,
                evidence=len(c.evidence),
            )
            if row.review_status == REVIEW_NONE and reason:
                row.review_status, row.review_reason = REVIEW_PENDING, reason
            elif (
                row.review_status in (REVIEW_CONFIRMED, REVIEW_OVERTURNED)
                and row.verdict != row.verdict_at_review
            ):
                row.review_status = REVIEW_PENDING
                row.review_reason = (
                    f"verdict changed from {row.verdict_at_review} to {row.verdict} since review"
                )
            row.final_verdict = row.reviewed_verdict or row.verdict
            await session.flush()
            keep.add(row.id)
            await session.execute(delete(Evidence).where(Evidence.claim_id == row.id))
            session.add_all(_evidence_rows(row.id, c))
        for row in existing.values():
            if row.id not in keep and row.review_status not in (REVIEW_CONFIRMED, REVIEW_OVERTURNED):
                await session.delete(row)
    done = await session.get(StoryCheck, story_id)
    members = await repository.story_members(session, story_id)
    sig = signature(pick_pool(members, POOL_ARTICLES))
    if done is None:
        session.add(
            StoryCheck(
                story_id=story_id,
                story_version=version,
                signature=sig,
                claim_count=len(checked),
                checked_at=now,
            )
        )
    else:
        done.story_version, done.signature, done.claim_count, done.checked_at = (
            version,
            sig,
            len(checked),
            now,
        )
    counts = Counter(c.verdict.verdict for c in checked)
    uow.emit(
        Event(
            CHECKED_TOPIC,
            f"checked:{story_id}:{version}",
            {"story_id": story_id, "version": version, "claims": len(checked), "verdicts": dict(counts)},
            now,
        )
    )


async def carry_forward(uow: UnitOfWork, story_id: int, version: int) -> bool:
    """Announce ``version`` as checked when its evidence pool is the one already checked.

    A new member that does not enter the pool (``pick_pool``) leaves every claim and its
    evidence as they were, so ``check_story`` does no work; the version is still checked,
    and saying so (``story.checked`` with the stored claims' verdicts) lets briefings write
    its script after the short debounce instead of the 30 s grace it gives versions nobody
    announced. Nothing for a story gone, moved on past ``version`` or checked at it already.
    """
    session = uow.session
    story = await session.get(Story, story_id)
    done = await session.get(StoryCheck, story_id)
    if (
        story is None
        or story.status != OPEN
        or done is None
        or not done.story_version < version == story.version
    ):
        return False
    members = await repository.story_members(session, story_id)
    if signature(pick_pool(members, POOL_ARTICLES)) != done.signature:
        return False  # the pool changed meanwhile: that version's own job checks it
    verdicts = Counter(
        (await session.scalars(select(Claim.final_verdict).where(Claim.story_id == story_id))).all()
    )
    done.story_version = version
    uow.emit(
        Event(
            CHECKED_TOPIC,
            f"checked:{story_id}:{version}",
            {
                "story_id": story_id,
                "version": version,
                "claims": sum(verdicts.values()),
                "verdicts": {str(k): n for k, n in verdicts.items()},
            },
            utcnow(),
        )
    )
    return True


def _apply(row: Claim, c: CheckedClaim, story_id: int | None, now: datetime, verifier: str) -> None:
    row.story_id = story_id
    row.text = c.claim.text
    row.language = c.language
    row.score = float(c.claim.score)
    row.kinds = list(c.claim.kinds)
    row.verdict = c.verdict.verdict
    row.confidence = round(float(c.verdict.confidence), 4)
    row.explanation = c.verdict.explanation
    row.detail = c.verdict.detail
    row.verifier = verifier
    row.checked_at = now


def _evidence_rows(claim_id: int, c: CheckedClaim) -> list[Evidence]:
    out = []
    for e in c.evidence:
        doc = e.candidate.doc
        if doc.article_id is None or doc.source_id is None:
            continue
        j = e.judgement
        out.append(
            Evidence(
                claim_id=claim_id,
                article_id=doc.article_id,
                source_id=doc.source_id,
                origin=e.candidate.origin,
                quote=e.candidate.quote,
                start=e.candidate.start,
                end=e.candidate.end,
                stance=j.stance.value,
                score=round(float(j.confidence), 4),
                related=round(float(j.related), 4),
                retrieval_score=e.candidate.retrieval_score,
                conflicts=list(j.conflicts),
            )
        )
    return out


async def check_text(services: Services, text: str, language: str | None) -> list[CheckedClaim]:
    """Check ad-hoc text against the recent corpus; nothing is stored."""
    text = text.strip()
    if not text:
        raise InvalidInput("fact-check: text is empty")
    if len(text) > ADHOC_MAX_CHARS:
        raise InvalidInput(f"fact-check: text is {len(text)} characters; the limit is {ADHOC_MAX_CHARS}")
    lang = language or _guess_language(text)
    engine = await engine_for(services)
    async with services.db.read() as session:
        await engine.corpus.refresh(session)

    prepared = await asyncio.to_thread(adhoc_claims, engine.checker, text, lang)
    corpus_docs = await _corpus_documents(services, engine, prepared, None, set())
    async with services.db.read() as session:
        cred = await repository.credibility(
            session,
            [d.source_id for ds in corpus_docs.values() for d in ds if d.source_id is not None],
            services.settings.factcheck_outlet_prior,
        )
    return await asyncio.to_thread(
        engine.checker.check,
        prepared,
        [],
        corpus_docs,
        credibility=cred,
        default_credibility=services.settings.factcheck_outlet_prior,
    )


def adhoc_claims(checker: Checker, text: str, lang: str) -> list[PreparedClaim]:
    """The claims of posted text (the whole text when none is detected), with their embeddings."""
    found = detect_claims(text, lang, min_score=0.0, limit=ADHOC_CLAIMS)
    if not found:
        found = [DetectedClaim(text=text, start=0, end=len(text), score=0.0, kinds=())]
    return checker.prepare_claims([(None, c, lang) for c in found])


def _guess_language(text: str) -> str:
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    return "ko" if hangul >= max(1, len(text) // 10) else "en"


async def review(
    session: AsyncSession, claim_id: int, decision: str, verdict: str | None, note: str | None
) -> Claim:
    """An editor confirms NewsTalk's verdict or overturns it with another; the agreement gauge follows."""
    claim = await session.get(Claim, claim_id)
    if claim is None:
        raise NotFound(f"claim {claim_id} not found")
    now = utcnow()
    if decision == "confirm":
        if verdict is not None and verdict != claim.verdict:
            raise InvalidInput(
                "review: confirm keeps NewsTalk's verdict; to change it, use decision=overturn"
            )
        claim.review_status, claim.reviewed_verdict = REVIEW_CONFIRMED, claim.verdict
    elif decision == "overturn":
        if verdict is None or verdict not in VERDICTS:
            raise InvalidInput(f"review: overturn needs a verdict, one of {', '.join(VERDICTS)}")
        if verdict == claim.verdict:
            raise InvalidInput(f"review: the verdict already is {verdict}; use decision=confirm")
        claim.review_status, claim.reviewed_verdict = REVIEW_OVERTURNED, verdict
    else:  # pragma: no cover - the schema allows only the two
        raise InvalidInput("review: decision must be confirm or overturn")
    claim.verdict_at_review = claim.verdict
    claim.final_verdict = claim.reviewed_verdict or claim.verdict
    claim.review_note = note
    claim.reviewed_at = now
    claim.review_reason = None
    await session.flush()
    await update_agreement_gauge(session)
    return claim


async def announce_review(uow: UnitOfWork, claim: Claim) -> None:
    """Emit story.checked for the reviewed claim's story, so open pages and webhooks show the editor's verdict."""
    if claim.story_id is None or claim.reviewed_at is None:
        return
    story = await uow.session.get(Story, claim.story_id)
    if story is None:
        return
    finals = (
        await uow.session.execute(select(Claim.final_verdict).where(Claim.story_id == story.id))
    ).scalars()
    counts = Counter(v for v in finals if v)
    uow.emit(
        Event(
            CHECKED_TOPIC,
            f"reviewed:{claim.id}:{claim.reviewed_at.isoformat()}",
            {
                "story_id": story.id,
                "version": story.version,
                "claims": sum(counts.values()),
                "verdicts": dict(counts),
                "reviewed_claim": claim.id,
            },
            claim.reviewed_at,
        )
    )


async def update_agreement_gauge(session: AsyncSession) -> None:
    """Set the agreement gauges from the database (every replica reports the same truth)."""
    confirmed, reviewed = await repository.agreement(session)
    metrics.FACTCHECK_REVIEWED.set(reviewed)
    # With nothing reviewed there is no disagreement; alerts also require a minimum of reviews.
    metrics.FACTCHECK_AGREEMENT.set(confirmed / reviewed if reviewed else 1.0)


async def set_prior(session: AsyncSession, source_id: int, prior: float, note: str | None) -> OutletPrior:
    from newstalk.sources.models import Source

    if await session.get(Source, source_id) is None:
        raise NotFound(f"source {source_id} not found")
    row = await session.get(OutletPrior, source_id)
    if row is None:
        row = OutletPrior(source_id=source_id, prior=prior, note=note, updated_at=utcnow())
        session.add(row)
    else:
        row.prior, row.note, row.updated_at = prior, note, utcnow()
    await session.flush()
    return row
