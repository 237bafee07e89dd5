"""Side-by-side ingest benchmark: NewsTalk's collect stage against Tiny Tiny RSS, same feeds, one run.

Run: ``.venv/bin/python benchmarks/peer.py [--feeds 200 --items 50 --rounds 3]``.
Both systems poll the same local feeds (``_feeds.py``, ETag and Last-Modified) into fresh
PostgreSQL databases on the same server, in interleaved rounds (the order alternates), and
the script prints one markdown table of medians plus the ratios against the issue's aims.
Progress and per-round numbers go to stderr. The peer is run when it is installed and
configured (``scripts/setup-peer-ttrss``); otherwise its row says why it was skipped. This
script installs nothing. Exits 1 when a system stores the wrong number of articles or a
re-poll does not answer 304 everywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _feeds
from ingest import DEFAULT_PG, _drop_pg_database, _libpq, _pg_database

TTRSS_DIR = Path("/usr/share/tt-rss/www")
TTRSS_SCHEMA = Path("/usr/share/tt-rss/schema/ttrss_schema_pgsql.sql")
TTRSS_DB_CONFIG = Path("/etc/tt-rss/database.php")
TTRSS_FEED_CACHE = Path("/var/cache/tt-rss/feeds")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
COLUMNS = [
    "system",
    "articles",
    "articles/s",
    "CPU-s",
    "CPU-ms/article",
    "peak RSS MiB",
    "re-poll s",
    "re-poll CPU-s",
    "PostgreSQL CPU-s (server-wide)",
]


def log(msg: str) -> None:
    print(f"[peer] {msg}", file=sys.stderr, flush=True)


# --- process-tree accounting from /proc (no psutil in the environment) -------------------


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which is in parentheses and may contain spaces.
    return raw[raw.rindex(")") + 2 :].split()


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            kids.setdefault(int(fields[1]), []).append(int(entry))
    return kids


def _tree(root: int) -> list[int]:
    kids, out, todo = _children_map(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def tree_cpu_s(root: int) -> float:
    """CPU seconds (user+sys) of ``root`` and its live descendants, plus their reaped children."""
    total = 0
    for pid in _tree(root):
        if (fields := _stat(pid)) is not None:
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / TICK


def _own_cpu_s(pid: int) -> float:
    fields = _stat(pid)
    return sum(int(x) for x in fields[11:13]) / TICK if fields else 0.0


def tree_rss(root: int) -> int:
    total = 0
    for pid in _tree(root):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    return total


def _postmaster() -> int | None:
    """The PostgreSQL server's root process on this machine, when it runs here."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        fields = _stat(int(entry))
        if comm in ("postgres", "postmaster") and fields is not None:
            try:
                parent = Path(f"/proc/{fields[1]}/comm").read_text().strip()
            except OSError:
                parent = ""
            if parent not in ("postgres", "postmaster"):
                return int(entry)
    return None


class RssSampler:
    """Peak of the summed RSS of a process tree, sampled every ``interval`` seconds."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root, self.interval, self.peak = root, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.root))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Phase:
    wall_s: float
    cpu_s: float
    pg_cpu_s: float | None
    rss_bytes: int = 0
    root_cpu_s: float | None = None  # the root process alone (NewsTalk: the pipeline process)


@dataclass
class Run:
    system: str
    articles: int = 0
    cold: Phase | None = None
    repoll: Phase | None = None
    error: str | None = None
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


def _measure(root: int, go: Callable[[], None], wait: Callable[[], Any]) -> tuple[Phase, Any]:
    """Time ``go()`` .. ``wait()`` and charge the CPU of ``root``'s process tree and PostgreSQL."""
    pm = _postmaster()
    pg0 = tree_cpu_s(pm) if pm else None
    cpu0, own0 = tree_cpu_s(root), _own_cpu_s(root)
    t0 = time.perf_counter()
    with RssSampler(root) as rss:
        go()
        result = wait()
        cpu1, own1 = tree_cpu_s(root), _own_cpu_s(root)
    wall = time.perf_counter() - t0
    pg1 = tree_cpu_s(pm) if pm else None
    pg = pg1 - pg0 if pg0 is not None and pg1 is not None else None
    return Phase(wall, cpu1 - cpu0, pg, rss.peak, own1 - own0), result


# --- NewsTalk --------------------------------------------------------------------------


@dataclass(frozen=True)
class NewsTalkConfig:
    url: str
    base: str
    feeds: int
    items: int
    timeout_s: float


