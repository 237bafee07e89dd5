"""The lxml reader of plain RSS 2.0 / Atom 1.0 gives feedparser's output, or leaves the feed to it.

Differential: every file of the real feed corpus (``../shared/data/feeds``: gofeed's and
Miniflux's test feeds), every feed the benchmarks serve, and hand-written cases of each
rule, read both ways; where the lxml reader accepts a document, the ``ParsedFeed`` must be
equal field for field.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newstalk.errors import FeedParseError
from newstalk.ingestion.decode import decode_body
from newstalk.ingestion.parse import feed_from, parse_feed, prepare_xml, read_with_feedparser
from newstalk.ingestion.plainxml import read_plain_feed
from newstalk.ingestion.types import ParsedFeed
from tests.ingestion.test_real_feeds import ALL_FILES, FEED_URL, FEEDS_DIR, needs_data

_FEEDS_PY = Path(__file__).resolve().parents[2] / "benchmarks" / "_feeds.py"
_spec = importlib.util.spec_from_file_location("benchmark_feeds", _FEEDS_PY)
assert _spec is not None
assert _spec.loader is not None
_feeds = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_feeds)


def both_ways(body: bytes, url: str = FEED_URL) -> tuple[ParsedFeed | None, ParsedFeed | None]:
    """(lxml reader's feed or None when it declines, feedparser's feed or None when not a feed)."""
    text = decode_body(body, None)[0].lstrip("\ufeff")
    data = prepare_xml(text)
    plain = read_plain_feed(data, url)
    try:
        expected = feed_from(read_with_feedparser(data, url), text, url)
    except FeedParseError:
        expected = None
    return (feed_from(plain, text, url) if plain is not None else None), expected


XML_FILES = [p for p in ALL_FILES if p.suffix in (".xml", ".rss", ".atom") or p.name.endswith("feed")]


@needs_data
def test_every_corpus_feed_the_reader_accepts_reads_as_feedparser_reads_it() -> None:
    accepted, differences = [], []
    for path in XML_FILES:
        try:
            plain, expected = both_ways(path.read_bytes())
        except (UnicodeDecodeError, FeedParseError):
            continue
        if plain is None:
            continue
        accepted.append(path)
        if plain != expected:
            differences.append(f"{path.relative_to(FEEDS_DIR)}:\n  lxml {plain}\n  feedparser {expected}")
    assert not differences, "\n".join(differences[:5])
    # The reader takes a real share of the corpus (210 of its 559 files, most of the rest
    # being edge cases made to break parsers).
    assert len(accepted) >= 200, len(accepted)


def test_the_benchmark_feeds_are_all_read_by_lxml_as_feedparser_reads_them() -> None:
    epoch = datetime(2026, 12, 1, tzinfo=UTC)
    for feed in range(8):  # Korean and English, RSS and Atom
        body = _feeds.render_feed(feed, 60, 50, 1, epoch)
        plain, expected = both_ways(body, f"http://127.0.0.1:8000/feed/{feed}.xml")
        assert plain is not None, feed
        assert plain == expected
        assert len(plain.entries) == 50
        assert plain.entries[0].published_at or plain.entries[0].updated_at


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:wfw="http://wellformedweb.org/CommentAPI/">
<channel>
  <title> 연합 뉴스 &amp; Co </title>
  <link>/news/</link>
  <atom:link rel="self" href="https://example.com/feeds/main.xml"/>
  <atom:link rel="hub" href="https://hub.example.com/"/>
  <language>ko</language><ttl>15</ttl>
  <image><title>logo</title><url>https://example.com/logo.png</url><link>https://example.com/</link></image>
  {items}
</channel></rss>"""

