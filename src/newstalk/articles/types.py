"""What ingestion hands to articles: one entry ready to store.

The type lives with its consumer so that articles does not import ingestion (ingestion's
pure steps produce it, ``articles.service.store_articles`` stores it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class NormalizedArticle:
    """An entry ready to store: canonical URL, sanitized HTML, plain text, UTC date, hash."""

    url: str
    guid: str | None
    title: str
    author: str | None
    content_html: str
    content_text: str
    summary: str
    language: str
    published_at: datetime
    content_hash: str
    image_url: str | None