async def _newstalk(cfg: NewsTalkConfig, conn: Connection) -> None:
    """Subscribe, then on each "go" from the parent: the cold round, then the re-poll."""
    from sqlalchemy import func, select, update

    from newstalk.articles.models import Article
    from newstalk.config import Settings
    from newstalk.kit.db import utcnow
    from newstalk.pipeline.stages import all_stages
    from newstalk.pipeline.worker import StageWorker
    from newstalk.runtime import Services
    from newstalk.sources import service as sources
    from newstalk.sources.models import Source
    from newstalk.sources.tasks import enqueue_due

    defaults = Settings(_env_file=None)
    # The shipped defaults, except what a benchmark on 127.0.0.1 needs: private addresses
    # allowed, no WebSub, and (as in ingest.py) the per-host limit raised to the fetch
    # concurrency because every feed is on one host.
    settings = Settings(
        database_url=cfg.url,
        allow_private_networks=True,
        websub_enabled=False,
        fetch_per_host_limit=min(defaults.fetch_concurrency, 64),
    )
    services = Services.build(settings)
    try:
        if services.parse_pool is not None:
            from newstalk.ingestion.process import warm_up

            futures = [services.parse_pool.submit(warm_up) for _ in range(settings.parse_processes * 2)]
            for future in futures:
                future.result()
        stage = next(s for s in all_stages(settings) if s.name == "collect")
        worker = StageWorker(services, stage)

        async def drain() -> None:
            deadline = time.perf_counter() + cfg.timeout_s
            while time.perf_counter() < deadline:
                if await worker.run_once():
                    continue
                depth = {(d.stage, d.status): d.count for d in await services.transport.depth()}
                if depth.get(("collect", "dead")):
                    raise RuntimeError(f"peer: {depth[('collect', 'dead')]} collect jobs dead-lettered")
                if not depth.get(("collect", "ready")) and not depth.get(("collect", "running")):
                    return
                await asyncio.sleep(0.02)
            raise RuntimeError(f"peer: collect queue not drained within {cfg.timeout_s:.0f}s")

        async def counts() -> tuple[int, int, int]:
            async with services.db.read() as session:
                articles = int(await session.scalar(select(func.count()).select_from(Article)) or 0)
                row = (
                    await session.execute(
                        select(func.sum(Source.fetch_count), func.sum(Source.not_modified_count))
                    )
                ).one()
            return articles, int(row[0] or 0), int(row[1] or 0)

        async with services.db.unit() as uow:
            for i in range(cfg.feeds):
                await sources.add_source(uow, settings, None, url=f"{cfg.base}/feeds/{i}.xml")
        conn.send("ready")
        conn.recv()
        await drain()
        articles, _, _ = await counts()
        conn.send(("cold", articles))
        conn.recv()
        _, fetches0, not_modified0 = await counts()
        async with services.db.unit() as uow:
            await uow.session.execute(update(Source).values(next_fetch_at=utcnow() - timedelta(seconds=1)))
        while await enqueue_due(services):
            pass
        await drain()
        after, fetches1, not_modified1 = await counts()
        conn.send(("repoll", after - articles, fetches1 - fetches0, not_modified1 - not_modified0))
    finally:
        await services.aclose()


def _newstalk_main(cfg: NewsTalkConfig, conn: Connection) -> None:
    try:
        from newstalk.config import to_sync_url
        from newstalk.kit.migrate import upgrade

        upgrade(to_sync_url(cfg.url))
        asyncio.run(_newstalk(cfg, conn))
    except BaseException:
        conn.send(("error", traceback.format_exc()))


def run_newstalk(admin_url: str, base: str, feeds: int, items: int, timeout_s: float) -> Run:
    run = Run("NewsTalk")
    name, url = _pg_database(admin_url)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(
        target=_newstalk_main, args=(NewsTalkConfig(url, base, feeds, items, timeout_s), child)
    )
    try:
        proc.start()

        def recv() -> Any:
            if not parent.poll(timeout_s + 300):
                raise TimeoutError("peer: NewsTalk did not answer in time")
            msg = parent.recv()
            if isinstance(msg, tuple) and msg[0] == "error":
                raise RuntimeError(msg[1])
            return msg

        recv()  # "ready": migrated, parse pool warm, feeds subscribed
        assert proc.pid is not None
        pid = proc.pid
        run.cold, (_, run.articles) = _measure(pid, lambda: parent.send("go"), recv)
        run.repoll, (_, new, polls, not_modified) = _measure(pid, lambda: parent.send("go"), recv)
        if run.articles != feeds * items:
            raise AssertionError(f"peer: NewsTalk stored {run.articles} articles, expected {feeds * items}")
        if new or polls != feeds or not_modified != feeds:
            raise AssertionError(
                f"peer: NewsTalk re-poll stored {new} articles, polled {polls} feeds, {not_modified} answered 304"
            )
    except Exception:
        run.error = traceback.format_exc()
    finally:
        proc.join(timeout=60)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=10)
        _drop_pg_database(admin_url, name)
    return run


