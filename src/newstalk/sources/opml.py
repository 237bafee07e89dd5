"""OPML import and export of feed subscriptions.

Parsing never expands entities, never loads a DTD or anything over the network, and
refuses documents that declare entities at all: OPML has no use for them, and
refusing them closes "billion laughs" and external-entity attacks outright.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import urlsplit

import lxml.etree  # type: ignore[import-untyped, unused-ignore]

from newstalk.errors import InvalidInput

MAX_OPML_BYTES = 5 * 1024 * 1024
_ENTITY_DECL = re.compile("<!ENTITY", re.IGNORECASE)
_XML_DECL = re.compile(r"""^\s*<\?xml[^>]*\?>""")
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_BARE_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class OpmlOutline:
    """One subscription: feed URL, its title, the site's URL and the folder it sits in."""

    feed_url: str
    title: str | None
    site_url: str | None
    category: str | None


def _parse_xml(data: bytes) -> lxml.etree._Element | None:
    parser = lxml.etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    root: lxml.etree._Element | None = lxml.etree.fromstring(data, parser=parser)
    return root


def _repair(data: bytes) -> bytes:
    """Escape stray ampersands and drop characters XML forbids; data is UTF-8 here."""
    text = _XML_INVALID.sub("", data.decode("utf-8"))
    return _BARE_AMPERSAND.sub("&amp;", text).encode("utf-8")


def _attr(element: lxml.etree._Element, name: str) -> str | None:
    """Read an attribute case-insensitively (exporters write xmlUrl, xmlurl, XMLURL)."""
    wanted = name.lower()
    for key, value in element.attrib.items():
        if isinstance(key, str) and key.lower() == wanted:
            cleaned = " ".join(str(value).split())
            return cleaned or None
    return None


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _label(element: lxml.etree._Element) -> str | None:
    return _attr(element, "text") or _attr(element, "title")


def _as_utf8(data: bytes) -> bytes:
    """Decode with Python's codecs, refuse entity declarations, return UTF-8 without prolog.

    The entity check must see decoded text: libxml2 expands internal entities in
    attribute values even with resolve_entities=False, and a byte-level check could be
    dodged with UTF-16 or UTF-7 input.
    """
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding is None:
        declared = _DECLARED_ENCODING.match(data)
        encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        text = data.decode(encoding)
    except LookupError:
        raise InvalidInput(f"opml: file declares unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"opml: file is not valid {encoding} ({exc.reason})") from None
    if "\x00" in text:
        # NUL never occurs in XML; it means UTF-16/32 without a BOM, which libxml2 would
        # re-detect on its own and so slip past the entity check.
        raise InvalidInput("opml: file contains NUL bytes; save it as UTF-8")
    if _ENTITY_DECL.search(text):
        raise InvalidInput("opml: file declares XML entities, which are not allowed")
    return _XML_DECL.sub("", text.lstrip("\ufeff"), count=1).encode("utf-8")


def parse_opml(data: bytes) -> list[OpmlOutline]:
    """Read feed subscriptions from an OPML document; folders become categories."""
    if len(data) > MAX_OPML_BYTES:
        raise InvalidInput(f"opml: file is larger than {MAX_OPML_BYTES} bytes")
    data = _as_utf8(data)
    try:
        root = _parse_xml(data)
    except lxml.etree.XMLSyntaxError as exc:
        # Many exporters write bare "&" in URLs or control characters in titles.
        try:
            root = _parse_xml(_repair(data))
        except lxml.etree.XMLSyntaxError:
            raise InvalidInput(f"opml: file is not well-formed XML ({exc})") from None
    if root is None or not isinstance(root.tag, str) or root.tag.lower() != "opml":
        raise InvalidInput("opml: file has no <opml> root element; is this an OPML export?")
    body = next((c for c in root if isinstance(c.tag, str) and c.tag.lower() == "body"), None)
    if body is None:
        raise InvalidInput("opml: file has no <body> element")
    found: list[OpmlOutline] = []
    seen: set[str] = set()
    _walk(body, None, found, seen)
    return found


def _walk(
    parent: lxml.etree._Element,
    category: str | None,
    found: list[OpmlOutline],
    seen: set[str],
) -> None:
    for element in parent:
        if not isinstance(element.tag, str) or element.tag.lower() != "outline":
            continue
        feed_url = _attr(element, "xmlUrl")
        if feed_url is None:
            _walk(element, _label(element) or category, found, seen)
            continue
        if _is_web_url(feed_url) and feed_url not in seen:
            seen.add(feed_url)
            title = _label(element)
            site_url = _attr(element, "htmlUrl")
            found.append(
                OpmlOutline(
                    feed_url=feed_url,
                    title=None if title == feed_url else title,
                    site_url=site_url if site_url and _is_web_url(site_url) else None,
                    category=category,
                )
            )
        _walk(element, category, found, seen)


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def render_opml(outlines: Sequence[OpmlOutline], title: str) -> bytes:
    """Write subscriptions as an OPML 2.0 document, one folder per category."""
    root = lxml.etree.Element("opml", version="2.0")
    head = lxml.etree.SubElement(root, "head")
    lxml.etree.SubElement(head, "title").text = _clean(title)
    lxml.etree.SubElement(head, "dateCreated").text = formatdate(usegmt=True)
    body = lxml.etree.SubElement(root, "body")
    folders: dict[str, lxml.etree._Element] = {}
    for outline in outlines:
        parent = body
        if outline.category:
            parent = folders.get(outline.category)
            if parent is None:
                label = _clean(outline.category)
                parent = lxml.etree.SubElement(body, "outline", text=label, title=label)
                folders[outline.category] = parent
        element = lxml.etree.SubElement(parent, "outline", type="rss")
        name = _clean(outline.title) if outline.title else _clean(outline.feed_url)
        element.set("text", name)
        if outline.title:
            element.set("title", name)
        element.set("xmlUrl", _clean(outline.feed_url))
        if outline.site_url:
            element.set("htmlUrl", _clean(outline.site_url))
    result: bytes = lxml.etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return result
