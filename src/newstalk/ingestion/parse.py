"""Feed bytes into ParsedFeed: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 via feedparser (plain RSS 2.0
and Atom 1.0 read the same way with lxml, ``plainxml.py``), JSON Feed natively.

Leniency follows Miniflux: a document feedparser recognises, or that yields entries, is a
feed even when feedparser flags it "bozo"; only bodies that are not feeds are rejected.
"""

from __future__ import annotations

import calendar
import dataclasses
import html
import re
import time
from datetime import UTC, datetime
from typing import Any

import feedparser

from newstalk.errors import FeedParseError
from newstalk.ingestion.decode import decode_body, to_utf8_xml
from newstalk.ingestion.jsonfeed import looks_like_json, parse_json_feed
from newstalk.ingestion.plainxml import read_plain_feed
from newstalk.ingestion.sanitize import collapse_whitespace, html_to_text, resolve_url
from newstalk.ingestion.types import ParsedEntry, ParsedFeed
from newstalk.kit.text import clean_text

__all__ = ["parse_feed"]

# A DOCTYPE with an internal subset is where entity declarations live (billion laughs,
# external entities). Feeds never need one, so it is cut before any XML parser runs;
# references to the removed entities then stay literal text.
_DOCTYPE_ANYWHERE = re.compile(r"<!DOCTYPE", re.IGNORECASE)
# One item of a prolog: kept (whitespace, processing instructions, comments) or dropped
# (a DOCTYPE with or without internal subset; stray declarations and "]>" of a broken one).
_PROLOG_ITEM = re.compile(
    r"(?P<keep>\s+|<\?.*?\?>|<!--.*?-->)"
    r"|(?P<drop><!DOCTYPE(?:[^\[>]*\[.*?\]\s*>|[^>]*>)"
    r"|<!(?:ENTITY|ELEMENT|ATTLIST|NOTATION)[^>]*>|\]\s*>)",
    re.IGNORECASE | re.DOTALL,
)
_ROOT = re.compile(r"<([A-Za-z_][\w.\-]*(?::[\w.\-]+)?)")
_PROLOG_JUNK = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.DOTALL)
_FEED_ROOTS = frozenset({"rss", "feed", "rdf:rdf", "rdf", "channel"})
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_MAX_REASON = 160
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_CHARREF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));?")


def _drop_bad_charref(match: re.Match[str]) -> str:
    hexa, decimal = match.groups()
    code = int(hexa, 16) if hexa else int(decimal)
    if code == 0 or 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return ""
    return match.group(0)


def _drop_bad_charrefs(text: str) -> str:
    # feedparser raises UnicodeEncodeError on "&#xD800;" and ValueError beyond U+10FFFF;
    # such a reference names no character, so it goes before parsing.
    return _CHARREF.sub(_drop_bad_charref, text) if "&#" in text else text


def _strip_doctype(text: str) -> str:
    """``text`` without DOCTYPE and markup declarations anywhere in its prolog.

    The whole prolog (everything before the root element) is scanned, however long: padding
    it past a fixed window used to let an internal subset through (issue 13).
    """
    if _DOCTYPE_ANYWHERE.search(text) is None:
        return text
    kept: list[str] = []
    position = 0
    while True:
        match = _PROLOG_ITEM.match(text, position)
        if match is None or match.end() == position:
            break
        if match.lastgroup == "keep":
            kept.append(match.group(0))
        position = match.end()
    return "".join(kept) + text[position:]


def _root_element(text: str) -> str | None:
    position = 0
    while True:
        match = _PROLOG_JUNK.match(text, position)
        if not match or match.end() == position:
            break
        position = match.end()
    root = _ROOT.search(text, position, position + 4096)
    return root.group(1).lower() if root else None