# --- Tiny Tiny RSS ---------------------------------------------------------------------


def ttrss_missing(php: str) -> str | None:
    """Why the peer cannot run here, or None when it can."""
    if not (TTRSS_DIR / "update.php").is_file():
        return (
            f"Tiny Tiny RSS is not installed ({TTRSS_DIR}/update.php missing; run scripts/setup-peer-ttrss)"
        )
    if not TTRSS_DB_CONFIG.is_file() or "TTRSS_BENCH_DB_NAME" not in TTRSS_DB_CONFIG.read_text():
        return f"Tiny Tiny RSS is not configured for the benchmark ({TTRSS_DB_CONFIG}; run scripts/setup-peer-ttrss)"
    if shutil.which(php) is None:
        return f"{php} not found"
    if shutil.which("psql") is None:
        return "psql not found (needed to load tt-rss's schema)"
    return None


def _ttrss_user() -> dict[str, Any]:
    # tt-rss refuses to run as root; setup-peer-ttrss gives www-data its cache and lock dirs.
    if os.geteuid() == 0:
        return {"user": "www-data", "group": "www-data", "extra_groups": []}
    return {}


def run_ttrss(admin_url: str, base: str, feeds: int, items: int, timeout_s: float, php: str) -> Run:
    import psycopg

    run = Run("Tiny Tiny RSS")
    name, url = _pg_database(admin_url)
    logfile = Path(tempfile.gettempdir()) / f"peer-ttrss-{name}.log"
    try:
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", _libpq(url), "-f", str(TTRSS_SCHEMA)],
            check=True,
            capture_output=True,
            env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"},
        )
        urls = [f"{base}/feeds/{i}.xml" for i in range(feeds)]
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            # What a first login writes (update.php only polls feeds whose owner has prefs).
            conn.execute(
                "INSERT INTO ttrss_user_prefs (owner_uid, pref_name, value) "
                "SELECT 1, pref_name, def_value FROM ttrss_prefs"
            )
            # Subscribed with a title and site URL (else the first update fetches each feed
            # twice) and the favicon marked checked (the feeds' sites are fictional and the
            # machine is offline; NewsTalk's collect fetches no favicons either).
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO ttrss_feeds (owner_uid, title, feed_url, site_url, favicon_last_checked) "
                    "VALUES (1, %s, %s, %s, NOW())",
                    [(f"Bench news {i}", u, f"{base}/") for i, u in enumerate(urls)],
                )
        for u in urls:  # tt-rss reuses a feed's cached copy for 30 s; start from none
            (TTRSS_FEED_CACHE / f"{hashlib.sha1(u.encode()).hexdigest()}.xml").unlink(missing_ok=True)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TTRSS_BENCH_DB_NAME": name}

        def update() -> tuple[Phase, None]:
            pm = _postmaster()
            pg0 = tree_cpu_s(pm) if pm else None
            with open(logfile, "ab") as out:
                t0 = time.perf_counter()
                proc = subprocess.Popen(
                    [php, "update.php", "--feeds", "--quiet"],
                    cwd=TTRSS_DIR,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    **_ttrss_user(),
                )
                with RssSampler(proc.pid) as rss:
                    # wait4's rusage covers the process and every descendant it reaped: exact CPU
                    # where /proc sampling would miss tt-rss's short-lived per-feed children
                    # (one `update.php --update-feed` each), and the largest one's peak RSS.
                    _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - t0
                proc.returncode = os.waitstatus_to_exitcode(status)
            pg1 = tree_cpu_s(pm) if pm else None
            if proc.returncode != 0:
                raise RuntimeError(f"peer: update.php exited {proc.returncode}; see {logfile}")
            cpu = usage.ru_utime + usage.ru_stime
            pg = pg1 - pg0 if pg0 is not None and pg1 is not None else None
            # Peak RSS: the sampled sum over the tree (parent + the feed's child), or the
            # largest single process when sampling missed it.
            return Phase(wall, cpu, pg, max(rss.peak, usage.ru_maxrss * 1024)), None

        def db_counts() -> tuple[int, int, int, int]:
            with psycopg.connect(_libpq(url), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM ttrss_entries), (SELECT count(*) FROM ttrss_user_entries), "
                    "(SELECT count(*) FROM ttrss_feeds WHERE last_error <> ''), "
                    "(SELECT count(*) FROM ttrss_feeds WHERE last_updated > NOW() - INTERVAL '1 hour')"
                ).fetchone()
            assert row is not None
            return int(row[0]), int(row[1]), int(row[2]), int(row[3])

        run.cold, _ = update()
        entries, user_entries, errors, updated = db_counts()
        run.articles = user_entries
        if entries != feeds * items or user_entries != feeds * items or errors or updated != feeds:
            raise AssertionError(
                f"peer: tt-rss stored {entries} entries / {user_entries} user entries "
                f"(expected {feeds * items}), {updated} feeds updated, {errors} with errors; see {logfile}"
            )
        # Re-poll: every feed due again (what --force-update does) and no cached copy, so each
        # one is fetched with If-Modified-Since and answers 304.
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            conn.execute(
                "UPDATE ttrss_feeds SET last_updated = '1970-01-01', last_update_started = NULL, "
                "last_successful_update = NULL"
            )
        for u in urls:
            (TTRSS_FEED_CACHE / f"{hashlib.sha1(u.encode()).hexdigest()}.xml").unlink(missing_ok=True)
        run.repoll, _ = update()
        entries2, _, errors2, _ = db_counts()
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM ttrss_feeds WHERE last_successful_update > NOW() - INTERVAL '1 hour'"
            ).fetchone()
        polled = int(row[0]) if row else 0
        if entries2 != entries or errors2 or polled != feeds:
            raise AssertionError(
                f"peer: tt-rss re-poll: {entries2 - entries} new entries, {polled} feeds polled, {errors2} errors"
            )
    except Exception:
        run.error = traceback.format_exc()
    finally:
        _drop_pg_database(admin_url, name)
    return run


