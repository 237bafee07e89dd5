"""Every file under ../shared/data/feeds goes through parse_feed and normalize_entry.

gofeed ships expected outputs beside its inputs: ``foo.xml`` with ``foo.json`` (parser/,
translator/, extensions/) and ``foo.json`` with ``foo_expected.json`` (JSON Feed). Those
expectation files are checked against our output instead of being parsed as feeds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest

from newstalk.errors import FeedParseError
from newstalk.ingestion.normalize import normalize_entry
from newstalk.ingestion.parse import parse_feed
from newstalk.ingestion.sanitize import collapse_whitespace
from newstalk.ingestion.types import ParsedFeed

FEEDS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "feeds"
FEED_URL = "https://example.com/feeds/main.xml"
FIRST_SEEN = datetime(2026, 1, 1, tzinfo=UTC)

# Inputs that are deliberately not feeds; FeedParseError is the right outcome for them.
EXPECTED_REJECTIONS: frozenset[str] = frozenset(
    {
        "gofeed/testdata/parser/json/invalid/invalid.json",  # "verion" typo, truncated JSON
        "gofeed/testdata/parser/universal/invalid.json",  # same truncated JSON
        "gofeed/testdata/parser/universal/empty_feed.xml",  # zero bytes
        "gofeed/testdata/parser/universal/unknown_feed.xml",  # <note> document
        "miniflux/internal/reader/encoding/testdata/iso-8859-1.html",  # HTML page
        "miniflux/internal/reader/encoding/testdata/iso-8859-1-meta-after-1024.html",
        "miniflux/internal/reader/encoding/testdata/utf8.html",
        "miniflux/internal/reader/encoding/testdata/utf8-meta-after-1024.html",
        "miniflux/internal/reader/xml/testdata/iso88591.xml",  # <note> encoding fixture
        "miniflux/internal/reader/xml/testdata/iso88591_utf8_mismatch.xml",
    }
)

# gofeed expectations we knowingly differ from; key is the expectation file, value the
# field and the reason. Everything not listed must match exactly.
KNOWN_DIFFERENCES: dict[str, str] = {
    # gofeed's raw parsers keep markup in titles; ParsedEntry.title is plain text.
    "gofeed/testdata/parser/atom/atom03_feed_entry_title_html_escaped_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/atom/atom03_feed_entry_title_naked_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/atom/atom03_feed_entry_title_xhtml_inline_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/atom/atom10_feed_entry_title_base64.json": "title: markup reduced to text",
    "gofeed/testdata/parser/atom/atom10_feed_entry_title_html_escaped_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/atom/atom10_feed_entry_title_xhtml_inline_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/atom/entry_summary_xml_base_inherit_3.json": "title: markup reduced to text",
    "gofeed/testdata/parser/atom/entry_title_xml_base.json": "title: markup reduced to text",
    "gofeed/testdata/parser/atom/entry_title_xml_base_inherit.json": "title: markup reduced to text",
    "gofeed/testdata/parser/rss/rdf_item_title_cdata_naked_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/rss/rdf_item_title_escaped_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/rss/rdf_item_title_naked_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/rss/rss_channel_item_title_cdata_naked_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/rss/rss_channel_item_title_escaped_markup.json": "title: markup reduced to text",
    "gofeed/testdata/parser/rss/rss_channel_item_title_naked_markup.json": "title: markup reduced to text",
    # Escaped markup inside the title is text that reads "<p>...</p>" once decoded;
    # gofeed's raw parsers return it still entity-encoded.
    "gofeed/testdata/parser/atom/atom03_feed_entry_title_xhtml_escaped_markup.json": "title: entities decoded",
    "gofeed/testdata/parser/atom/atom10_feed_entry_title_xhtml_escaped_markup.json": "title: entities decoded",
    "gofeed/testdata/parser/rss/rdf_item_title_cdata_escaped_markup.json": "title: entities decoded",
    "gofeed/testdata/parser/rss/rss_channel_item_title_cdata_escaped_markup.json": "title: entities decoded",
    # feedparser takes <media:title> inside <enclosure> as the item title.
    "gofeed/testdata/parser/rss/issue_217_enclosure_children.json": "title: feedparser quirk",
    # feedparser prefers the link's uri="at://..." attribute over its http text.
    "gofeed/testdata/parser/rss/rss_channel_item_uri_at_protocol.json": "link: feedparser quirk",
    # We fall back to atom:updated inside RSS items for the date; gofeed does not.
    "gofeed/testdata/translator/rss/feed_item_updated_-_rss_channel_item_updated_atom.json": (
        "published: updated fallback"
    ),
}


def _all_files() -> list[Path]:
    if not FEEDS_DIR.is_dir():
        return []
    return sorted(p for p in FEEDS_DIR.rglob("*") if p.is_file())


def _expectation_pairs(files: list[Path]) -> dict[Path, Path]:
    """Map each gofeed expectation file to the input it describes."""
    present = set(files)
    pairs: dict[Path, Path] = {}
    for path in files:
        if path.name.endswith("_expected.json"):
            source = path.with_name(path.name.removesuffix("_expected.json") + ".json")
            if source in present:
                pairs[path] = source
        elif path.suffix == ".json" and "gofeed" in path.parts:
            source = path.with_suffix(".xml")
            if source in present:
                pairs[path] = source
    return pairs


ALL_FILES = _all_files()
PAIRS = _expectation_pairs(ALL_FILES)
INPUTS = [p for p in ALL_FILES if p not in PAIRS and p.name != "LICENSE"]


def _rel(path: Path) -> str:
    return path.relative_to(FEEDS_DIR).as_posix()


needs_data = pytest.mark.skipif(
    not ALL_FILES, reason=f"feed corpus not found at {FEEDS_DIR} (../shared/data/feeds)"
)


def _parse(path: Path) -> ParsedFeed:
    return parse_feed(path.read_bytes(), url=FEED_URL)


@needs_data
@pytest.mark.parametrize("path", INPUTS, ids=_rel)
def test_feed_file_parses_and_normalizes(path: Path) -> None:
    if _rel(path) in EXPECTED_REJECTIONS:
        with pytest.raises(FeedParseError) as info:
            _parse(path)
        assert "\n" not in info.value.detail
        assert info.value.detail.startswith("ingestion: not a feed: ")
        return
    feed = _parse(path)
    for entry in feed.entries:
        article = normalize_entry(entry, feed=feed, first_seen_at=FIRST_SEEN)
        if article is None:
            continue
        assert article.url.startswith(("http://", "https://"))
        assert article.published_at.tzinfo is not None
        assert len(article.content_hash) == 64
        assert len(article.summary) <= 300


@needs_data
def test_every_file_is_accounted_for() -> None:
    licenses = [p for p in ALL_FILES if p.name == "LICENSE"]
    assert len(INPUTS) + len(PAIRS) + len(licenses) == len(ALL_FILES)
    assert len(EXPECTED_REJECTIONS) <= 0.02 * len(INPUTS)
    assert len(PAIRS) > 500


def _expected_items(expected: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    key = "entries" if kind == "parser/atom" else "items"
    items = expected.get(key) or []
    return [item for item in items if isinstance(item, dict)]


def _expected_link(item: dict[str, Any], kind: str) -> str | None:
    if kind == "parser/atom":
        for link in item.get("links") or []:
            if link.get("href") and link.get("rel", "alternate") == "alternate":
                return str(link["href"])
        return None
    if kind == "parser/json":
        return item.get("url") or item.get("external_url")
    return item.get("link")


def _expected_date(item: dict[str, Any], kind: str) -> datetime | None:
    if kind == "parser/rss":
        raw = item.get("pubDateParsed")
    elif kind == "parser/json":
        raw = item.get("date_published")
    else:
        raw = item.get("publishedParsed")
    if not raw:
        return None
    return datetime.fromisoformat(raw).astimezone(UTC)


def _kind(expectation: Path) -> str:
    parts = expectation.relative_to(FEEDS_DIR / "gofeed" / "testdata").parts
    return f"{parts[0]}/{parts[1]}" if parts[0] == "parser" else parts[0]


def compare_with_gofeed(expectation: Path, source: Path) -> list[str]:
    """Return the differences between gofeed's expected items and ours, one line each."""
    kind = _kind(expectation)
    expected = json.loads(expectation.read_text(encoding="utf-8"))
    feed = _parse(source)
    theirs = _expected_items(expected, kind)
    problems: list[str] = []
    if len(theirs) != len(feed.entries):
        return [f"item count: gofeed {len(theirs)}, ours {len(feed.entries)}"]
    for index, (item, ours) in enumerate(zip(theirs, feed.entries, strict=True)):
        title = collapse_whitespace(str(item.get("title") or ""))
        if title != ours.title:
            problems.append(f"item {index} title: gofeed {title!r}, ours {ours.title!r}")
        link = _expected_link(item, kind)
        link = urljoin(FEED_URL, link.strip()) if link else None
        if link != ours.url:
            problems.append(f"item {index} link: gofeed {link!r}, ours {ours.url!r}")
        date = _expected_date(item, kind)
        # gofeed's universal translator falls back to the updated date (dc:date, atom
        # modified) for "published", as normalize_entry does; its raw parsers do not.
        ours_date = (
            ours.published_at if kind.startswith("parser/") else (ours.published_at or ours.updated_at)
        )
        if date != ours_date:
            problems.append(f"item {index} published: gofeed {date}, ours {ours_date}")
    return problems


@needs_data
@pytest.mark.parametrize("expectation", sorted(PAIRS), ids=_rel)
def test_matches_gofeed_expectation(expectation: Path) -> None:
    problems = compare_with_gofeed(expectation, PAIRS[expectation])
    if _rel(expectation) in KNOWN_DIFFERENCES:
        assert problems, "listed as a known difference but now matches; remove it from the list"
        return
    assert not problems, "; ".join(problems)


@needs_data
def test_gofeed_match_rate_is_high() -> None:
    matched = sum(1 for exp in PAIRS if _rel(exp) not in KNOWN_DIFFERENCES)
    assert matched / len(PAIRS) >= 0.9
