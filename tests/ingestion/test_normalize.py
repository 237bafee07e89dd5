from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from newstalk.ingestion.normalize import content_hash, normalize_entry, summarize
from newstalk.ingestion.types import ParsedEntry, ParsedFeed

SEEN = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FEED = ParsedFeed(
    format="rss20",
    title="Feed",
    site_url="https://news.example.com/",
    feed_url="https://news.example.com/rss",
    hub_url=None,
    language="ko",
    entries=(),
)
ENTRY = ParsedEntry(
    guid="id-1",
    url="https://News.Example.com/a/1?utm_source=rss#top",
    title="서울시, 심야 버스 확대",
    author="기자",
    summary_html="<p>요약입니다.</p>",
    content_html=(
        "<p>서울시는 내년부터 심야 버스 노선을 두 배로 늘린다고 밝혔다.</p>"
        '<script>alert(1)</script><p>시민들은 <a href="/b/2">환영</a>했다.</p>'
    ),
    published_at=datetime(2024, 5, 31, 9, 0, tzinfo=timezone(timedelta(hours=9))),
    updated_at=None,
    image_url="/img/1.jpg",
)


def test_normalizes_a_full_entry() -> None:
    article = normalize_entry(ENTRY, feed=FEED, first_seen_at=SEEN)
    assert article is not None
    assert article.url == "https://news.example.com/a/1"
    assert article.guid == "id-1"
    assert article.title == "서울시, 심야 버스 확대"
    assert "<script>" not in article.content_html
    assert 'href="https://news.example.com/b/2"' in article.content_html
    assert article.content_text == (
        "서울시는 내년부터 심야 버스 노선을 두 배로 늘린다고 밝혔다.\n시민들은 환영했다."
    )
    assert article.summary == "요약입니다."
    assert article.language == "ko"
    assert article.published_at == datetime(2024, 5, 31, 0, 0, tzinfo=UTC)
    assert article.image_url == "https://news.example.com/img/1.jpg"


def test_no_url_and_non_url_guid_gives_none() -> None:
    entry = replace(ENTRY, url=None, guid="urn:uuid:1")
    assert normalize_entry(entry, feed=FEED, first_seen_at=SEEN) is None


def test_unusable_url_and_no_guid_gives_none() -> None:
    entry = replace(ENTRY, url="javascript:void(0)", guid=None)
    assert normalize_entry(entry, feed=FEED, first_seen_at=SEEN) is None


def test_permalink_guid_is_used_when_there_is_no_link() -> None:
    entry = replace(ENTRY, url=None, guid="https://news.example.com/g/9?fbclid=x")
    article = normalize_entry(entry, feed=FEED, first_seen_at=SEEN)
    assert article is not None
    assert article.url == "https://news.example.com/g/9"


def test_missing_date_uses_first_seen() -> None:
    entry = replace(ENTRY, published_at=None, updated_at=None)
    article = normalize_entry(entry, feed=FEED, first_seen_at=SEEN)
    assert article is not None
    assert article.published_at == SEEN


def test_updated_date_is_the_fallback() -> None:
    updated = datetime(2024, 5, 1, tzinfo=UTC)
    entry = replace(ENTRY, published_at=None, updated_at=updated)
    article = normalize_entry(entry, feed=FEED, first_seen_at=SEEN)
    assert article is not None
    assert article.published_at == updated


@pytest.mark.parametrize(
    ("offset", "clamped"),
    [(timedelta(hours=23), False), (timedelta(days=1, minutes=1), True), (timedelta(days=400), True)],
)
def test_future_dates_are_clamped(offset: timedelta, clamped: bool) -> None:
    entry = replace(ENTRY, published_at=SEEN + offset)
    article = normalize_entry(entry, feed=FEED, first_seen_at=SEEN)
    assert article is not None
    assert article.published_at == (SEEN if clamped else SEEN + offset)


def test_title_falls_back_to_text() -> None:
    entry = replace(ENTRY, title="", summary_html=None, content_html="<p>" + "word " * 100 + "</p>")
    article = normalize_entry(entry, feed=FEED, first_seen_at=SEEN)
    assert article is not None
    assert 0 < len(article.title) <= 80
    assert article.title.endswith("…")
    assert article.title.startswith("word word")


def test_summary_is_cut_at_a_word_boundary() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    summary = summarize(text)
    assert len(summary) <= 300
    assert summary.endswith("…")
    assert summary[:-1].split()[-1].startswith("word")
    assert text.startswith(summary[:-1])


def test_content_hash_collides_for_the_same_content_from_two_urls() -> None:
    first = normalize_entry(ENTRY, feed=FEED, first_seen_at=SEEN)
    other = replace(
        ENTRY,
        url="https://mirror.example.org/x",
        title="  서울시,   심야 버스 확대 ",
        content_html=(ENTRY.content_html or "").replace("<p>", "<p>  "),
    )
    second = normalize_entry(other, feed=FEED, first_seen_at=SEEN)
    assert first is not None
    assert second is not None
    assert first.content_hash == second.content_hash


def test_content_hash_normalizes_case_and_unicode_form() -> None:
    assert content_hash("Café", "Text") == content_hash("CAFE\u0301", "text")
    assert content_hash("a", "b") != content_hash("a", "c")


def test_naive_first_seen_is_treated_as_utc() -> None:
    entry = replace(ENTRY, published_at=None)
    article = normalize_entry(entry, feed=FEED, first_seen_at=datetime(2024, 1, 1))
    assert article is not None
    assert article.published_at == datetime(2024, 1, 1, tzinfo=UTC)
