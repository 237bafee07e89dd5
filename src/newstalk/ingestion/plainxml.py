"""Plain RSS 2.0 and Atom 1.0 documents read with lxml, as feedparser would read them.

feedparser is about two thirds of the CPU of parsing a feed (benchmarks/README.md, "Where
NewsTalk's ingest CPU goes"): a SAX parser in Python with a handler call per tag and a
dictionary per value. Most feeds use a handful of elements, so this reader builds lxml's
tree in C and reads those elements into the same dictionary shape ``feedparser.parse``
returns for them (``parse._parse_xml`` turns either into a ``ParsedFeed``). It applies
feedparser's own rules for what it reads: whitespace stripped, relative links and permalink
guids joined to the feed URL, ``&amp;`` in item links, the UTF-8-read-as-Latin-1 repair,
Windows-1252 code points, the plain-text-or-HTML guess for RSS titles, a description winning
over content as the summary, ``isPermaLink`` guids, the last author, dates by feedparser's
date parser.

Anything else returns None and feedparser reads the document as before: an element or
attribute this reader does not know (in an item, or one that feedparser would read into
a field we use at the feed level), markup inside a text element, ``xml:base``, XHTML or
base64 content, a repeated element, a document lxml cannot parse strictly. So the output
is feedparser's output or nothing; ``tests/ingestion/test_plainxml.py`` holds the two
equal on every feed file in ``../shared/data/feeds`` that this reader accepts.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

__all__ = ["read_plain_feed"]

ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
DC = "http://purl.org/dc/elements/1.1/"
MEDIA = "http://search.yahoo.com/mrss/"

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}
_ENTITY_IN_LINK = re.compile(r"&([A-Za-z0-9_]+);")
_HTML = "text/html"
_PLAIN = "text/plain"


class Unsupported(Exception):
    """Something this reader does not read exactly as feedparser would: feedparser reads it."""


def read_plain_feed(data: bytes, base: str) -> dict[str, Any] | None:
    """``feedparser.parse``'s result (version, feed, entries) for a plain RSS 2.0 or Atom 1.0
    document, or None when the document needs feedparser. ``data`` is UTF-8 XML with no
    DOCTYPE (``parse._parse_xml`` prepares it); ``base`` is the feed's URL."""
    if b"xml:base" in data:
        return None
    try:
        root = etree.fromstring(data, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError:
        return None
    try:
        if root.tag == "rss" and root.get("version") == "2.0" and not set(root.attrib.keys()) - {"version"}:
            return _rss(root, base)
        if root.tag == f"{{{ATOM}}}feed":
            return _atom(root, base)
    except Unsupported:
        return None
    return None


# ------------------------------------------------------------------ feedparser's value rules


def _value(el: Any) -> str:
    """An element's text as feedparser's ``pop`` leaves it; markup inside is not read here."""
    if len(el):
        raise Unsupported("markup inside a text element")
    text = (el.text or "").strip()
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):  # UTF-8 read as Latin-1, repaired
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252)


def _name(el: Any) -> str:
    """feedparser's name for an element: a known prefix + lower-cased local name; an element
    in another namespace is ``"?"`` + its local name when feedparser would only store it
    under a key of its own (never one we read), else Unsupported."""
    tag = el.tag
    if not isinstance(tag, str):
        raise Unsupported("entity reference")
    if tag[0] != "{":
        return tag.lower()
    ns, _, local = tag[1:].partition("}")
    prefix = _PREFIXES.get(ns)
    if prefix is not None:
        return f"{prefix}{local.lower()}"
    if ns in _IGNORED_NAMESPACES or (
        ns.lower() not in _FEEDPARSER_NAMESPACES and el.prefix not in _HANDLED_PREFIXES
    ):
        return f"?{local.lower()}"
    raise Unsupported(f"namespace {ns}")


_PREFIXES = {ATOM: "atom:", CONTENT: "content:", DC: "dc:", MEDIA: "media:"}
# Namespaces whose elements feedparser stores under keys of their own, never in a field
# ``parse._entry`` reads (syndication hints, comment links and counts).
_IGNORED_NAMESPACES = frozenset(
    {
        "http://purl.org/rss/1.0/modules/syndication/",
        "http://wellformedweb.org/CommentAPI/",
        "http://purl.org/rss/1.0/modules/slash/",
    }
)
# Every namespace feedparser maps to a prefix, and the prefixes it has handlers for: an
# element in one of them (or an unknown namespace written with such a prefix) may land in
# a field we read, so it is left to feedparser.
_FEEDPARSER_NAMESPACES = frozenset(ns.lower() for ns in _FeedParserMixin.namespaces)
_HANDLED_PREFIXES = frozenset(
    {None, "", "atom", "dc", "dcterms", "media", "itunes", "content", "georss", "geo", "gml", "psc"}
    | {"admin", "cc", "creativecommons", "feedburner", "xhtml", "rdf", "slash", "wfw", "sy"}
)


