"""Main-text extraction from a full article page, for sources whose feeds carry only summaries."""

from __future__ import annotations

from newstalk.ingestion.decode import decode_body
from newstalk.ingestion.sanitize import html_to_text, sanitize_html
from newstalk.kit.text import clean_text

__all__ = ["extract_full_text"]

# Pages larger than this are cut before extraction; article text never needs more and
# trafilatura's cost grows with the tree.
MAX_PAGE_CHARS = 3_000_000
# Extractions shorter than this are navigation or cookie banners, not an article.
MIN_TEXT_CHARS = 200


def extract_full_text(html: bytes | str, url: str) -> tuple[str, str] | None:
    """Extract an article page's main content as (sanitized HTML, plain text), or None."""
    import trafilatura

    text = decode_body(html)[0] if isinstance(html, bytes) else html
    if not text.strip():
        return None
    extracted = trafilatura.extract(
        text[:MAX_PAGE_CHARS],
        url=url,
        output_format="html",
        include_comments=False,
        include_tables=True,
        include_images=True,
        include_links=True,
        include_formatting=True,
        favor_precision=True,
        deduplicate=False,
        with_metadata=False,
    )
    if not extracted:
        return None
    # A page is feed-side input like the feed itself: nothing unstorable reaches an article.
    content_html = clean_text(sanitize_html(extracted, url))
    content_text = html_to_text(content_html)
    if len(content_text) < MIN_TEXT_CHARS:
        return None
    return content_html, content_text
