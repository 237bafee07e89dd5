from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from newstalk.errors import FeedParseError
from newstalk.ingestion.parse import parse_feed

URL = "https://news.example.com/feed.xml"

RSS20 = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>Example  News</title>
  <link>https://news.example.com/</link>
  <language>ko-KR</language>
  <atom:link rel="self" href="https://news.example.com/feed.xml"/>
  <atom:link rel="hub" href="https://hub.example.com/"/>
  <item>
    <title>First &amp; foremost</title>
    <link>/articles/1?utm_source=rss</link>
    <guid isPermaLink="false">article-1</guid>
    <dc:creator>Kim Minji</dc:creator>
    <pubDate>Tue, 05 Mar 2024 09:30:00 +0900</pubDate>
    <description>&lt;p&gt;Short &lt;b&gt;summary&lt;/b&gt;&lt;/p&gt;</description>
    <content:encoded><![CDATA[<p>Full <a href="/more">body</a></p>]]></content:encoded>
    <media:thumbnail url="https://cdn.example.com/1.jpg"/>
  </item>
  <item>
    <title>Second</title>
    <guid>https://news.example.com/articles/2</guid>
    <enclosure url="https://cdn.example.com/2.png" type="image/png" length="10"/>
  </item>
</channel>
</rss>"""

RSS091 = b"""<?xml version="1.0"?>
<rss version="0.91"><channel>
<title>Old School</title><link>http://old.example.com/</link>
<description>d</description><language>en-us</language>
<item><title>Legacy item</title><link>http://old.example.com/1</link>
<description>Text</description></item>
</channel></rss>"""

RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://rdf.example.com/">
    <title>RDF Site</title><link>http://rdf.example.com/</link><description>d</description>
  </channel>
  <item rdf:about="http://rdf.example.com/1">
    <title>RDF item</title><link>http://rdf.example.com/1</link>
    <dc:date>2024-01-02T03:04:05Z</dc:date>
  </item>
</rdf:RDF>"""

ATOM10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title type="text">Atom Site</title>
  <link rel="alternate" href="https://atom.example.com/"/>
  <link rel="self" href="https://atom.example.com/atom.xml"/>
  <link rel="hub" href="https://pubsubhubbub.example.com/"/>
  <id>urn:uuid:feed</id><updated>2024-05-01T00:00:00Z</updated>
  <entry>
    <title type="html">Hello &lt;em&gt;world&lt;/em&gt;</title>
    <link rel="alternate" href="https://atom.example.com/posts/1"/>
    <id>tag:atom.example.com,2024:1</id>
    <published>2024-05-01T10:00:00+02:00</published>
    <updated>2024-05-02T10:00:00Z</updated>
    <author><name>Jane Doe</name></author>
    <summary>Plain summary</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>XHTML body</p></div></content>
  </entry>
</feed>"""

ATOM03 = b"""<?xml version="1.0"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
  <title>Atom 0.3</title>
  <link rel="alternate" type="text/html" href="http://a03.example.com/"/>
  <modified>2004-01-01T00:00:00Z</modified>
  <entry>
    <title>Old entry</title>
    <link rel="alternate" type="text/html" href="http://a03.example.com/1"/>
    <id>tag:a03.example.com,2004:1</id>
    <issued>2004-01-01T19:48:21Z</issued>
    <modified>2004-01-02T19:48:21Z</modified>
  </entry>