def _attrs(el: Any, allowed: frozenset[str]) -> dict[str, str]:
    found = {str(k).lower(): str(v) for k, v in el.attrib.items()}
    if found.keys() - allowed:
        raise Unsupported("attribute")
    return found


def _link(el: Any, base: str, context: dict[str, Any]) -> None:
    """An Atom ``<link href>`` (in Atom or RSS): ``_start_link``."""
    attrs = _attrs(el, frozenset({"href", "rel", "type", "title", "hreflang", "length"}))
    if len(el) or (el.text or "").strip() or not attrs.get("href"):
        raise Unsupported("link without href")
    attrs.setdefault("rel", "alternate")
    attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else _HTML)
    attrs["href"] = _urljoin(base, attrs["href"])
    context.setdefault("links", []).append(attrs)
    if attrs["rel"] == "alternate" and _FeedParserMixin.map_content_type(attrs["type"]) in (
        _HTML,
        "application/xhtml+xml",
    ):
        context["link"] = attrs["href"]


def _fields(
    item: Any, base: str, entry: dict[str, Any], skip: Callable[[str], bool]
) -> Iterator[tuple[str, Any]]:
    """An item's children (name, element) to read, each at most once: its Atom links are read
    into ``entry`` here, the ones ``skip`` names are passed over (``dc:creator`` counts as
    ``author``)."""
    seen: set[str] = set()
    for el in item:
        name = _name(el)
        if name == "atom:link":
            _link(el, base, entry)
        elif not skip(name):
            _once(seen, "author" if name == "dc:creator" else name)
            yield name, el


def _once(seen: set[str], name: str) -> None:
    if name in seen:
        raise Unsupported(f"repeated {name}")
    seen.add(name)


# ------------------------------------------------------------------ RSS 2.0


def _rss(root: Any, base: str) -> dict[str, Any]:
    if len(root) != 1 or _name(root[0]) != "channel" or root[0].attrib:
        raise Unsupported("not one channel")
    feed: dict[str, Any] = {}
    entries = []
    seen: set[str] = set()
    for el in root[0]:
        name = _name(el)
        if name == "item":
            entries.append(_rss_item(el, base))
        elif name in ("title", "language", "ttl", "link"):
            _once(seen, name)
            _attrs(el, frozenset())
            value = _value(el)
            if name == "link":
                value = _ENTITY_IN_LINK.sub(r"&\1", _urljoin(base, value)) if value else value
                feed.setdefault("links", []).append({"rel": "alternate", "type": _HTML, **_href(value)})
            feed[name] = value
        elif name == "atom:link":
            _link(el, base, feed)
        elif name.startswith(("atom:", "dc:", "media:")) or name in _CHANNEL_ALIASES:
            raise Unsupported(f"channel <{name}>")  # feedparser may read it into a field we use
    return {"version": "rss20", "feed": feed, "entries": entries}


# Channel elements feedparser reads into (or that move) the feed's title, link or language.
_CHANNEL_ALIASES = frozenset({"source", "entry", "item", "channel", "feed", "id", "content", "body"})
_RSS_IGNORED = frozenset({"category", "comments"})


def _href(value: str) -> dict[str, str]:
    return {"href": value} if value else {}


