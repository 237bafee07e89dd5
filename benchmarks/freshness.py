"""End-to-end freshness: from a feed publishing an item to a listener being able to hear it.

N local feeds (RSS on 127.0.0.1, default 200) publish new items at random times (a Poisson
process per feed, each feed with its own mean gap drawn from ``--gap-min``..``--gap-max``
minutes) for ``--minutes`` while NewsTalk runs as shipped: a ``newstalk up`` subprocess
with its default settings except a fresh SQLite file, its port, an admin token,
``NEWSTALK_ALLOW_PRIVATE_NETWORKS=true`` (the feeds are on 127.0.0.1) and
``NEWSTALK_RATE_LIMIT_PER_MINUTE=0`` (the benchmark reads the API from one address many
times a minute). Everything is observed through the public API only:

* **article**: ``GET /api/v1/news`` (newest first) finds the item's URL, ``GET
  /api/v1/news/{id}`` gives ``stored_at``;
* **story / fact-checked / audio ready**: the live stream ``GET /api/v1/stream`` (Server-Sent
  Events, what an open app listens to). Each ``story.updated`` event is followed by ``GET
  /api/v1/stories/{id}``: an item joins its story at the first event whose version lists
  its URL; it is fact-checked at the first ``story.checked`` of that story with a version at
  least that, and *audio ready* at the first ``audio.ready`` (story audio, synthesized
  automatically in ``NEWSTALK_BRIEFINGS_VOICE``, the anchor by default) of such a version:
  the moment a listener's app can offer the play button (the short first edition where the
  server makes one); *full audio ready* at the first ``audio.ready`` of the full script
  (``"edition": "full"``; a server without editions announces only full scripts);
* **backlog**: ``GET /api/v1/pipeline/queue`` every 10 s (ready + running jobs per stage).

Each feed starts with ``--history`` items at its own rate, so the adaptive schedule can
learn it on the first poll; they are the same few texts in every feed, so deduplication
stores them once and the warm-up does not flood the pipeline. The clock starts after the
warm-up (every source polled once, every stage but collect idle).

``--websub``: every feed advertises a hub on the feed server (``<atom:link rel="hub">``);
NewsTalk subscribes by itself on its first poll, the hub verifies the intent at NewsTalk's
callback and then pushes each changed feed document, signed with the subscription's
secret, as soon as an item is published.

Prints one markdown table on stdout (progress on stderr).

    .venv/bin/python benchmarks/freshness.py                       # 200 feeds, 15 minutes, polling
    .venv/bin/python benchmarks/freshness.py --websub --minutes 5   # WebSub push
    .venv/bin/python benchmarks/freshness.py --feeds 20 --minutes 2 # a quick trial
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape

import httpx

from newstalk.replay import run as replay

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._feeds import _item_text, is_korean

# What differs from the shipped defaults: a fresh database (Service adds it), 127.0.0.1 feeds
# and hub, and no rate limit on the benchmark's own API polling.
SHIPPED_ENV = {
    "NEWSTALK_ALLOW_PRIVATE_NETWORKS": "true",
    "NEWSTALK_RATE_LIMIT_PER_MINUTE": "0",
    "NEWSTALK_LOG_LEVEL": "WARNING",
}
SHOWN = 20  # items a feed document shows, newest first
HISTORY_TEXTS = 1  # distinct texts (per language) behind every feed's history items


def log(msg: str) -> None:
    print(f"[freshness {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# --- The feeds and the hub ---------------------------------------------------------------------


@dataclass
class Item:
    feed: int
    key: str  # "h0".."h2" for history, "n0", "n1"… for items published during the run
    title: str
    body: str
    published: datetime


@dataclass
class Subscription:
    callback: str
    secret: str


class Feeds:
    """``/feeds/{i}.xml`` (ETag + If-None-Match → 304), ``/articles/{i}/{key}`` pages, ``/hub``."""

    def __init__(self, n: int, gaps_min: list[float], history: int, seed: int, websub: bool) -> None:
        self.n, self.seed, self.websub = n, seed, websub
        self.items: dict[int, list[Item]] = {}
        self.version = [0] * n
        self.published_at: dict[str, float] = {}  # article URL -> wall-clock publish time
        self.subs: dict[str, Subscription] = {}  # topic -> subscription
        self.pushes = self.push_failures = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.pool = ThreadPoolExecutor(8, thread_name_prefix="hub")
        now = datetime.now(UTC)
        for f in range(n):
            lang_ko = is_korean(f)
            hist = []
            for k in range(history):
                title, body = _history_text(k % HISTORY_TEXTS, lang_ko)
                hist.append(Item(f, f"h{k}", title, body, now - timedelta(minutes=gaps_min[f] * (k + 1))))
            self.items[f] = hist

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def feed_url(self, f: int) -> str:
        return f"{self.base}/feeds/{f}.xml"

    def article_url(self, f: int, key: str) -> str:
        return f"{self.base}/articles/{f}/{key}"

    def document(self, f: int) -> tuple[bytes, str]:
        with self.lock:
            shown = sorted(self.items[f], key=lambda i: i.published, reverse=True)[:SHOWN]
            version = self.version[f]
        ko = is_korean(f)
        links = f'<atom:link rel="self" href="{self.feed_url(f)}"/>'
        if self.websub:
            links += f'<atom:link rel="hub" href="{self.base}/hub"/>'
        entries = "".join(
            f"<item><title>{escape(i.title)}</title><link>{self.article_url(f, i.key)}</link>"
            f'<guid isPermaLink="false">{f}-{i.key}</guid><pubDate>{format_datetime(i.published)}</pubDate>'
            f"<description>{escape(i.body)}</description></item>"
            for i in shown
        )
        doc = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
            f"<title>Freshness feed {f}</title><link>{self.base}/</link>"
            f"<language>{'ko' if ko else 'en'}</language>{links}{entries}</channel></rss>"
        ).encode()
        return doc, f'"{f}-{version}"'

    def publish(self, f: int, index: int) -> str:
        title, paragraphs = _item_text(f, index, self.seed)
        item = Item(f, f"n{index}", title, " ".join(paragraphs), datetime.now(UTC))
        url = self.article_url(f, item.key)
        with self.lock:
            self.items[f].append(item)
            self.version[f] += 1
            self.published_at[url] = time.time()
        if self.websub:
            self.pool.submit(self._push, f)
        return url

    def _push(self, f: int) -> None:
        sub = self.subs.get(self.feed_url(f))
        if sub is None:
            return
        body, _ = self.document(f)
        sig = hmac.new(sub.secret.encode(), body, hashlib.sha256).hexdigest()
        try:
            resp = httpx.post(
                sub.callback,
                content=body,
                headers={"Content-Type": "application/rss+xml", "X-Hub-Signature": f"sha256={sig}"},
                timeout=30,
            )
            ok = resp.status_code < 300
        except httpx.HTTPError:
            ok = False
        with self.lock:
            self.pushes += ok
            self.push_failures += not ok

    def _verify(self, form: dict[str, str]) -> None:
        """Verify a subscriber's intent (WebSub 5.3), then keep its subscription."""
        time.sleep(0.2)
        challenge = secrets.token_hex(8)
        query = {
            "hub.mode": "subscribe",
            "hub.topic": form["hub.topic"],
            "hub.challenge": challenge,
            "hub.lease_seconds": form.get("hub.lease_seconds", "86400"),
        }
        callback = form["hub.callback"]
        try:
            resp = httpx.get(f"{callback}{'&' if '?' in callback else '?'}{urlencode(query)}", timeout=30)
        except httpx.HTTPError:
            return
        if resp.status_code == 200 and resp.text == challenge:
            self.subs[form["hub.topic"]] = Subscription(callback, form.get("hub.secret", ""))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        feeds = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _send(
                self, code: int, body: bytes, ctype: str, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                parts = path.strip("/").split("/")
                if len(parts) == 2 and parts[0] == "feeds" and parts[1].endswith(".xml"):
                    f = int(parts[1].removesuffix(".xml"))
                    body, etag = feeds.document(f)
                    if self.headers.get("If-None-Match") == etag:
                        self._send(304, b"", "application/rss+xml", {"ETag": etag})
                    else:
                        self._send(200, body, "application/rss+xml; charset=utf-8", {"ETag": etag})
                    return
                if len(parts) == 3 and parts[0] == "articles":
                    f, key = int(parts[1]), parts[2]
                    found = [i for i in feeds.items.get(f, []) if i.key == key]
                    if found:
                        page = f"<html><body><h1>{escape(found[0].title)}</h1><p>{escape(found[0].body)}</p></body></html>"
                        self._send(200, page.encode(), "text/html; charset=utf-8")
                        return
                self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                if urlsplit(self.path).path != "/hub":
                    self._send(404, b"not found", "text/plain")
                    return
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                if (
                    form.get("hub.mode") != "subscribe"
                    or "hub.callback" not in form
                    or "hub.topic" not in form
                ):
                    self._send(400, b"subscribe only", "text/plain")
                    return
                self._send(202, b"", "text/plain")
                feeds.pool.submit(feeds._verify, form)

        return Handler

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="feeds", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


def _history_text(k: int, korean: bool) -> tuple[str, str]:
    """The same few texts behind every feed's history (deduplicated into one article each)."""
    # Feed numbers ≡ 2, 3 (mod 4) are Korean in benchmarks/_feeds.py.
    title, paragraphs = _item_text(10_000 + 4 * k + (2 if korean else 0), 0, 1)
    return title, " ".join(paragraphs)


# --- The service under test ------------------------------------------------------------------


class Service(replay.Service):
    """``newstalk up`` on a fresh SQLite file, otherwise with its shipped settings."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, env=SHIPPED_ENV)

    def sources(self) -> list[dict[str, Any]]:
        return list(self.pages("/api/v1/sources", limit=500))

    def depth(self) -> dict[str, int]:
        by_stage: dict[str, int] = defaultdict(int)
        for row in self.get("/api/v1/pipeline/queue"):
            if row["status"] in ("ready", "running"):
                by_stage[row["stage"]] += row["count"]
        return dict(by_stage)


# --- Observing the API -----------------------------------------------------------------------


@dataclass
class Seen:
    stored: dict[str, float] = field(default_factory=dict)  # url -> stored_at (epoch s)
    joined: dict[str, tuple[int, int, float]] = field(default_factory=dict)  # url -> (story, version, t)
    checked: dict[int, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    audio: dict[int, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    # audio.ready of a full script ("edition": "full"; a server without editions sends only full ones)
    full_audio: dict[int, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    audio_seconds: list[float] = field(default_factory=list)
    editions: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    audio_voices: set[str] = field(default_factory=set)
    depth: list[tuple[float, dict[str, int]]] = field(default_factory=list)
    events: int = 0


class Observer:
    def __init__(self, service: Service, feeds: Feeds) -> None:
        self.service, self.feeds, self.seen = service, feeds, Seen()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ids: dict[str, int] = {}
        self.threads = [
            threading.Thread(target=self._stream, name="sse", daemon=True),
            threading.Thread(target=self._articles, name="articles", daemon=True),
            threading.Thread(target=self._depth, name="depth", daemon=True),
        ]
        self.details = ThreadPoolExecutor(2, thread_name_prefix="story")
        self.sse_ready = threading.Event()

    def start(self) -> None:
        for t in self.threads:
            t.start()
        self.sse_ready.wait(30)

    def _stream(self) -> None:
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {self.service.token}"}
        while not self.stop.is_set():
            try:
                with httpx.stream(
                    "GET",
                    f"{self.service.base}/api/v1/stream",
                    headers=headers,
                    timeout=httpx.Timeout(10, read=None),
                ) as resp:
                    self.sse_ready.set()
                    for line in resp.iter_lines():
                        if self.stop.is_set():
                            return
                        if line.startswith("data:"):
                            self._event(json.loads(line[5:]), time.time())
            except (httpx.HTTPError, json.JSONDecodeError) as exc:
                log(f"stream: {exc!r}; reconnecting")
                time.sleep(1)

    def _event(self, event: dict[str, Any], t: float) -> None:
        kind, story = event.get("type"), event.get("story") or {}
        sid, version = int(story.get("id", 0)), int(story.get("version", 0))
        with self.lock:
            self.seen.events += 1
            if kind == "story.checked":
                self.seen.checked[sid].append((int(event.get("check", {}).get("version", version)), t))
            elif kind == "audio.ready":
                audio = event.get("audio") or {}
                self.seen.audio[sid].append((version, t))
                edition = str(audio.get("edition") or "full")
                self.seen.editions[edition] += 1
                if edition == "full":
                    self.seen.full_audio[sid].append((version, t))
                if audio.get("duration_s"):
                    self.seen.audio_seconds.append(float(audio["duration_s"]))
                self.seen.audio_voices.update(audio.get("characters") or [])
        if kind == "story.updated":
            self.details.submit(self._story, sid, version, t)

    def _story(self, sid: int, version: int, t: float) -> None:
        try:
            detail = self.service.get(f"/api/v1/stories/{sid}")
        except httpx.HTTPError:
            return
        if int(detail.get("version", version)) > version:
            return  # a later version's own event follows
        with self.lock:
            for entry in detail.get("timeline", []):
                url = entry["url"].split("?")[0]
                if url in self.feeds.published_at and url not in self.seen.joined:
                    self.seen.joined[url] = (sid, version, t)

    def _articles(self) -> None:
        while not self.stop.is_set():
            try:
                page = self.service.get("/api/v1/news", limit=200)
                for a in page["items"]:
                    url = a["url"].split("?")[0]
                    if url in self.feeds.published_at and url not in self.ids:
                        self.ids[url] = a["id"]
                        full = self.service.get(f"/api/v1/news/{a['id']}")
                        with self.lock:
                            self.seen.stored[url] = datetime.fromisoformat(full["stored_at"]).timestamp()
            except httpx.HTTPError as exc:
                log(f"news: {exc!r}")
            self.stop.wait(2)

    def _depth(self) -> None:
        while not self.stop.is_set():
            try:
                depth = self.service.depth()
                with self.lock:
                    self.seen.depth.append((time.time(), depth))
            except httpx.HTTPError as exc:
                log(f"queue: {exc!r}")
            self.stop.wait(10)

    def close(self) -> None:
        self.stop.set()
        self.details.shutdown(wait=True)


# --- The run ---------------------------------------------------------------------------------


def schedule_items(n: int, minutes: float, gaps_min: list[float], seed: int) -> list[tuple[float, int, int]]:
    """(offset s, feed, index): a Poisson process per feed over the run."""
    rng = random.Random(f"{seed}:publish")
    out = []
    for f in range(n):
        t, index = 0.0, 0
        while True:
            t += rng.expovariate(1 / (gaps_min[f] * 60))
            if t >= minutes * 60:
                break
            out.append((t, f, index))
            index += 1
    return sorted(out)


def wait_warm(service: Service, n: int, timeout_s: float) -> list[dict[str, Any]]:
    """Until every source was polled once and every stage but collect has been idle for 10 s.

    Collect is left out: busy feeds polled every 30 s keep a few polls (304s, which make no
    downstream work) queued or running at almost any moment."""
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        sources = service.sources()
        polled = sum(1 for s in sources if s.get("last_fetched_at"))
        busy = sum(count for stage, count in service.depth().items() if stage != "collect")
        if polled >= n and busy == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 10:
                return sources
        else:
            quiet_since = None
        time.sleep(2)
    raise RuntimeError(f"warm-up did not finish within {timeout_s:.0f} s")


def summarize(feeds: Feeds, seen: Seen, published: list[str]) -> dict[str, Any]:
    stages: dict[str, list[float]] = {
        "article stored": [],
        "story": [],
        "fact-checked": [],
        "audio ready": [],
        "full audio ready": [],
    }
    for url in published:
        t0 = feeds.published_at[url]
        if url in seen.stored:
            stages["article stored"].append(seen.stored[url] - t0)
        if url not in seen.joined:
            continue
        sid, version, t_story = seen.joined[url]
        stages["story"].append(t_story - t0)
        checks = [t for v, t in seen.checked.get(sid, []) if v >= version]
        if checks:
            stages["fact-checked"].append(min(checks) - t0)
        audio = [t for v, t in seen.audio.get(sid, []) if v >= version]
        if audio:
            stages["audio ready"].append(min(audio) - t0)
        full = [t for v, t in seen.full_audio.get(sid, []) if v >= version]
        if full:
            stages["full audio ready"].append(min(full) - t0)
    return stages


def backlog(seen: Seen, start: float, end: float) -> tuple[str, str]:
    """Max queued jobs per stage while publishing, and whether the total grew (first vs last third)."""
    rows = [(t, d) for t, d in seen.depth if start <= t <= end]
    if len(rows) < 3:
        return "n/a", "n/a"
    peak: dict[str, int] = defaultdict(int)
    for _, d in rows:
        for stage, count in d.items():
            peak[stage] = max(peak[stage], count)
    third = max(1, len(rows) // 3)
    first = statistics.mean(sum(d.values()) for _, d in rows[:third])
    last = statistics.mean(sum(d.values()) for _, d in rows[-third:])
    grew = "yes" if last > first + 5 and last > 2 * first else "no"
    peaks = ", ".join(f"{s} {c}" for s, c in sorted(peak.items(), key=lambda x: -x[1]) if c) or "none"
    return f"{grew} (mean queued {first:.1f} in the first third, {last:.1f} in the last)", peaks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=15.0, help="how long the feeds publish")
    ap.add_argument("--gap-min", type=float, default=10.0, help="shortest mean gap of a feed (minutes)")
    ap.add_argument("--gap-max", type=float, default=20.0, help="longest mean gap of a feed (minutes)")
    ap.add_argument("--history", type=int, default=3, help="items each feed shows before the run")
    ap.add_argument("--websub", action="store_true", help="feeds advertise a hub that pushes")
    ap.add_argument(
        "--drain", type=float, default=360.0, help="seconds to keep observing after the last item"
    )
    ap.add_argument("--warmup-timeout", type=float, default=1800.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (database, service log)")
    args = ap.parse_args()

    rng = random.Random(f"{args.seed}:gaps")
    gaps = [rng.uniform(args.gap_min, args.gap_max) for _ in range(args.feeds)]
    plan = schedule_items(args.feeds, args.minutes, gaps, args.seed)
    rate = sum(1 / g for g in gaps)
    log(
        f"{args.feeds} feeds, mean gap {args.gap_min:g}-{args.gap_max:g} min: {rate:.1f} items/min expected, "
        f"{len(plan)} scheduled over {args.minutes:g} min"
    )
    work = Path(tempfile.mkdtemp(prefix="newstalk-freshness-"))
    feeds = Feeds(args.feeds, gaps, args.history, args.seed, args.websub)
    feeds.start()
    service = Service(work)
    observer: Observer | None = None
    try:
        t_start = time.monotonic()
        service.wait_ready()
        log(
            f"newstalk up ready in {time.monotonic() - t_start:.0f} s on {service.base} (log: {service.log_path})"
        )
        for f in range(args.feeds):
            resp = service.client.post(
                "/api/v1/sources", json={"url": feeds.feed_url(f), "language": "ko" if is_korean(f) else "en"}
            )
            if resp.status_code != 201:
                raise RuntimeError(f"subscribing feed {f}: {resp.status_code} {resp.text[:300]}")
        t_warm = time.monotonic()
        sources = wait_warm(service, args.feeds, args.warmup_timeout)
        reasons: dict[str, list[int]] = defaultdict(list)
        for s in sources:
            reasons[s.get("poll_reason") or "?"].append(s["fetch_interval_s"])
        intervals = ", ".join(
            f"{r}: {len(v)} (interval {min(v)}-{max(v)} s)" for r, v in sorted(reasons.items())
        )
        log(f"warm: every source polled, pipeline idle after {time.monotonic() - t_warm:.0f} s; {intervals}")
        if args.websub:
            deadline = time.monotonic() + 120
            while len(feeds.subs) < args.feeds and time.monotonic() < deadline:
                time.sleep(1)
            log(f"websub: {len(feeds.subs)}/{args.feeds} feeds verified a subscription")
        observer = Observer(service, feeds)
        observer.start()
        published: list[str] = []
        t0 = time.time()
        for offset, f, index in plan:
            delay = t0 + offset - time.time()
            if delay > 0:
                time.sleep(delay)
            published.append(feeds.publish(f, index))
            if len(published) % 50 == 0:
                log(f"published {len(published)}/{len(plan)}")
        t_end = time.time()
        log(f"published {len(published)} items; observing {args.drain:.0f} s more")
        # Keep observing until every item is heard or the drain time is up.
        drain_until = time.time() + args.drain
        while time.time() < drain_until:
            with observer.lock:
                stages = summarize(feeds, observer.seen, published)
            if len(stages["audio ready"]) >= len(published):
                break
            time.sleep(5)
        observer.close()
        with observer.lock:
            stages = summarize(feeds, observer.seen, published)
            grew, peaks = backlog(observer.seen, t0, t_end)
            seen = observer.seen
            final_sources = service.sources()
        reasons_after: dict[str, int] = defaultdict(int)
        for s in final_sources:
            reasons_after[(s.get("poll_reason") or "?").split(":")[0]] += 1
        mode = "WebSub push" if args.websub else "polling"
        print(
            f"### Freshness, {mode}: {args.feeds} feeds, {args.minutes:g} min, "
            f"{len(published)} items ({len(published) / args.minutes:.1f}/min; each feed one per "
            f"{args.gap_min:g}-{args.gap_max:g} min on average)\n"
        )
        print("| publish → | items | p50 (s) | p95 (s) | max (s) |")
        print("|---|---:|---:|---:|---:|")
        for name, values in stages.items():
            if values:
                print(
                    f"| {name} | {len(values)}/{len(published)} | {_pct(values, 0.5):.1f} | "
                    f"{_pct(values, 0.95):.1f} | {max(values):.1f} |"
                )
            else:
                print(f"| {name} | 0/{len(published)} | – | – | – |")
        print()
        voices = ", ".join(sorted(seen.audio_voices)) or "none"
        length = (
            f"median length {statistics.median(seen.audio_seconds):.0f} s"
            if seen.audio_seconds
            else "no audio"
        )
        editions = ", ".join(f"{n} {e}" for e, n in sorted(seen.editions.items())) or "none"
        print(
            f"- story audio: voice {voices}, {length}; audio.ready by edition: {editions}; {seen.events} live events"
        )
        print(f"- backlog grew while publishing: {grew}; peak queued jobs: {peaks}")
        print("- poll reasons at the end: " + ", ".join(f"{r} {c}" for r, c in sorted(reasons_after.items())))
        if args.websub:
            print(f"- hub pushes delivered: {feeds.pushes}, failed: {feeds.push_failures}")
        print(f"- command: `{' '.join(['benchmarks/freshness.py', *sys.argv[1:]])}`")
        return 0
    finally:
        if observer is not None:
            observer.stop.set()
        service.stop()
        feeds.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
