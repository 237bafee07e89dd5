"""Entity expansion and external entities must do nothing, on both feedparser paths."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import feedparser
import pytest

from newstalk.errors import FeedParseError
from newstalk.ingestion.parse import parse_feed

LAUGHS = "\n".join(
    [f'<!ENTITY lol0 "{"lol" * 10}">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
)
BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE rss [
{LAUGHS}
]>
<rss version="2.0"><channel><title>Laughs &lol9;</title>
<item><title>Item &lol9;</title><description>&lol9;&lol9;</description>
<link>https://example.com/a</link></item></channel></rss>
""".encode()

QUADRATIC = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + "x" * 100_000 + '">]>'
    '<rss version="2.0"><channel><title>q</title><item><title>t</title><description>'
    + "&a;" * 10_000
    + "</description><link>https://example.com/q</link></item></channel></rss>"
).encode()


def _xxe(system_id: str, root: str = "rss") -> bytes:
    return f"""<?xml version="1.0"?>
<!DOCTYPE {root} [<!ENTITY xxe SYSTEM "{system_id}">]>
<rss version="2.0"><channel><title>t &xxe;</title>
<item><title>&xxe;</title><description>&xxe;</description>
<link>https://example.com/a</link></item></channel></rss>
""".encode()


def _all_text(body: bytes) -> str:
    try:
        feed = parse_feed(body, url="https://example.com/feed")
    except FeedParseError as exc:
        return exc.detail
    parts = [feed.title]
    for entry in feed.entries:
        parts += [entry.title, entry.summary_html or "", entry.content_html or ""]
    return "\n".join(parts)


@pytest.mark.parametrize("body", [BILLION_LAUGHS, QUADRATIC], ids=["billion-laughs", "quadratic"])
def test_entity_bombs_are_fast_bounded_and_unexpanded(body: bytes) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        text = _all_text(body)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0
    assert peak < 50 * 1024 * 1024
    assert "lol" * 20 not in text
    assert "x" * 200_000 not in text
    assert len(text) < len(body) * 2


def test_billion_laughs_still_yields_the_feed() -> None:
    feed = parse_feed(BILLION_LAUGHS, url="https://example.com/feed")
    assert [e.url for e in feed.entries] == ["https://example.com/a"]


@pytest.mark.parametrize(
    "system_id",
    ["file:///etc/passwd", "/etc/passwd", "http://127.0.0.1:9/secret", "https://example.invalid/x"],
)
def test_external_entities_are_never_resolved(system_id: str) -> None:
    text = _all_text(_xxe(system_id))
    assert "root:" not in text
    assert "/bin/" not in text
    assert "&xxe;" in text or "xxe" in text


def test_parameter_entity_xxe_is_inert() -> None:
    body = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY % ext SYSTEM "file:///etc/passwd"> %ext;]>
<rss version="2.0"><channel><title>t</title>
<item><title>x</title><link>https://example.com/a</link></item></channel></rss>"""
    assert "root:" not in _all_text(body)


def test_passwd_exists_so_the_xxe_test_means_something() -> None:
    if not Path("/etc/passwd").exists():
        pytest.skip("no /etc/passwd on this system")
    assert "root:" in Path("/etc/passwd").read_text()


@pytest.mark.parametrize("body", [BILLION_LAUGHS, _xxe("file:///etc/passwd")], ids=["laughs", "xxe"])
def test_feedparser_itself_does_not_expand_entities(body: bytes) -> None:
    # Defence in depth: even without our DOCTYPE stripping, feedparser 6.0.14 drops the
    # internal subset, so strict (expat) parsing fails and the loose parser keeps the
    # references literal.
    result = feedparser.parse(body)
    text = repr(result.get("feed")) + repr(result.get("entries"))
    assert "lol" * 20 not in text
    assert "root:" not in text


def test_loose_fallback_does_not_expand_entities() -> None:
    # A malformed document forces feedparser's sgmllib-based loose parser.
    body = BILLION_LAUGHS.replace(b"</channel>", b"<broken></channel>", 1)
    text = _all_text(body)
    assert "lol" * 20 not in text