def _rss_item(item: Any, base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    content: dict[str, Any] | None = None
    if item.attrib:
        raise Unsupported("item attributes")
    for name, el in _fields(item, base, entry, lambda n: n in _RSS_IGNORED or n.startswith("?")):
        if name == "enclosure":
            attrs = _attrs(el, frozenset({"url", "type", "length"}))
            if "url" not in attrs or len(el) or (el.text or "").strip():
                raise Unsupported("enclosure")
            attrs["href"] = attrs.pop("url")
            attrs["rel"] = "enclosure"
            entry.setdefault("links", []).append(attrs)
            continue
        guid = name == "guid" and _attrs(el, frozenset({"ispermalink"})).get("ispermalink", "true") == "true"
        if name != "guid":
            _attrs(el, frozenset())
        value = _value(el)
        if name == "title":
            kind = _HTML if _FeedParserMixin.looks_like_html(value) else _PLAIN
            entry["title"], entry["title_detail"] = value, {"type": kind}
        elif name == "link":
            if value:
                value = _ENTITY_IN_LINK.sub(r"&\1", _urljoin(base, value).replace("&amp;", "&"))
            entry.setdefault("links", []).append({"rel": "alternate", "type": _HTML, **_href(value)})
            entry["link"] = value
        elif name == "guid":
            entry["id"] = _urljoin(base, value) if guid and value else value
            entry["_guid"] = guid
        elif name == "pubdate":
            entry["published_parsed"] = _parse_date(value)
        elif name == "description":
            entry["summary"], entry["summary_detail"] = value, {"type": _HTML}
        elif name == "content:encoded":
            content = {"type": _HTML, "value": value}
            entry["content"] = [content]
        elif name in ("author", "dc:creator"):
            entry["author"] = value
        else:
            raise Unsupported(f"item <{name}>")
    return _finish(entry, content)


def _finish(entry: dict[str, Any], content: dict[str, Any] | None) -> dict[str, Any]:
    """What feedparser adds at the end of an item: the guid as link (``_end_guid``), the
    content as summary when there is none (``_end_content``, without a summary_detail), and
    the enclosures (``FeedParserDict["enclosures"]``)."""
    permalink = entry.pop("_guid", None)
    if permalink is not None:
        entry["guidislink"] = permalink and "link" not in entry
        if permalink:
            entry.setdefault("link", entry["id"])
    if content is not None and "summary" not in entry:
        entry["summary"] = content["value"]
    enclosures = [
        {k: v for k, v in link.items() if k != "rel"}
        for link in entry.get("links", ())
        if link["rel"] == "enclosure"
    ]
    if enclosures:
        entry["enclosures"] = enclosures
    return entry


# ------------------------------------------------------------------ Atom 1.0


_TEXT_TYPES = {"text": _PLAIN, "html": _HTML, "text/plain": _PLAIN, "text/html": _HTML}
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _text_construct(el: Any) -> tuple[str, str]:
    kind = _TEXT_TYPES.get(_attrs(el, frozenset({"type", _XML_LANG.lower()})).get("type", "text").lower())
    if kind is None:
        raise Unsupported("Atom text that is not text or html")
    return _value(el), kind


def _atom(root: Any, base: str) -> dict[str, Any]:
    feed: dict[str, Any] = {}
    if set(root.attrib.keys()) - {_XML_LANG}:
        raise Unsupported("feed attributes")
    lang = root.get(_XML_LANG)
    if lang:
        feed["language"] = lang.replace("_", "-")
    entries = []
    seen: set[str] = set()
    for el in root:
        name = _name(el)
        if name == "atom:entry":
            entries.append(_atom_entry(el, base))
        elif name == "atom:title":
            _once(seen, name)
            feed["title"] = _text_construct(el)[0]
        elif name == "atom:link":
            _link(el, base, feed)
        elif name == "atom:id":
            _once(seen, name)
            _attrs(el, frozenset())
            value = _value(el)
            feed["_id"] = _urljoin(base, value) if value else value
        elif name.startswith(("dc:", "media:")) or name in _ATOM_FEED_ALIASES:
            raise Unsupported(f"feed <{name}>")
    feed_id = feed.pop("_id", None)
    if feed_id is not None:
        feed.setdefault("link", feed_id)  # _end_id: the id is the feed's link when it has none
    return {"version": "atom10", "feed": feed, "entries": entries}


_ATOM_FEED_ALIASES = frozenset({"language", "title", "link", "atom:language", "atom:source", "atom:content"})
_ATOM_IGNORED = frozenset({"atom:category", "atom:rights"})


def _atom_entry(item: Any, base: str) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    content: dict[str, Any] | None = None
    if set(item.attrib.keys()) - {_XML_LANG}:
        raise Unsupported("entry attributes")
    for name, el in _fields(item, base, entry, _ATOM_IGNORED.__contains__):
        if name in ("atom:title", "atom:summary", "atom:content"):
            value, kind = _text_construct(el)
            if name == "atom:content":
                content = {"type": kind, "value": value}
                entry["content"] = [content]
            else:
                key = name[5:]
                entry[key], entry[f"{key}_detail"] = value, {"type": kind}
        elif name == "atom:author":
            entry["author"] = _atom_author(el)
        elif name in ("atom:id", "atom:updated", "atom:published"):
            _attrs(el, frozenset())
            value = _value(el)
            if name == "atom:id":
                entry["id"] = _urljoin(base, value) if value else value
                entry["_guid"] = True
            else:
                entry[f"{name[5:]}_parsed"] = _parse_date(value)
        else:
            raise Unsupported(f"entry <{name}>")
    return _finish(entry, content)


def _atom_author(el: Any) -> str:
    """``_sync_author_detail``: "name (email)", the name, or the email."""
    _attrs(el, frozenset())
    parts: dict[str, str] = {}
    for child in el:
        name = _name(child)
        if name not in ("atom:name", "atom:email", "atom:uri") or name in parts:
            raise Unsupported("author")
        parts[name] = _value(child)
    if (el.text or "").strip():
        raise Unsupported("author text")
    who, email = parts.get("atom:name"), parts.get("atom:email")
    if who and email:
        return f"{who} ({email})"
    if who or email:
        return who or email or ""
    raise Unsupported("author without name or email")
