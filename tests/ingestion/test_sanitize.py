from __future__ import annotations

import pytest

from newstalk.ingestion.sanitize import html_to_text, sanitize_html

BASE = "https://news.example.com/2024/05/story.html"


def test_keeps_reader_markup() -> None:
    html = (
        "<h2>Head</h2><p><em>a</em> <strong>b</strong></p><ul><li>one</li></ul>"
        "<blockquote>q</blockquote><pre><code>x = 1</code></pre>"
        "<figure><img src='https://cdn.example.com/i.png' alt='pic'><figcaption>cap</figcaption>"
        "</figure><table><tr><th>h</th><td>d</td></tr></table>line<br>next"
    )
    cleaned = sanitize_html(html, BASE)
    for fragment in (
        "<h2>Head</h2>",
        "<em>a</em>",
        "<strong>b</strong>",
        "<li>one</li>",
        "<blockquote>q</blockquote>",
        "<pre><code>x = 1</code></pre>",
        '<img src="https://cdn.example.com/i.png" alt="pic">',
        "<figcaption>cap</figcaption>",
        "<th>h</th>",
        "<td>d</td>",
        "<br>",
    ):
        assert fragment in cleaned


@pytest.mark.parametrize(
    ("html", "forbidden"),
    [
        ("<p>hi<script>alert(1)</script></p>", "alert"),
        ("<style>p{color:red}</style><p>hi</p>", "color"),
        ('<iframe src="https://evil.example"></iframe><p>hi</p>', "evil"),
        ('<p onclick="steal()">hi</p>', "steal"),
        ('<img src="https://x.example/i.png" onerror="steal()">', "steal"),
        ('<a href="javascript:steal()">x</a>', "steal"),
        ('<a href="data:text/html,steal">x</a>', "steal"),
        ('<img src="data:image/png;base64,AAAA">', "data:"),
        ('<p style="background:url(steal)">x</p>', "steal"),
        ("<object data='steal.swf'></object>", "steal"),
        ("<form action='https://steal.example'><input></form>", "steal"),
    ],
)
def test_strips_dangerous_markup(html: str, forbidden: str) -> None:
    assert forbidden not in sanitize_html(html, BASE)


def test_links_get_rel_and_resolve_against_entry_url() -> None:
    cleaned = sanitize_html('<a href="../other.html">x</a><img src="pic.jpg">', BASE)
    assert 'href="https://news.example.com/2024/other.html"' in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned
    assert 'src="https://news.example.com/2024/05/pic.jpg"' in cleaned


def test_mailto_links_are_kept_and_other_schemes_dropped() -> None:
    cleaned = sanitize_html('<a href="mailto:desk@example.com">m</a><a href="ftp://x/y">f</a>')
    assert 'href="mailto:desk@example.com"' in cleaned
    assert "ftp:" not in cleaned


def test_relative_urls_without_a_base_are_dropped() -> None:
    assert "href" not in sanitize_html('<a href="/x">x</a>', None)


def test_empty_input() -> None:
    assert sanitize_html("", BASE) == ""
    assert sanitize_html("   ", BASE) == ""


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("", ""),
        ("plain   text\n\n here", "plain text\nhere"),
        ("<p>One</p><p>Two</p>", "One\nTwo"),
        ("<p>a&nbsp;&amp;&lt;b&gt; &#8212; &eacute;</p>", "a &<b> — é"),
        ("line<br>break<br/>again", "line\nbreak\nagain"),
        ("<ul><li>x</li><li>y</li></ul>", "x\ny"),
        ("<div>in<span>line</span> <b>bold</b></div>", "inline bold"),
        ("<p>keep</p><script>var x = 1;</script><style>.a{}</style>", "keep"),
        ("a<!-- comment -->b", "ab"),
        ("<table><tr><td>1</td><td>2</td></tr></table>", "1 2"),
        ("<h1>Title</h1>Body text", "Title\nBody text"),
        ("  <p>\n  spaced \t out  </p>  ", "spaced out"),
        ("<p>한국어 기사 본문</p><p>둘째 문단</p>", "한국어 기사 본문\n둘째 문단"),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected
