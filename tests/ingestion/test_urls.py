from __future__ import annotations

import pytest

from newstalk.errors import InvalidInput
from newstalk.ingestion.urls import TRACKING_PARAMS, canonicalize_url, is_http_url

CASES: list[tuple[str, str | None, str]] = [
    ("HTTP://Example.COM/Path", None, "http://example.com/Path"),
    ("https://example.com:443/a", None, "https://example.com/a"),
    ("http://example.com:80/a", None, "http://example.com/a"),
    ("https://example.com:8443/a", None, "https://example.com:8443/a"),
    ("https://example.com/a#section-2", None, "https://example.com/a"),
    ("https://example.com", None, "https://example.com/"),
    ("https://example.com/a?utm_source=rss&utm_medium=feed&id=7", None, "https://example.com/a?id=7"),
    ("https://example.com/a?b=2&fbclid=X&a=1&gclid=Y", None, "https://example.com/a?b=2&a=1"),
    (
        "https://example.com/a?mc_cid=1&mc_eid=2&igshid=3&yclid=4&_hsenc=5&_hsmi=6&ref_src=7&k=v",
        None,
        "https://example.com/a?k=v",
    ),
    ("https://example.com/a?dclid=1&msclkid=2", None, "https://example.com/a"),
    ("https://example.com/a?UTM_Campaign=x&page=2", None, "https://example.com/a?page=2"),
    ("https://example.com/a?z=1&a=2", None, "https://example.com/a?z=1&a=2"),
    ("https://example.com/a?flag&x=", None, "https://example.com/a?flag&x="),
    ("/news/1?x=1", "https://example.com/feed.xml", "https://example.com/news/1?x=1"),
    ("../b", "https://example.com/a/feed/", "https://example.com/a/b"),
    ("//cdn.example.com/x", "https://example.com/", "https://cdn.example.com/x"),
    ("https://example.com/a/./b/../c", None, "https://example.com/a/c"),
    ("https://bücher.de/straße", None, "https://xn--bcher-kva.de/stra%C3%9Fe"),
    ("https://한국.kr/뉴스", None, "https://xn--3e0b707e.kr/%EB%89%B4%EC%8A%A4"),
    ("https://example.com/%7euser/%41", None, "https://example.com/~user/A"),
    ("https://example.com/a%2fb", None, "https://example.com/a%2Fb"),
    ("https://example.com/a b", None, "https://example.com/a%20b"),
    ("https://example.com/?q=%e2%82%ac", None, "https://example.com/?q=%E2%82%AC"),
    ("https://example.com/?q=€", None, "https://example.com/?q=%E2%82%AC"),
    ("  https://example.com/x  ", None, "https://example.com/x"),
    ("https://Example.com./x", None, "https://example.com/x"),
]


@pytest.mark.parametrize(("url", "base", "expected"), CASES)
def test_canonicalize_url(url: str, base: str | None, expected: str) -> None:
    assert canonicalize_url(url, base) == expected


@pytest.mark.parametrize(("url", "base", "expected"), CASES)
def test_canonicalize_url_is_idempotent(url: str, base: str | None, expected: str) -> None:
    assert canonicalize_url(expected) == expected


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "ftp://example.com/x",
        "mailto:a@example.com",
        "file:///etc/passwd",
        "data:text/html,hi",
        "",
        "   ",
        "relative/only",
        "http://",
        "https://example.com:99999/",
    ],
)
def test_canonicalize_url_rejects(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        canonicalize_url(url)
    assert info.value.detail.startswith("urls: ")
    assert "\n" not in info.value.detail


def test_tracking_params_is_a_frozenset_of_lowercase_names() -> None:
    assert isinstance(TRACKING_PARAMS, frozenset)
    assert all(name == name.lower() for name in TRACKING_PARAMS)
    assert {"fbclid", "gclid", "mc_cid", "igshid", "_hsenc", "ref_src"} <= TRACKING_PARAMS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com/x", True),
        ("HTTP://example.com", True),
        ("urn:uuid:1234", False),
        ("tag:example.com,2024:1", False),
        ("/relative", False),
        (None, False),
        ("", False),
    ],
)
def test_is_http_url(value: str | None, expected: bool) -> None:
    assert is_http_url(value) is expected
