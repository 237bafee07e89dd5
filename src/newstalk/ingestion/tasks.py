"""The extract stage: a summary-only article's full text from its page."""

from __future__ import annotations

import asyncio
import logging

from newstalk.articles.models import Article
from newstalk.errors import FetchError
from newstalk.ingestion.extract import extract_full_text
from newstalk.pipeline.worker import JobContext

log = logging.getLogger(__name__)

# Fetch failures worth a retry (the job fails and the queue redelivers it); others are final.
TRANSIENT_FETCH_REASONS = frozenset({"timeout", "connect"})


async def handle_extract(ctx: JobContext) -> None:
    """Replace a summary-only article's text with the full text of its page."""
    article_id = int(ctx.job.payload["article_id"])
    async with ctx.services.db.read() as session:
        article = await session.get(Article, article_id)
        if article is None or article.full_text_extracted:
            return
        url = article.url
    try:
        page = await ctx.services.fetcher.fetch(url, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5")
    except FetchError as exc:
        if exc.reason in TRANSIENT_FETCH_REASONS:
            raise
        log.info("extract: keeping the summary of article %s: %s", article_id, exc.detail)
        return
    extracted = await asyncio.to_thread(extract_full_text, page.body, page.url)
    async with ctx.commit() as uow:
        art = await uow.session.get(Article, article_id)
        if art is None:
            return
        art.full_text_extracted = True
        if extracted is not None:
            html, text = extracted
            if len(text) > len(art.content_text):
                art.content_html, art.content_text = html, text
