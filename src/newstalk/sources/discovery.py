"""Feed autodiscovery: find feed links in HTML pages and sniff whether a body is a feed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.etree  # type: ignore[import-untyped, unused-ignore]
import lxml.html  # type: ignore[import-untyped, unused-ignore]

FEED_TYPES: dict[str, str] = {
    "application/rss+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "json",
    "application/json": "json",
    "application/rdf+xml": "rdf",
}

_XML_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(rss|feed|RDF)[\s>/]")
_JSONFEED_VERSION = "https://jsonfeed.org/version/"
_JSONFEED_MARKER = re.compile(rb'"version"\s*:\s*"https://jsonfeed\.org/version/')
_SNIFF_BYTES = 4096
_JSON_PARSE_LIMIT = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DiscoveredFeed:
    """A feed advertised by a page: absolute URL, its title if given, and rss/atom/json/rdf."""

    url: str
    title: str | None
    type: str


def discover_feeds(html: bytes, base_url: str) -> list[DiscoveredFeed]:
    """List feeds advertised with <link rel="alternate"> in an HTML page, in page order."""
    if not html.strip():
        return []
    try:
        html.decode("utf-8")
    except UnicodeDecodeError:
        # Not UTF-8: let libxml2 honour <meta charset> or fall back to its default.
        parser = lxml.html.HTMLParser(recover=True)
    else:
        parser = lxml.html.HTMLParser(recover=True, encoding="utf-8")
    try:
        document = lxml.html.document_fromstring(html, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return []
    base = base_url
    for element in document.iter("base"):
        href = (element.get("href") or "").strip()
        if href:
            base = urljoin(base_url, href)
            break
    found: list[DiscoveredFeed] = []
    seen: set[str] = set()
    for link in document.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        if "alternate" not in rels:
            continue
        mime = (link.get("type") or "").split(";")[0].strip().lower()
        kind = FEED_TYPES.get(mime)
        href = (link.get("href") or "").strip()
        if kind is None or not href:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        title = " ".join((link.get("title") or "").split()) or None
        found.append(DiscoveredFeed(url=url, title=title, type=kind))
    return found


def looks_like_feed(body: bytes, content_type: str | None) -> bool:
    """Cheaply tell whether a body is an RSS, Atom, RDF or JSON Feed document."""
    head = body[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    mime = (content_type or "").split(";")[0].strip().lower()
    if head.startswith(b"{") or mime in ("application/feed+json", "application/json"):
        return _is_json_feed(body)
    if head.lower().startswith((b"<!doctype html", b"<html")):
        return False
    return _XML_ROOT.match(_strip_prolog(head)) is not None


def _strip_prolog(head: bytes) -> bytes:
    """Drop the XML declaration, comments, doctype and processing instructions before the root."""
    rest = head
    while True:
        rest = rest.lstrip()
        if rest.startswith(b"<?"):
            end, skip = rest.find(b"?>"), 2
        elif rest.startswith(b"<!--"):
            end, skip = rest.find(b"-->"), 3
        elif rest.startswith(b"<!"):
            end, skip = rest.find(b">"), 1
        else:
            return rest
        if end < 0:
            return b""
        rest = rest[end + skip :]


def _is_json_feed(body: bytes) -> bool:
    """Match the version marker in the head; parse whole bodies only when small."""
    if _JSONFEED_MARKER.search(body[:_SNIFF_BYTES]):
        return True
    if len(body) > _JSON_PARSE_LIMIT:
        return False
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    version = data.get("version")
    return isinstance(version, str) and version.startswith(_JSONFEED_VERSION)
