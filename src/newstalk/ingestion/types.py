"""Value types passed between the pure ingestion steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One item as the feed gives it; HTML fields are raw and unsanitized."""

    guid: str | None
    url: str | None
    title: str
    author: str | None
    summary_html: str | None
    content_html: str | None
    published_at: datetime | None
    updated_at: datetime | None
    image_url: str | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document after parsing; ``format`` is e.g. "rss20", "atom10", "json11"."""

    format: str
    title: str
    site_url: str | None
    feed_url: str | None
    hub_url: str | None
    language: str | None
    entries: tuple[ParsedEntry, ...]
    # RSS <ttl> in seconds: how long the publisher says the document stays fresh.
    ttl_s: int | None = None
