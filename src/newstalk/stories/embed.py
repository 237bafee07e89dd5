"""The embed stage: article.ingested → e5 embedding and per-article features → article.embedded.

Everything the stories stage derives from one article alone (the e5 vector of its headline,
lead, keywords, entities, MinHash, sentiment) is computed here, in a stage of its own, so
the single stories writer only places articles and refreshes stories. The stage keeps no
state between jobs: run as many replicas as there are cores (``newstalk worker embed``).
It is idempotent by content hash: an article whose stored row has the same content hash
and model is not computed again, and its ``article.embedded`` event is emitted again
(stories skips articles it has already placed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from newstalk.articles.models import Article
from newstalk.kit.bus import Event, Job
from newstalk.kit.db import UnitOfWork
from newstalk.pipeline import topics
from newstalk.pipeline.worker import BatchContext, JobContext
from newstalk.providers.embeddings import shared_embeddings
from newstalk.stories.engine import ArticleInput, article_input, compute, to_stored
from newstalk.stories.models import ArticleEmbedding

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.pipeline.context import StageServices


# What both stages read of an article (``engine.article_input`` and its content hash).
INPUT_COLUMNS = (
    Article.id,
    Article.source_id,
    Article.language,
    Article.title,
    Article.content_text,
    Article.published_at,
    Article.first_seen_at,
    Article.content_hash,
)


def model_label(settings: Settings) -> str:
    """The name stored with each vector: vectors of two models cannot be compared."""
    if settings.embedding_provider == "openai":
        return f"openai:{settings.embedding_model}"[:128]
    return settings.embedding_provider


async def handle_embed_batch(ctx: BatchContext) -> None:
    """Embed a claimed batch in one model call and one unit."""
    await _process(ctx.services, ctx.jobs, ctx)


async def handle_embed(ctx: JobContext) -> None:
    """Embed one job (the fallback when a batch failed)."""
    await _process(ctx.services, [ctx.job], ctx)


async def _process(services: StageServices, jobs: Sequence[Job], ctx: BatchContext | JobContext) -> None:
    settings = services.settings
    model = model_label(settings)
    ids = sorted({int(j.payload["article_id"]) for j in jobs if "article_id" in j.payload})
    articles, hashes, done = await _load(services, ids, model)
    todo = [a for a in articles if a.article_id not in done]
    computed = []
    if todo:
        embeddings = shared_embeddings(services.resources, settings)
        computed = await asyncio.to_thread(compute, embeddings, todo)
    rows = [to_stored(c, hashes[c.article.article_id], model) for c in computed]
    async with ctx.commit() as uow:
        await store(uow, rows)
        found = {a.article_id for a in articles}
        for job in jobs:
            article_id = int(job.payload.get("article_id", 0))
            if article_id not in found:
                continue  # deleted since it was ingested: nothing to place
            uow.emit(
                Event(
                    topics.ARTICLE_EMBEDDED,
                    job.key,
                    topics.ArticleEmbedded(
                        article_id=article_id,
                        source_id=int(job.payload.get("source_id", 0)),
                        content_hash=hashes[article_id],
                        language=str(job.payload.get("language", "")),
                    ),
                    job.first_seen_at,
                )
            )


async def _load(
    services: StageServices, ids: Sequence[int], model: str
) -> tuple[list[ArticleInput], dict[int, str], set[int]]:
    """The articles, their content hashes, and the ids whose stored row is current."""
    if not ids:
        return [], {}, set()
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(
                    *INPUT_COLUMNS,
                    ArticleEmbedding.content_hash.label("stored_hash"),
                    ArticleEmbedding.model.label("stored_model"),
                )
                .outerjoin(ArticleEmbedding, ArticleEmbedding.article_id == Article.id)
                .where(Article.id.in_(ids))
                .order_by(Article.id)
            )
        ).all()
    articles = [article_input(r) for r in rows]
    hashes = {r.id: r.content_hash for r in rows}
    done = {r.id for r in rows if r.stored_hash == r.content_hash and r.stored_model == model}
    return articles, hashes, done


async def store(uow: UnitOfWork, rows: Sequence[dict[str, object]]) -> None:
    """Write computed rows; a row another replica wrote first is replaced (same inputs, same values)."""
    if not rows:
        return
    session = uow.session
    await session.execute(
        delete(ArticleEmbedding).where(ArticleEmbedding.article_id.in_([r["article_id"] for r in rows]))
    )
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ArticleEmbedding)
    await session.execute(ins.on_conflict_do_nothing(index_elements=["article_id"]), list(rows))
