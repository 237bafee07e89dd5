"""Property-based fuzzing of the feed parser over mutated real feeds (../shared/data/feeds).

Hypothesis picks a real feed file and applies byte- and markup-level mutations (bit flips,
truncation, duplicated or deleted spans, hostile snippets such as NUL, surrogate character
references, entity declarations, deep nesting, wide re-encodings). For every input the
whole ingestion chain (``parse_and_normalize``) must either return storable text or raise
FeedParseError, within a bounded time and memory. The counts are printed for the closing
note (``-s``).
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newstalk.errors import FeedParseError
from newstalk.ingestion.process import parse_and_normalize
from newstalk.kit.text import needs_cleaning

FEEDS_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "feeds"
MAX_FILE_BYTES = 64 * 1024
SECONDS_PER_INPUT = 5.0  # generous: the machine running CI is shared; typical inputs take ms
PEAK_BYTES_PER_INPUT = 128 * 1024 * 1024
EXAMPLES = 1000

SNIPPETS = (
    b"\x00",
    b"&#0;",
    b"&#xD800;",
    b"&#55296;",
    b"&#x110000;",
    b"\\u0000",
    b"\\ud800",
    b"\xed\xa0\x80",
    b"\xff\xfe",
    b'<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    b"&b;&b;&b;&b;",
    b"<![CDATA[" + b"]" * 50,
    b"<item>" * 200,
    b"<" * 500,
    b"{" * 5000,
    b"[" * 5000,
    b"<title>\xe2\x80\xae\xe2\x80\x8b</title>",
    b'<link href="javascript:alert(1)"/>',
    b"<?xml version='1.0' encoding='utf-32'?>",
)


def _corpus() -> list[Path]:
    if not FEEDS_DIR.is_dir():
        return []
    return sorted(
        p
        for p in FEEDS_DIR.rglob("*")
        if p.suffix in (".xml", ".json") and p.is_file() and p.stat().st_size <= MAX_FILE_BYTES
    )


CORPUS = _corpus()
STATS = {"inputs": 0, "parsed": 0, "rejected": 0, "crashes": 0}


@st.composite
def mutated_feeds(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from(CORPUS)).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "duplicate", "delete", "wide"]))
        at = draw(st.integers(0, max(len(body), 1) - 1)) if body else 0
        if kind == "flip" and body:
            body[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del body[at:]
        elif kind == "insert":
            body[at:at] = draw(st.sampled_from(SNIPPETS))
        elif kind == "duplicate" and body:
            span = body[at : at + draw(st.integers(1, 4096))]
            body[at:at] = span * draw(st.integers(1, 8))
        elif kind == "delete":
            del body[at : at + draw(st.integers(1, 512))]
        elif kind == "wide":
            codec = draw(st.sampled_from(["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]))
            body = bytearray(bytes(body).decode("utf-8", "replace").encode(codec))
    return bytes(body)


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS, reason=f"feed corpus not found at {FEEDS_DIR} (../shared/data/feeds)")
@given(body=mutated_feeds())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_mutated_real_feeds_parse_or_are_rejected_within_bounds(body: bytes) -> None:
    STATS["inputs"] += 1
    tracemalloc.start()
    started = time.perf_counter()
    try:
        feed, items = parse_and_normalize(
            body,
            url="https://example.org/feed",
            content_type=None,
            first_seen_at=datetime(2026, 12, 1, tzinfo=UTC),
            max_entries=2000,
        )
    except FeedParseError:
        STATS["rejected"] += 1
        return
    except Exception:
        STATS["crashes"] += 1
        raise
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert elapsed < SECONDS_PER_INPUT, f"{elapsed:.1f} s for one {len(body)}-byte input"
        assert peak < PEAK_BYTES_PER_INPUT, f"{peak / 2**20:.0f} MiB for one {len(body)}-byte input"
    STATS["parsed"] += 1
    texts = [feed.title, feed.site_url or "", feed.language or ""]
    for item in items:
        texts += [item.url, item.guid or "", item.title, item.author or "", item.content_html]
        texts += [item.content_text, item.summary, item.image_url or ""]
    assert not [t for t in texts if needs_cleaning(t)], "unstorable text reached an article"


def teardown_module() -> None:
    print(
        f"\nfeed fuzz: {STATS['inputs']} inputs from {len(CORPUS)} real feeds, "
        f"{STATS['parsed']} parsed, {STATS['rejected']} rejected, {STATS['crashes']} crashes"
    )
