"""Reader-grade HTML sanitizing (nh3) and HTML to plain text (lxml)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urljoin, urlsplit

import nh3
from lxml import etree  # type: ignore[import-untyped]

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "collapse_whitespace",
    "html_to_text",
    "resolve_url",
    "sanitize_html",
]

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p", "br", "hr", "a", "img", "figure", "figcaption", "picture",
        "ul", "ol", "li", "dl", "dt", "dd",
        "h1", "h2", "h3", "h4", "h5", "h6",
        "blockquote", "q", "cite", "pre", "code", "kbd", "samp",
        "em", "strong", "b", "i", "u", "s", "del", "ins", "mark", "small", "sub", "sup",
        "abbr", "time",
        "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "time": {"datetime"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
}
# Removed together with everything inside them, not just unwrapped.
_DROP_WITH_CONTENT: frozenset[str] = frozenset(
    {"script", "style", "iframe", "noscript", "template", "object", "embed", "svg", "math",
     "frame", "frameset", "form", "button", "select", "textarea"}
)  # fmt: skip
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_LINK_REL = "noopener noreferrer nofollow"

_BLOCK_TAGS: frozenset[str] = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "aside", "nav", "main",
        "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd",
        "blockquote", "pre", "figure", "figcaption", "table", "thead", "tbody", "tfoot",
        "tr", "caption", "hr", "address", "details", "summary", "html", "body",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_SKIP_TEXT_TAGS: frozenset[str] = frozenset(
    {"script", "style", "noscript", "template", "head", "title", "svg", "math", "iframe"}
)
_UrlRelative = Literal["deny"] | tuple[Literal["rewrite_with_base"], str]


def _attribute_filter(element: str, attribute: str, value: str) -> str | None:
    # nh3 applies url_schemes to links; images may only load over http(s). Relative
    # sources pass here and are then rewritten against the base or denied by nh3.
    if element == "img" and attribute == "src":
        scheme = urlsplit(value).scheme.lower()
        return value if scheme in {"", "http", "https"} else None
    return value


def sanitize_html(html: str, base_url: str | None = None) -> str:
    """Sanitize untrusted feed HTML for display; relative links resolve against ``base_url``."""
    if not html or not html.strip():
        return ""
    url_relative: _UrlRelative = "deny"
    if base_url and urlsplit(base_url).scheme.lower() in {"http", "https"}:
        url_relative = ("rewrite_with_base", base_url)
    try:
        return _clean(html, url_relative)
    except ValueError:
        # nh3 rejects a base it cannot parse as a URL; fall back to dropping relative URLs.
        return _clean(html, "deny")


def _clean(html: str, url_relative: _UrlRelative) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        link_rel=_LINK_REL,
        url_schemes=set(_URL_SCHEMES),
        url_relative=url_relative,
        strip_comments=True,
    ).strip()


def resolve_url(value: str | None, base: str | None) -> str | None:
    """Resolve a possibly relative URL against ``base``; None when it is empty or malformed."""
    if not value or not value.strip():
        return None
    try:
        return urljoin(base, value.strip()) if base else value.strip()
    except ValueError:
        return None


def collapse_whitespace(text: str) -> str:
    """Collapse runs of whitespace (non-breaking spaces included) to one space and strip."""
    return " ".join(text.split())


def html_to_text(html: str) -> str:
    """Return the readable text of an HTML fragment: blocks as lines, whitespace collapsed."""
    if not html or not html.strip():
        return ""
    if "<" not in html and "&" not in html:
        return _finish(html)
    try:
        # Plain lxml.etree elements: lxml.html's custom element classes cost a lookup per node.
        root = etree.fromstring(html, etree.HTMLParser(remove_comments=True, remove_pis=True))
    except (etree.ParserError, ValueError):
        return _finish(html)
    if root is None:
        return _finish(html)
    parts: list[str] = []
    append = parts.append
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        tag = element.tag
        if event == "start":
            if tag in _SKIP_TEXT_TAGS:
                walker.skip_subtree()
                continue
            if tag in _BLOCK_TAGS or tag == "br":
                append("\n")
            elif tag in _CELL_TAGS:
                append(" ")
            if element.text:
                append(element.text)
        else:
            if tag in _BLOCK_TAGS:
                append("\n")
            if element.tail:
                append(element.tail)
    return _finish("".join(parts))


def _finish(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)