# --- report ----------------------------------------------------------------------------


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _summary(runs: list[Run]) -> dict[str, Any]:
    ok = [r for r in runs if r.cold and r.repoll and not r.error]
    if not ok:
        return {}
    cold = [r.cold for r in ok if r.cold]
    repoll = [r.repoll for r in ok if r.repoll]
    rates = [r.articles / r.cold.wall_s for r in ok if r.cold]
    return {
        "rounds": len(ok),
        "articles": ok[0].articles,
        "rate": _median(list(rates)),
        "cpu": _median([p.cpu_s for p in cold]),
        "cpu_ms": _median([1000 * r.cold.cpu_s / r.articles for r in ok if r.cold]),
        "rss": _median([p.rss_bytes / 2**20 for p in cold]),
        "repoll": _median([p.wall_s for p in repoll]),
        "repoll_cpu": _median([p.cpu_s for p in repoll]),
        "pg": _median([p.pg_cpu_s for p in cold]),
    }


def _f(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def report(results: dict[str, list[Run]], skipped: dict[str, str]) -> tuple[str, bool]:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
    summaries: dict[str, dict[str, Any]] = {}
    failed = False
    for system, runs in results.items():
        errors = [r.error for r in runs if r.error]
        failed |= bool(errors)
        s = summaries[system] = _summary(runs)
        if not s:
            last = errors[0].strip().splitlines()[-1] if errors else "no run"
            lines.append(f"| {system} | FAILED: {last} |" + " |" * (len(COLUMNS) - 2))
            continue
        lines.append(
            "| "
            + " | ".join(
                [
                    system + (f" ({len(errors)} of {len(runs)} rounds failed)" if errors else ""),
                    str(s["articles"]),
                    _f(s["rate"], ".0f"),
                    _f(s["cpu"], ".1f"),
                    _f(s["cpu_ms"], ".2f"),
                    _f(s["rss"], ".0f"),
                    _f(s["repoll"], ".2f"),
                    _f(s["repoll_cpu"], ".2f"),
                    _f(s["pg"], ".1f"),
                ]
            )
            + " |"
        )
    for system, reason in skipped.items():
        lines.append(f"| {system} | skipped: {reason} |" + " |" * (len(COLUMNS) - 2))
    ours, peer = summaries.get("NewsTalk"), summaries.get("Tiny Tiny RSS")
    lines.append("")
    if ours and peer:
        speed = ours["rate"] / peer["rate"]
        cpu = ours["cpu_ms"] / peer["cpu_ms"]
        repoll = ours["repoll"] / peer["repoll"]
        lines.append(
            f"NewsTalk / Tiny Tiny RSS (medians of {min(ours['rounds'], peer['rounds'])} interleaved rounds):"
        )
        lines.append(f"- articles/s: {speed:.2f}x (aim >= 2x): {'met' if speed >= 2 else 'MISSED'}")
        lines.append(f"- CPU per article: {cpu:.2f}x (aim <= 1x): {'met' if cpu <= 1 else 'MISSED'}")
        lines.append(f"- re-poll time: {repoll:.2f}x (aim <= 0.2x): {'met' if repoll <= 0.2 else 'MISSED'}")
        lines.append(f"- peak RSS: {ours['rss'] / peer['rss']:.2f}x (no aim)")
        if ours["pg"] is not None and peer["pg"] is not None:
            both = (ours["cpu"] + ours["pg"]) / (peer["cpu"] + peer["pg"])
            lines.append(f"- CPU per article including PostgreSQL (server-wide, noisy): {both:.2f}x")
    elif "Tiny Tiny RSS" in skipped:
        lines.append(f"Peer skipped: {skipped['Tiny Tiny RSS']}. No ratios.")
    else:
        lines.append("No ratios: a system failed (see stderr).")
    return "\n".join(lines), failed


def _own_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("10.255.255.255", 1))
        return str(sock.getsockname()[0])