def _not_a_feed_reason(text: str) -> str:
    stripped = text.strip()
    if not stripped:
        return "ingestion: not a feed: the body is empty"
    root = _root_element(stripped)
    if root is None:
        return "ingestion: not a feed: the body is not XML or JSON"
    if root == "html":
        return "ingestion: not a feed: the body is HTML with no <rss>, <feed> or <rdf:RDF> root"
    if root in _FEED_ROOTS:
        return f"ingestion: not a feed: the <{root}> document could not be read"
    return f"ingestion: not a feed: the root element <{root[:40]}> is not <rss>, <feed> or <rdf:RDF>"


def _version_from_root(text: str) -> str | None:
    # feedparser reports no version for a feed root with nothing in it (e.g. an empty RSS
    # 0.90 document); that is still a valid, empty feed.
    root = _root_element(text.strip())
    if root is None or root not in _FEED_ROOTS:
        return None
    if root.endswith("rdf"):
        return "rss090" if "netscape.com/rdf/simple/0.9" in text[:4096] else "rss10"
    return "atom" if root == "feed" else "rss"


def _utc(parsed: Any) -> datetime | None:
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _detail_html(detail: Any, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    mime = detail.get("type", "") if isinstance(detail, dict) else ""
    if mime == "text/plain":
        return html.escape(value)
    return value


def _title(entry: Any) -> str:
    value = entry.get("title")
    if not isinstance(value, str) or not value:
        return ""
    value = _CONTROL_CHARS.sub("", value)
    detail = entry.get("title_detail") or {}
    # Titles are shown as plain text; markup in them (declared or not, as Miniflux also
    # assumes) is reduced to its text.
    if detail.get("type") in ("text/html", "application/xhtml+xml") or _TAG.search(value):
        return collapse_whitespace(html_to_text(value))
    return collapse_whitespace(value)


def _content(entry: Any) -> str | None:
    contents = entry.get("content") or []
    for content in contents:
        found = _detail_html(content, content.get("value"))
        if found:
            return found
    return None


def _image(entry: Any, base: str | None) -> str | None:
    for key in ("media_thumbnail", "media_content"):
        for media in entry.get(key) or []:
            medium = media.get("medium", "")
            mime = media.get("type", "")
            if key == "media_thumbnail" or medium == "image" or mime.startswith("image/"):
                found = resolve_url(media.get("url"), base)
                if found:
                    return found
    for enclosure in entry.get("enclosures") or []:
        if str(enclosure.get("type", "")).startswith("image/"):
            found = resolve_url(enclosure.get("href"), base)
            if found:
                return found
    image = entry.get("image")
    if isinstance(image, dict):
        return resolve_url(image.get("href"), base)
    return None


def _link(links: Any, rel: str) -> str | None:
    for link in links or []:
        if link.get("rel") == rel and link.get("href"):
            return str(link["href"])
    return None


def _entry(entry: Any, base: str) -> ParsedEntry:
    # feedparser copies a permalink guid into "link"; the URL field keeps only real links
    # and normalize_entry decides whether the guid may serve as the URL.
    link = entry.get("link")
    links = dict.get(entry, "links")
    if entry.get("guidislink") and link == entry.get("id") and not _link(links, "alternate"):
        link = None
    link = resolve_url(link, base)
    author = entry.get("author")
    # dict.get bypasses feedparser's deprecated updated->published key fallback.
    published = dict.get(entry, "published_parsed") or dict.get(entry, "created_parsed")
    return ParsedEntry(
        guid=entry.get("id") or None,
        url=link,
        title=_title(entry),
        author=collapse_whitespace(author) or None if isinstance(author, str) else None,
        summary_html=_detail_html(entry.get("summary_detail"), entry.get("summary")),
        content_html=_content(entry),
        published_at=_utc(published),
        updated_at=_utc(dict.get(entry, "updated_parsed")),
        image_url=_image(entry, link or base),
    )


def prepare_xml(text: str) -> bytes:
    """Decoded feed text as the XML parsers get it: no DOCTYPE, no reference to a
    non-character, UTF-8 with a declaration that says so."""
    return to_utf8_xml(_drop_bad_charrefs(_strip_doctype(text)))


def read_with_feedparser(data: bytes, url: str) -> Any:
    """``feedparser.parse`` of prepared XML, as NewsTalk calls it (no sanitizing, no rewriting)."""
    return feedparser.parse(
        data,
        sanitize_html=False,
        resolve_relative_uris=False,
        response_headers={
            "content-type": "application/xml; charset=utf-8",
            "content-location": url,
        },
    )


def _parse_xml(text: str, url: str) -> ParsedFeed:
    data = prepare_xml(text)
    # A plain RSS 2.0 or Atom 1.0 document is read with lxml into feedparser's shape, by
    # feedparser's rules (plainxml.py); anything else, malformed or unusual, by feedparser.
    return feed_from(read_plain_feed(data, url) or read_with_feedparser(data, url), text, url)


def feed_from(result: Any, text: str, url: str) -> ParsedFeed:
    """The ParsedFeed of a ``feedparser.parse``-shaped result; FeedParseError when it found no feed."""
    version = result.get("version") or ""
    feed = result.get("feed") or {}
    entries = result.get("entries") or []
    if not version and not entries:
        version = _version_from_root(text)
        if not version:
            raise FeedParseError(_not_a_feed_reason(text)[:_MAX_REASON])
    site_url = resolve_url(feed.get("link"), url)
    title = feed.get("title")
    links = feed.get("links")
    return ParsedFeed(
        format=version or "unknown",
        title=collapse_whitespace(title) if isinstance(title, str) else "",
        site_url=site_url,
        feed_url=_link(links, "self"),
        hub_url=_link(links, "hub"),
        language=feed.get("language") or None,
        entries=tuple(_entry(entry, url) for entry in entries),
        ttl_s=_ttl_s(feed.get("ttl")),
    )


# A week: anything longer is a typo or "never poll", and the freshness target caps it anyway.
_MAX_TTL_S = 7 * 24 * 3600


def _ttl_s(value: Any) -> int | None:
    """RSS ``<ttl>`` (minutes) in seconds; None when absent or not a positive whole number."""
    text = value.strip() if isinstance(value, str) else ""
    if not text.isdigit() or int(text) <= 0:
        return None
    return min(int(text) * 60, _MAX_TTL_S)


def _clean(item: Any) -> Any:
    changes = {}
    for f in dataclasses.fields(item):
        value = getattr(item, f.name)
        if isinstance(value, str):
            cleaned = clean_text(value)
            if cleaned is not value:
                changes[f.name] = cleaned
    return dataclasses.replace(item, **changes) if changes else item


def clean_feed(feed: ParsedFeed) -> ParsedFeed:
    """The feed with NUL and lone surrogates dropped from every text field (see kit/text.py)."""
    entries = tuple(_clean(entry) for entry in feed.entries)
    cleaned: ParsedFeed = _clean(feed)
    return dataclasses.replace(cleaned, entries=entries)


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a fetched feed body of any supported format; raises FeedParseError if it is not one.

    Every text field of the result is storable on every database (``clean_feed``).
    """
    return clean_feed(_parse_any(body, url=url, content_type=content_type))


def _parse_any(body: bytes, *, url: str, content_type: str | None) -> ParsedFeed:
    if not body or not body.strip():
        raise FeedParseError("ingestion: not a feed: the body is empty")
    text, _codec = decode_body(body, content_type)
    text = text.lstrip("\ufeff")
    if looks_like_json(text):
        return parse_json_feed(text, url=url)
    if content_type and content_type.split(";")[0].strip().lower() in _HTML_TYPES:
        root = _root_element(text.strip())
        if root not in _FEED_ROOTS:
            raise FeedParseError(_not_a_feed_reason(text)[:_MAX_REASON])
    return _parse_xml(text, url)
