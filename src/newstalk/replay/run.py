"""``newstalk eval pipeline``: replay a labelled stream through a running ``newstalk up``, score the API.

Nothing here reaches into the service: the stream is served as RSS feeds on 127.0.0.1,
subscribed through ``POST /api/v1/sources``, collected by the service's own scheduler and
stages on a fresh database, and scored only from what ``/api/v1/...`` returns.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from newstalk.replay.feeds import StreamFeeds
from newstalk.replay.stream import StreamItem, shift_to
from newstalk.stories.evaluate.uci import bcubed

# The replayed day ends a few minutes ago; longer streams are compressed into it.
SPAN = timedelta(hours=24)
# What the eval changes from the defaults: fast polling so waves arrive in minutes, no
# audio (the eval scores stories and verdicts), no rate limit on its own requests.
SERVICE_ENV = {
    "NEWSTALK_ALLOW_PRIVATE_NETWORKS": "true",
    # Waves a few seconds apart: every source polled at least every 20 s, dormant or not.
    "NEWSTALK_FRESHNESS_S": "20",
    "NEWSTALK_POLL_MIN_S": "10",
    "NEWSTALK_POLL_MAX_S": "60",
    "NEWSTALK_BRIEFINGS_STORY_AUDIO": "false",
    "NEWSTALK_RATE_LIMIT_PER_MINUTE": "0",
    "NEWSTALK_LOG_LEVEL": "WARNING",
}
Progress = Callable[[str], None]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Observed:
    """What the API returned, mapped back to the stream."""

    story_of: dict[str, str] = field(default_factory=dict)  # item id -> story id
    stories: dict[str, dict[str, Any]] = field(default_factory=dict)
    factchecks: dict[str, dict[str, Any]] = field(default_factory=dict)
    articles_seen: int = 0
    first_seen: dict[str, datetime] = field(default_factory=dict)


def score(
    items: list[StreamItem], feeds: StreamFeeds, seen: Observed, timings: dict[str, float]
) -> dict[str, Any]:
    """Every number the command reports, from the stream's labels and the API's answers."""
    gold = {i.id: i.event for i in items}
    found = dict(seen.story_of)
    missing = [i.id for i in items if i.id not in found]
    for item_id in missing:  # never stored or never placed: a story of its own
        found[item_id] = f"missing:{item_id}"
    order = list(gold)
    p, r, f1 = bcubed([gold[i] for i in order], [found[i] for i in order])
    members: dict[str, list[str]] = defaultdict(list)
    for item_id, story in found.items():
        members[story].append(item_id)

    def purity(ids: list[str]) -> float:
        return Counter(gold[i] for i in ids).most_common(1)[0][1] / len(ids)

    largest = max(members.values(), key=len)
    impure: list[dict[str, Any]] = sorted(
        (
            {
                "story": s,
                "articles": len(ids),
                "purity": round(purity(ids), 3),
                "events": len({gold[i] for i in ids}),
            }
            for s, ids in members.items()
            if len(ids) >= 3 and purity(ids) < 0.9
        ),
        key=lambda x: float(x["purity"]),
    )
    # Korean-English pairs: events with exactly one Korean and one English article.
    langs: dict[str, list[StreamItem]] = defaultdict(list)
    for i in items:
        langs[i.event].append(i)
    pairs = [v for v in langs.values() if sorted(x.language for x in v) == ["en", "ko"]]
    joined = sum(1 for a, b in pairs if found[a.id] == found[b.id])
    verdicts: Counter[str] = Counter()
    cross: Counter[str] = Counter()
    cross_examples: list[dict[str, str]] = []
    for story, check in seen.factchecks.items():
        for claim in check.get("claims", []):
            verdict = claim["verdict"]
            verdicts[verdict] += 1
            claim_item = feeds.item_for_url(claim.get("url") or "")
            if claim_item is None or verdict == "unverified":
                continue
            for ev in claim.get("evidence", []):
                ev_item = feeds.item_for_url(ev.get("url") or "")
                if ev.get("stance") == "neutral" or ev_item is None or ev_item.event == claim_item.event:
                    continue
                cross[verdict] += 1
                if len(cross_examples) < 5:
                    cross_examples.append(
                        {
                            "story": story,
                            "verdict": verdict,
                            "claim": claim["text"][:160],
                            "evidence": ev["quote"][:160],
                        }
                    )
                break
    # From the moment the feed showed the item to the moment the service stored it.
    latencies = sorted(
        (seen.first_seen[i] - feeds.revealed_at[i]).total_seconds()
        for i in seen.first_seen
        if i in feeds.revealed_at
    )
    return {
        "articles": len(items),
        "events": len(set(gold.values())),
        "languages": dict(Counter(i.language for i in items)),
        "outlets": len(feeds.outlets),
        "articles_in_api": seen.articles_seen,
        "articles_missing_from_stories": len(missing),
        "stories": len(set(seen.story_of.values())),
        "bcubed_precision": round(p, 4),
        "bcubed_recall": round(r, 4),
        "bcubed_f1": round(f1, 4),
        "largest_story": len(largest),
        "largest_story_purity": round(purity(largest), 4),
        "stories_3plus_below_0.9_purity": len(impure),
        "impure_stories": impure[:10],
        "ko_en_pairs": len(pairs),
        "ko_en_pair_join_rate": round(joined / len(pairs), 4) if pairs else None,
        "verdicts": dict(verdicts),
        "verdicts_citing_another_event": sum(cross.values()),
        "verdicts_citing_another_event_by_kind": dict(cross),
        "cross_event_examples": cross_examples,
        "outlet_names": sorted({c["outlet"] for d in seen.stories.values() for c in d.get("coverage", [])}),
        "ingest_latency_p50_s": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "ingest_latency_p95_s": round(latencies[int(len(latencies) * 0.95)], 1) if latencies else None,
        **{k: round(v, 1) for k, v in timings.items()},
    }


class Service:
    """A ``newstalk up`` subprocess on a fresh database in ``workdir``.

    ``env`` is the settings it runs with beyond the database, audio folder, public URL and
    admin token (default: the replay's fast polling, ``SERVICE_ENV``); the freshness
    benchmark passes the shipped defaults instead.
    """

    def __init__(
        self, workdir: Path, database_url: str | None = None, env: Mapping[str, str] = SERVICE_ENV
    ) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(32)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
        environ.update(env)
        environ["NEWSTALK_ADMIN_TOKEN"] = self.token
        environ["NEWSTALK_DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'newstalk.db'}"
        environ["NEWSTALK_AUDIO_DIR"] = str(workdir / "audio")
        environ["NEWSTALK_PUBLIC_URL"] = self.base
        self.log_path = workdir / "service.log"
        self._log = self.log_path.open("w")
        exe = Path(sys.executable).with_name("newstalk")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "newstalk.cli"]
        self.proc = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
            [*cmd, "up", "--port", str(self.port)],
            cwd=workdir,
            env=environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(
            base_url=self.base, timeout=60, headers={"Authorization": f"Bearer {self.token}"}
        )

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"eval pipeline: newstalk up exited ({self.proc.returncode}): {self.tail()}"
                )
            try:
                if self.client.get("/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"eval pipeline: newstalk up not ready within {timeout_s:.0f} s: {self.tail()}")

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def get(self, path: str, **params: Any) -> Any:
        for attempt in range(3):
            try:
                resp = self.client.get(path, params=params)
                break
            except httpx.TransportError:
                # A keep-alive connection the server closed as we reused it: GET again.
                if attempt == 2:
                    raise
                time.sleep(0.5)
        resp.raise_for_status()
        return resp.json()

    def pages(self, path: str, key: str = "items", **params: Any) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            page = self.get(path, **params, **({"cursor": cursor} if cursor else {}))
            yield from page[key]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def busy(self) -> int:
        """Jobs ready or running after collect. Collect is left out: busy feeds are polled every
        few seconds here, so it is never idle for long; ``_wait_polled`` covers it instead."""
        return sum(
            d["count"]
            for d in self.get("/api/v1/pipeline/queue")
            if d["status"] in ("ready", "running") and d["stage"] != "collect"
        )

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _wait_polled(service: Service, since: datetime, timeout_s: float) -> None:
    """Until every source has been fetched after ``since`` (the moment the wave became visible)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sources = list(service.pages("/api/v1/sources", limit=200))
        stale = [
            s
            for s in sources
            if not s.get("last_fetched_at") or datetime.fromisoformat(s["last_fetched_at"]) < since
        ]
        if not stale:
            return
        time.sleep(2)
    raise RuntimeError(f"eval pipeline: sources not polled within {timeout_s:.0f} s")


def _wait_idle(service: Service, timeout_s: float, quiet_s: float = 6.0) -> None:
    """Until the queue has had nothing ready or running for ``quiet_s`` (debounced stages included)."""
    deadline = time.monotonic() + timeout_s
    quiet_since: float | None = None
    while time.monotonic() < deadline:
        if service.busy() == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= quiet_s:
                return
        else:
            quiet_since = None
        time.sleep(1)
    raise RuntimeError(f"eval pipeline: the pipeline did not go idle within {timeout_s:.0f} s")


def observe(service: Service, feeds: StreamFeeds) -> Observed:
    seen = Observed()
    for article in service.pages("/api/v1/news", limit=200):
        item = feeds.item_for_url(article["url"])
        if item is not None:
            seen.articles_seen += 1
            seen.first_seen[item.id] = datetime.fromisoformat(article["first_seen_at"])
    for summary in service.pages("/api/v1/stories", limit=100):
        sid = str(summary["id"])
        detail = service.get(f"/api/v1/stories/{sid}")
        if detail.get("merged_into"):
            continue
        seen.stories[sid] = detail
        for entry in detail["timeline"]:
            item = feeds.item_for_url(entry["url"])
            if item is not None:
                seen.story_of[item.id] = sid
        seen.factchecks[sid] = service.get(f"/api/v1/stories/{sid}/factcheck")
    return seen


def run_pipeline_eval(
    items: list[StreamItem],
    *,
    waves: int = 4,
    database_url: str | None = None,
    workdir: Path | None = None,
    timeout_s: float = 3600,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Replay ``items`` through a fresh ``newstalk up``; returns the scores (see ``score``)."""
    say = progress or (lambda _msg: None)
    if not items:
        raise ValueError("eval pipeline: the stream has no usable articles")
    started = time.monotonic()
    items = sorted(
        shift_to(items, datetime.now(UTC) - timedelta(minutes=5), SPAN), key=lambda i: (i.published, i.id)
    )
    own_dir = workdir is None
    work = Path(tempfile.mkdtemp(prefix="newstalk-eval-")) if workdir is None else workdir
    work.mkdir(parents=True, exist_ok=True)
    feeds = StreamFeeds(items)
    feeds.start()
    service = Service(work, database_url)
    timings: dict[str, float] = {}
    try:
        service.wait_ready()
        timings["startup_s"] = time.monotonic() - started
        for outlet in feeds.outlets:
            resp = service.client.post(
                "/api/v1/sources",
                json={
                    "url": feeds.feed_url(outlet),
                    "language": feeds.language_of(outlet),
                    "category": "eval",
                },
            )
            if resp.status_code != 201:
                raise RuntimeError(
                    f"eval pipeline: subscribing {outlet!r} failed: {resp.status_code} {resp.text[:300]}"
                )
        say(f"subscribed {len(feeds.outlets)} outlet feeds on {feeds.base}")
        waves = max(1, min(waves, len(items)))
        replay_start = time.monotonic()
        for wave in range(1, waves + 1):
            visible_at = datetime.now(UTC)
            feeds.reveal(round(len(items) * wave / waves))
            _wait_polled(service, visible_at, timeout_s=max(120.0, timeout_s / waves))
            _wait_idle(service, timeout_s=timeout_s)
            say(
                f"wave {wave}/{waves}: {feeds.revealed} articles visible, pipeline idle after "
                f"{time.monotonic() - replay_start:.0f} s"
            )
        # A poll already in flight when the last wave appeared may have fetched the feed just
        # before it: one more round of polls, all started after that, settles the stream.
        settle_from = datetime.now(UTC)
        _wait_polled(service, settle_from, timeout_s=max(120.0, timeout_s / waves))
        _wait_idle(service, timeout_s=timeout_s)
        timings["replay_s"] = time.monotonic() - replay_start
        seen = observe(service, feeds)
        timings["total_s"] = time.monotonic() - started
        result = score(items, feeds, seen, timings)
        result["waves"] = waves
        result["database"] = (
            "postgresql" if database_url and database_url.startswith("postgres") else "sqlite"
        )
        return result
    finally:
        service.stop()
        feeds.stop()
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)