</feed>"""


def test_rss20() -> None:
    feed = parse_feed(RSS20, url=URL)
    assert feed.format == "rss20"
    assert feed.title == "Example News"
    assert feed.site_url == "https://news.example.com/"
    assert feed.feed_url == "https://news.example.com/feed.xml"
    assert feed.hub_url == "https://hub.example.com/"
    assert feed.language == "ko-KR"
    first, second = feed.entries
    assert first.guid == "article-1"
    assert first.url == "https://news.example.com/articles/1?utm_source=rss"
    assert first.title == "First & foremost"
    assert first.author == "Kim Minji"
    assert first.summary_html == "<p>Short <b>summary</b></p>"
    assert first.content_html == '<p>Full <a href="/more">body</a></p>'
    assert first.published_at == datetime(2024, 3, 5, 0, 30, tzinfo=UTC)
    assert first.image_url == "https://cdn.example.com/1.jpg"
    assert second.url is None
    assert second.guid == "https://news.example.com/articles/2"
    assert second.image_url == "https://cdn.example.com/2.png"
    assert second.published_at is None


def test_permalink_guid_before_link_does_not_hide_the_link() -> None:
    body = (
        b'<rss version="2.0"><channel><item><guid>https://a.example/g</guid>'
        b"<link>https://a.example/l</link></item>"
        b"<item><guid>https://a.example/only-guid</guid></item></channel></rss>"
    )
    first, second = parse_feed(body, url=URL).entries
    assert (first.url, first.guid) == ("https://a.example/l", "https://a.example/g")
    assert (second.url, second.guid) == (None, "https://a.example/only-guid")


def test_rss091() -> None:
    feed = parse_feed(RSS091, url=URL)
    assert feed.format == "rss091u"
    assert feed.title == "Old School"
    assert feed.entries[0].url == "http://old.example.com/1"
    assert feed.entries[0].summary_html == "Text"


def test_rss10_rdf() -> None:
    feed = parse_feed(RSS10, url=URL)
    assert feed.format == "rss10"
    (entry,) = feed.entries
    assert entry.title == "RDF item"
    assert entry.url == "http://rdf.example.com/1"
    assert (entry.published_at or entry.updated_at) == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_atom10() -> None:
    feed = parse_feed(ATOM10, url=URL)
    assert feed.format == "atom10"
    assert feed.site_url == "https://atom.example.com/"
    assert feed.feed_url == "https://atom.example.com/atom.xml"
    assert feed.hub_url == "https://pubsubhubbub.example.com/"
    (entry,) = feed.entries
    assert entry.title == "Hello world"
    assert entry.author == "Jane Doe"
    assert entry.published_at == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert entry.updated_at == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert entry.summary_html == "Plain summary"
    assert entry.content_html is not None
    assert "<p>XHTML body</p>" in entry.content_html


def test_atom03() -> None:
    feed = parse_feed(ATOM03, url=URL)
    assert feed.format == "atom03"
    (entry,) = feed.entries
    assert entry.url == "http://a03.example.com/1"
    assert entry.published_at == datetime(2004, 1, 1, 19, 48, 21, tzinfo=UTC)


JSON11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON Site",
    "home_page_url": "https://json.example.com/",
    "feed_url": "https://json.example.com/feed.json",
    "language": "ko",
    "hubs": [{"type": "WebSub", "url": "https://hub.example.com/"}],
    "authors": [{"name": "Feed Author"}],
    "items": [
        {
            "id": "1",
            "url": "/posts/1",
            "title": "첫 번째 글",
            "content_html": "<p>본문</p>",
            "summary": "요약",
            "image": "https://json.example.com/1.png",
            "date_published": "2024-02-03T04:05:06+09:00",
            "date_modified": "2024-02-04T00:00:00Z",
            "authors": [{"name": "이지은"}],
        },
        {"id": 2, "external_url": "https://elsewhere.example.com/x", "content_text": "a\n\nb"},
        "not an object",
    ],
}


def test_json_feed_11() -> None:
    feed = parse_feed(json.dumps(JSON11).encode(), url=URL, content_type="application/feed+json")
    assert feed.format == "json11"
    assert feed.title == "JSON Site"
    assert feed.hub_url == "https://hub.example.com/"
    assert feed.feed_url == "https://json.example.com/feed.json"
    assert feed.language == "ko"
    first, second = feed.entries
    assert first.url == "https://json.example.com/posts/1"
    assert first.title == "첫 번째 글"
    assert first.author == "이지은"
    assert first.content_html == "<p>본문</p>"
    assert first.summary_html == "<p>요약</p>"
    assert first.published_at == datetime(2024, 2, 2, 19, 5, 6, tzinfo=UTC)
    assert first.updated_at == datetime(2024, 2, 4, tzinfo=UTC)
    assert first.image_url == "https://json.example.com/1.png"
    assert second.guid == "2"
    assert second.url == "https://elsewhere.example.com/x"
    assert second.content_html == "<p>a</p><p>b</p>"
    assert second.title == ""


def test_json_feed_10_author() -> None:
    body = {
        "version": "https://jsonfeed.org/version/1",
        "title": "t",
        "items": [{"id": "a", "url": "https://x.example/a", "author": {"name": "Old"}}],
    }
    feed = parse_feed(json.dumps(body).encode(), url=URL)
    assert feed.format == "json10"
    assert feed.entries[0].author == "Old"


def test_lenient_on_broken_xml_with_entries() -> None:
    body = (
        b'<rss version="2.0"><channel><title>Broken &nbsp; feed</title>'
        b"<item><title>A & B</title><link>https://x.example/1</link></item>"
        b"<item><title>Unclosed<link>https://x.example/2</link></item>"
        b"</channel>"
    )
    feed = parse_feed(body, url=URL)
    assert feed.entries
    assert feed.entries[0].url == "https://x.example/1"


def test_empty_valid_feed() -> None:
    feed = parse_feed(b'<rss version="2.0"><channel><title>E</title></channel></rss>', url=URL)
    assert feed.entries == ()
    assert feed.title == "E"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", None, "the body is empty"),
        (b"   \n", None, "the body is empty"),
        (b"<!DOCTYPE html><html><head><title>Hi</title></head><body>x</body></html>", None, "HTML"),
        (b"<html><body><p>page</p></body></html>", "text/html; charset=utf-8", "HTML"),
        (b"<note><to>a</to></note>", None, "<note>"),
        (b"just some text", None, "not XML or JSON"),
        (b'{"hello": "world"}', None, "no JSON Feed version"),
        (b'{"version": ', None, "invalid JSON"),
        (b"[" * 100_000, None, "not XML or JSON"),
        (b'{"a":' * 100_000, None, "invalid JSON"),
    ],
)
def test_not_a_feed(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(FeedParseError) as info:
        parse_feed(body, url=URL, content_type=content_type)
    assert reason in info.value.detail
    assert info.value.detail.startswith("ingestion: not a feed: ")
    assert "\n" not in info.value.detail


def test_html_content_type_with_a_real_feed_still_parses() -> None:
    feed = parse_feed(RSS20, url=URL, content_type="text/html")
    assert len(feed.entries) == 2


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        ("<ttl>15</ttl>", 900),
        ("<ttl> 60 </ttl>", 3600),
        ("<ttl>0</ttl>", None),
        ("<ttl>soon</ttl>", None),
        ("", None),
    ],
)
def test_rss_ttl_is_read_in_seconds(ttl: str, expected: int | None) -> None:
    doc = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://e.com/</link>{ttl}'
        "<item><title>A</title><link>https://e.com/a</link></item></channel></rss>"
    ).encode()
    assert parse_feed(doc, url=URL).ttl_s == expected