def _start_feeds(args: argparse.Namespace, skipped: dict[str, str]) -> tuple[BaseProcess, str]:
    """Serve the feeds where tt-rss will fetch them, or on 127.0.0.1 when it is skipped."""
    if "Tiny Tiny RSS" not in skipped:
        try:
            host = args.feed_host or _own_address()
            server, port = _feeds.start_server(args.feeds, args.items, args.seed, host, args.feed_port)
            return server, f"http://{host}:{port}" if port != 80 else f"http://{host}"
        except OSError as exc:
            skipped["Tiny Tiny RSS"] = (
                f"no address tt-rss accepts for the feed server ({exc}); tt-rss only fetches ports "
                "80/443 on hosts other than 127.*/localhost (--feed-host, --feed-port)"
            )
            log(f"peer skipped: {skipped['Tiny Tiny RSS']}")
    server, port = _feeds.start_server(args.feeds, args.items, args.seed)
    return server, f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are printed")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_PG, help="admin URL; fresh databases are made next to it"
    )
    parser.add_argument("--php", default="/usr/bin/php")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per phase")
    parser.add_argument("--no-peer", action="store_true", help="run NewsTalk only")
    parser.add_argument(
        "--feed-host",
        default=None,
        help="address the feeds are served on when the peer runs (default: this machine's own "
        "non-loopback address; tt-rss refuses 127.* and localhost)",
    )
    parser.add_argument(
        "--feed-port",
        type=int,
        default=80,
        help="port for the feeds when the peer runs (tt-rss accepts 80 and 443 only)",
    )
    args = parser.parse_args(argv)

    skipped: dict[str, str] = {}
    reason = "--no-peer given" if args.no_peer else ttrss_missing(args.php)
    if reason:
        skipped["Tiny Tiny RSS"] = reason
        log(f"peer skipped: {reason}")
    results: dict[str, list[Run]] = {"NewsTalk": []}
    if not reason:
        results["Tiny Tiny RSS"] = []
    server, base = _start_feeds(args, skipped)
    if "Tiny Tiny RSS" in skipped:
        results.pop("Tiny Tiny RSS", None)
    log(f"feed server pid {server.pid} at {base}: {args.feeds} feeds x {args.items} items")
    try:
        for rnd in range(args.rounds):
            order = list(results)
            if rnd % 2:
                order.reverse()
            for system in order:
                if system == "NewsTalk":
                    run = run_newstalk(args.postgres_url, base, args.feeds, args.items, args.timeout)
                else:
                    run = run_ttrss(args.postgres_url, base, args.feeds, args.items, args.timeout, args.php)
                results[system].append(run)
                if run.error:
                    log(f"round {rnd + 1} {system} FAILED:\n{run.error}")
                elif run.cold and run.repoll:
                    c, r = run.cold, run.repoll
                    log(
                        f"round {rnd + 1} {system}: {run.articles} articles in {c.wall_s:.2f}s "
                        f"({run.articles / c.wall_s:.0f}/s), CPU {c.cpu_s:.2f}s, peak RSS "
                        f"{c.rss_bytes / 2**20:.0f} MiB, PostgreSQL CPU {_f(c.pg_cpu_s, '.2f')}s; "
                        f"re-poll {r.wall_s:.2f}s, CPU {r.cpu_s:.2f}s"
                        + (
                            f"; cold CPU of the pipeline process {c.root_cpu_s:.2f}s, "
                            f"of its children (parse pool) {c.cpu_s - c.root_cpu_s:.2f}s"
                            if c.root_cpu_s is not None
                            else ""
                        )
                    )
    finally:
        server.terminate()
        server.join(timeout=10)
    table, failed = report(results, skipped)
    print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
