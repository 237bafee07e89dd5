from __future__ import annotations

from pathlib import Path

import pytest

from newstalk.sources.discovery import DiscoveredFeed, discover_feeds, looks_like_feed

GOFEED = Path(__file__).resolve().parents[3] / "shared/data/feeds/gofeed/testdata/parser"
if not GOFEED.is_dir():
    GOFEED = Path("/work/shared/data/feeds/gofeed/testdata/parser")
needs_gofeed = pytest.mark.skipif(not GOFEED.is_dir(), reason="shared gofeed testdata missing")

PAGE = b"""<!doctype html>
<html><head>
<meta charset="utf-8">
<title>Example News</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="  Top   stories " href="/rss.xml">
<link rel="alternate" type="application/atom+xml" href="https://cdn.example.org/atom">
<link rel="alternate" type="application/feed+json" title="JSON" href="feed.json">
<link rel="alternate" type="application/json" title="API" href="//api.example.com/feed">
<link rel="alternate" type="text/html" hreflang="ko" href="/ko/">
<link rel="ALTERNATE home" type="Application/RSS+XML; charset=utf-8" href="/second.rss">
<link rel="alternate" type="application/rss+xml" href="/rss.xml">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml">
</head><body><p>Hello</body></html>
"""


def test_discovers_alternate_links_in_page_order() -> None:
    feeds = discover_feeds(PAGE, "https://www.example.com/news/today.html")
    assert feeds == [
        DiscoveredFeed("https://www.example.com/rss.xml", "Top stories", "rss"),
        DiscoveredFeed("https://cdn.example.org/atom", None, "atom"),
        DiscoveredFeed("https://www.example.com/news/feed.json", "JSON", "json"),
        DiscoveredFeed("https://api.example.com/feed", "API", "json"),
        DiscoveredFeed("https://www.example.com/second.rss", None, "rss"),
    ]


def test_base_element_changes_resolution() -> None:
    html = b'<html><head><base href="https://static.example.net/x/">' + (
        b'<link rel="alternate" type="application/atom+xml" href="feed.atom"></head></html>'
    )
    feeds = discover_feeds(html, "https://example.com/")
    assert [f.url for f in feeds] == ["https://static.example.net/x/feed.atom"]


def test_broken_html_still_works() -> None:
    html = (
        b"<html><head><title>broken</title><p><link rel=alternate type=application/rss+xml "
        b"href=/feed title='\xea\xb0\x9c\xeb\xb0\x9c \xeb\xb8\x94\xeb\xa1\x9c\xea\xb7\xb8'>"
        b"<div><p><<<>>>&&&"
    )
    feeds = discover_feeds(html, "http://blog.example.kr/post/1")
    assert feeds == [DiscoveredFeed("http://blog.example.kr/feed", "개발 블로그", "rss")]


def test_korean_title_in_euc_kr_page() -> None:
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr">'
        '<link rel="alternate" type="application/rss+xml" title="뉴스" href="/rss"></head></html>'
    ).encode("euc-kr")
    assert discover_feeds(html, "http://news.example.kr/") == [
        DiscoveredFeed("http://news.example.kr/rss", "뉴스", "rss")
    ]


@pytest.mark.parametrize("html", [b"", b"   ", b"\x00\x01garbage", b"<html></html>", b"{}"])
def test_nothing_to_discover(html: bytes) -> None:
    assert discover_feeds(html, "https://example.com/") == []


@needs_gofeed
@pytest.mark.parametrize(
    "name",
    [
        "atom03_feed.xml",
        "atom10_feed.xml",
        "rdf_feed.xml",
        "rss_feed.xml",
        "rss_feed_bom.xml",
        "rss_feed_leading_spaces.xml",
    ],
)
def test_sniffs_real_xml_feeds(name: str) -> None:
    assert looks_like_feed((GOFEED / "universal" / name).read_bytes(), "text/xml")


@needs_gofeed
@pytest.mark.parametrize("name", ["unknown_feed.xml", "empty_feed.xml", "invalid.json"])
def test_rejects_non_feeds_from_testdata(name: str) -> None:
    assert not looks_like_feed((GOFEED / "universal" / name).read_bytes(), None)


@needs_gofeed
def test_every_gofeed_rss_and_atom_file_sniffs_as_feed() -> None:
    files = sorted((GOFEED / "rss").glob("*.xml")) + sorted((GOFEED / "atom").glob("*.xml"))
    assert len(files) > 300
    missed = [f.name for f in files if not looks_like_feed(f.read_bytes(), None)]
    assert missed == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel/></rss>', None),
        (b'<?xml version="1.0"?><?xml-stylesheet href="s.xsl"?><feed xmlns="x"/>', "text/xml"),
        (b"\xef\xbb\xbf<feed xmlns='http://www.w3.org/2005/Atom'>", "application/atom+xml"),
        (
            b'<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "x.dtd"><rss version="0.91">',
            None,
        ),
        (b"<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>", None),
        (b"<atom:feed xmlns:atom='http://www.w3.org/2005/Atom'>", None),
        ('<?xml version="1.0" encoding="utf-16"?><rss/>'.encode("utf-16"), None),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": []}',
            "application/feed+json",
        ),
        (b'  {"title": "t", "version": "https://jsonfeed.org/version/1", "items": []}', None),
        (
            b'{"items": [], "version": "https:\\/\\/jsonfeed.org\\/version\\/1"}',
            "application/json",
        ),
    ],
)
def test_looks_like_feed(body: bytes, content_type: str | None) -> None:
    assert looks_like_feed(body, content_type)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<!doctype html><html><head><title>rss</title></head></html>", "text/html"),
        (b"<html><body><rss>not really</rss></body></html>", None),
        (b"<feedback/>", None),
        (b"<?xml version='1.0'?><urlset/>", "application/xml"),
        (b'{"version": "1.1", "items": []}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"", None),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
    ],
)
def test_does_not_look_like_feed(body: bytes, content_type: str | None) -> None:
    assert not looks_like_feed(body, content_type)
