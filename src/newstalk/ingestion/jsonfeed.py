"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) into ParsedFeed."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from newstalk.errors import FeedParseError
from newstalk.ingestion.sanitize import collapse_whitespace, resolve_url
from newstalk.ingestion.types import ParsedEntry, ParsedFeed

__all__ = ["looks_like_json", "parse_date", "parse_json_feed"]

_VERSION_PREFIX = "https://jsonfeed.org/version/"


def looks_like_json(text: str) -> bool:
    """Tell whether a decoded body is a JSON object rather than XML."""
    return text.lstrip()[:1] == "{"


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        # JSON Feed requires a string id, but numeric ids are common in the wild.
        return str(value)
    return None


def parse_date(value: Any) -> datetime | None:
    """Parse an RFC 3339 date into an aware UTC datetime; None when absent or malformed."""
    text = _str(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _author(obj: dict[str, Any]) -> str | None:
    authors = obj.get("authors")
    candidates: list[Any] = list(authors) if isinstance(authors, list) else []
    candidates.append(obj.get("author"))
    for author in candidates:
        if isinstance(author, dict):
            name = _str(author.get("name"))
            if name:
                return name
    return None


def _text_to_html(text: str) -> str:
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)


def _image(item: dict[str, Any], base: str | None) -> str | None:
    for key in ("image", "banner_image"):
        found = resolve_url(_str(item.get(key)), base)
        if found:
            return found
    attachments = item.get("attachments")
    if isinstance(attachments, list):
        for attachment in attachments:
            if not isinstance(attachment, dict):
                continue
            mime = _str(attachment.get("mime_type")) or ""
            if mime.startswith("image/"):
                found = resolve_url(_str(attachment.get("url")), base)
                if found:
                    return found
    return None


def _entry(item: dict[str, Any], base: str | None) -> ParsedEntry:
    link = resolve_url(_str(item.get("url")) or _str(item.get("external_url")), base)
    content_html = _str(item.get("content_html"))
    content_text = _str(item.get("content_text"))
    if content_html is None and content_text is not None:
        content_html = _text_to_html(content_text)
    summary = _str(item.get("summary"))
    title = _str(item.get("title"))
    return ParsedEntry(
        guid=_str(item.get("id")),
        url=link,
        title=collapse_whitespace(title) if title else "",
        author=_author(item),
        summary_html=_text_to_html(summary) if summary else None,
        content_html=content_html,
        published_at=parse_date(item.get("date_published")),
        updated_at=parse_date(item.get("date_modified")),
        image_url=_image(item, base),
    )


def parse_json_feed(text: str, *, url: str) -> ParsedFeed:
    """Parse a decoded JSON Feed 1.0/1.1 document; raises FeedParseError when it is not one."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FeedParseError(f"ingestion: not a feed: invalid JSON ({reason})") from exc
    if not isinstance(document, dict):
        raise FeedParseError("ingestion: not a feed: the JSON body is not an object")
    version = _str(document.get("version")) or ""
    items = document.get("items")
    if not version.startswith(_VERSION_PREFIX) and not isinstance(items, list):
        raise FeedParseError(
            "ingestion: not a feed: the JSON body has no JSON Feed version and no items list"
        )
    number = version.removeprefix(_VERSION_PREFIX).strip("/")
    feed_format = "json11" if number == "1.1" else "json10"
    site_url = resolve_url(_str(document.get("home_page_url")), url)
    base = site_url or url
    hub_url = None
    hubs = document.get("hubs")
    if isinstance(hubs, list):
        for hub in hubs:
            if isinstance(hub, dict) and (hub_url := _str(hub.get("url"))):
                break
    entries = tuple(
        _entry(item, base) for item in (items if isinstance(items, list) else []) if isinstance(item, dict)
    )
    title = _str(document.get("title"))
    return ParsedFeed(
        format=feed_format,
        title=collapse_whitespace(title) if title else "",
        site_url=site_url,
        feed_url=resolve_url(_str(document.get("feed_url")), url),
        hub_url=hub_url,
        language=_str(document.get("language")),
        entries=entries,
    )