ITEMS = {
    "plain": "<item><title>Rates rise</title><link>https://example.com/a?x=1&amp;y=2</link>"
    "<guid>https://example.com/a</guid><pubDate>Tue, 01 Dec 2026 10:00:00 +0900</pubDate>"
    "<description>&lt;p&gt;The bank &amp;amp; the rate.&lt;/p&gt;</description></item>",
    "guid as link": "<item><title>T</title><guid>/story/7</guid><description>d</description></item>",
    "guid not a permalink": '<item><title>T</title><guid isPermaLink="false">tag:x,7</guid></item>',
    "content, no description": "<item><title>T</title><link>/b</link>"
    "<content:encoded><![CDATA[<p>Full <b>text</b></p>]]></content:encoded><dc:creator>Kim</dc:creator></item>",
    "content then description": "<item><title>T</title><link>/c</link><content:encoded>full</content:encoded>"
    "<description>short</description><wfw:commentRss>https://example.com/c/feed</wfw:commentRss></item>",
    "html title": "<item><title>&lt;b&gt;Bold&lt;/b&gt; news &amp;amp; more</title><link>/d</link></item>",
    "entity-looking title": "<item><title>AT&amp;T &amp;amp; Q&amp;A</title><link>/e</link></item>",
    "image enclosure": '<item><title>T</title><link>/f</link><enclosure url="/img.jpg" type="image/jpeg" length="1"/></item>',
    "mojibake": "<item><title>CafÃ© â\u0080\u0099s</title><link>/g</link></item>",
    "empty link": "<item><title>T</title><link></link><guid>https://example.com/h</guid></item>",
    "atom link in item": '<item><title>T</title><atom:link href="/i" rel="alternate"/></item>',
    "email author": "<item><title>T</title><link>/j</link><author>kim@example.com (Kim)</author></item>",
    "unparseable date": "<item><title>T</title><link>/k</link><pubDate>yesterday</pubDate></item>",
}


@pytest.mark.parametrize("case", sorted(ITEMS))
def test_rss_rules(case: str) -> None:
    plain, expected = both_ways(RSS.format(items=ITEMS[case]).encode())
    assert plain is not None, case
    assert plain == expected
    assert (plain.language, plain.ttl_s, plain.hub_url) == ("ko", 900, "https://hub.example.com/")


ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en_GB">
  <title type="text">Wire</title><id>urn:x</id><updated>2026-12-01T00:00:00Z</updated>
  <link href="https://example.com/"/><link rel="self" href="/atom.xml"/>
  {entries}
</feed>"""

ENTRIES = {
    "html content": '<entry><title type="html">&lt;i&gt;A&lt;/i&gt;</title><link href="/a"/><id>/a</id>'
    '<updated>2026-12-01T01:00:00+09:00</updated><content type="html">&lt;p&gt;x&lt;/p&gt;</content>'
    "<author><name>Lee</name><email>lee@example.com</email></author></entry>",
    "text summary": "<entry><title>B &amp; C</title><id>https://example.com/b</id>"
    "<published>2026-12-01T01:00:00Z</published><summary>1 &lt; 2</summary></entry>",
    "id before link": '<entry><id>https://example.com/c</id><link rel="alternate" type="text/html" '
    'href="https://example.com/c"/><title>C</title></entry>',
    "non-html alternate": '<entry><id>https://example.com/d</id><link rel="alternate" type="application/pdf" '
    'href="/d.pdf"/><link rel="enclosure" type="image/png" href="/d.png"/><title>D</title></entry>',
}


@pytest.mark.parametrize("case", sorted(ENTRIES))
def test_atom_rules(case: str) -> None:
    plain, expected = both_ways(ATOM.format(entries=ENTRIES[case]).encode())
    assert plain is not None, case
    assert plain == expected
    assert (plain.language, plain.feed_url) == ("en-GB", "https://example.com/atom.xml")


DECLINED = {
    "markup in description": RSS.format(
        items="<item><title>T</title><description><p>x</p></description></item>"
    ),
    "unknown item element": RSS.format(items="<item><title>T</title><source url='x'>S</source></item>"),
    "itunes summary": RSS.format(
        items='<item xmlns:itunes="http://www.itunes.com/DTDs/PodCast-1.0.dtd"><title>T</title>'
        "<itunes:summary>s</itunes:summary></item>"
    ),
    "two titles": RSS.format(items="<item><title>A</title><title>B</title></item>"),
    "xml:base": ATOM.format(entries='<entry xml:base="/x/"><title>T</title><id>a</id></entry>'),
    "xhtml content": ATOM.format(
        entries='<entry><title>T</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div>'
        "</content></entry>"
    ),
    "rss 0.91": '<rss version="0.91"><channel><title>T</title></channel></rss>',
    "undefined entity": RSS.format(items="<item><title>&nbsp;T</title></item>"),
    "dc:title in channel": RSS.format(items="<dc:title>Other</dc:title>"),
}


@pytest.mark.parametrize("case", sorted(DECLINED))
def test_what_the_reader_does_not_know_is_left_to_feedparser(case: str) -> None:
    body = DECLINED[case].encode()
    plain, expected = both_ways(body)
    assert plain is None
    if expected is not None:  # and the product still reads it, through feedparser
        assert parse_feed(body, url=FEED_URL) == expected
