"""One parsed entry into a storable article: canonical URL, safe HTML, text, language, hash."""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC, datetime, timedelta

from newstalk.articles.types import NormalizedArticle
from newstalk.errors import InvalidInput
from newstalk.ingestion.language import detect_language
from newstalk.ingestion.sanitize import html_to_text, resolve_url, sanitize_html
from newstalk.ingestion.types import ParsedEntry, ParsedFeed
from newstalk.ingestion.urls import canonicalize_url, is_http_url

__all__ = ["content_hash", "normalize_entry", "summarize"]

SUMMARY_CHARS = 300
TITLE_CHARS = 80
# Dates further ahead than this are feed clock or time-zone errors, not scheduled posts.
FUTURE_TOLERANCE = timedelta(days=1)


def _cut(text: str, limit: int) -> str:
    """Cut plain text to at most ``limit`` characters at a word boundary, marking the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip(" ,.;:-") + "…"


def summarize(text: str, limit: int = SUMMARY_CHARS) -> str:
    """Return a plain-text summary of at most ``limit`` characters, cut at a word boundary."""
    return _cut(text, limit)


def content_hash(title: str, text: str) -> str:
    """Hash title and text so the same content under two URLs collides (NFC, casefold, spaces)."""
    normalized = unicodedata.normalize("NFC", f"{title}\n{text}").casefold()
    return hashlib.sha256(" ".join(normalized.split()).encode("utf-8")).hexdigest()


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _article_url(entry: ParsedEntry, base: str | None) -> str | None:
    candidates = [entry.url]
    if is_http_url(entry.guid):
        candidates.append(entry.guid)
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return canonicalize_url(candidate, base)
        except InvalidInput:
            continue
    return None


def normalize_entry(
    entry: ParsedEntry, *, feed: ParsedFeed, first_seen_at: datetime
) -> NormalizedArticle | None:
    """Turn a parsed entry into an article, or None when it has no usable http(s) URL."""
    url = _article_url(entry, feed.site_url or feed.feed_url)
    if url is None:
        return None
    seen = _as_utc(first_seen_at)

    raw_html = entry.content_html or entry.summary_html or ""
    content_html = sanitize_html(raw_html, url)
    content_text = html_to_text(content_html)
    summary_source = content_text
    if entry.content_html and entry.summary_html and entry.summary_html != entry.content_html:
        summary_source = html_to_text(entry.summary_html) or content_text
    summary = summarize(summary_source)
    title = entry.title or _cut(content_text, TITLE_CHARS)

    published = entry.published_at or entry.updated_at
    published_at = _as_utc(published) if published else seen
    if published_at > seen + FUTURE_TOLERANCE:
        published_at = seen

    # Image URLs are only resolved, not canonicalized: CDNs sign their query strings.
    image_url = resolve_url(entry.image_url, url)
    if not is_http_url(image_url):
        image_url = None

    return NormalizedArticle(
        url=url,
        guid=entry.guid,
        title=title,
        author=entry.author,
        content_html=content_html,
        content_text=content_text,
        summary=summary,
        language=detect_language(f"{title}\n{content_text}", feed.language),
        published_at=published_at,
        content_hash=content_hash(title, content_text),
        image_url=image_url,
    )
