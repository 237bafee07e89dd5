"""Burst drain: 10,000 articles arrive at once in ``newstalk up``; how fast do stories and checks follow?

Run: ``.venv/bin/python benchmarks/burst.py [--feeds 200 --items 50 --minutes 15 --every 15]``.

A local feed server (``benchmarks/_feeds.py``, its own process) serves ``--feeds`` feeds of
``--items`` items each. A fresh SQLite database is migrated and every feed is subscribed
(``add_source``, which enqueues the first poll), then ``newstalk up`` starts as a real process
on that database with default settings (private networks allowed for the local feeds, WebSub
off): the collect stage fetches every feed at once, so ``feeds × items`` articles land within
seconds and every later stage has a burst to drain. Every ``--every`` seconds the database is
read (read-only) for: articles stored, articles assigned to a story, stories, stories
fact-checked (a ``story_checks`` row), and jobs waiting per stage. Stops when every article
has its story and the stories and factcheck queues are empty, or after ``--minutes``. Prints
one markdown table on stdout (the drain curve) and a summary line; progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _feeds

NEWSTALK = Path(sys.executable).parent / "newstalk"
STAGES = ("collect", "embed", "stories", "factcheck", "search", "briefings", "speech")
BUSY = ("embed", "stories", "factcheck", "speech", "search", "briefings", "collect", "live")
TICK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[burst] {msg}", file=sys.stderr, flush=True)


async def _subscribe(db_url: str, port: int, feeds: int) -> None:
    from newstalk.config import Settings
    from newstalk.runtime import Services
    from newstalk.sources import service as sources

    settings = Settings(
        database_url=db_url, allow_private_networks=True, websub_enabled=False, parse_processes=0
    )
    services = Services.build(settings)
    try:
        async with services.db.unit() as uow:
            for i in range(feeds):
                await sources.add_source(uow, settings, None, url=f"http://127.0.0.1:{port}/feeds/{i}.xml")
    finally:
        await services.aclose()


def _sample(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        one = lambda sql: int(conn.execute(sql).fetchone()[0] or 0)  # noqa: E731
        row = {
            "articles": one("SELECT count(*) FROM articles"),
            "assigned": one("SELECT count(*) FROM story_articles"),
            "stories": one("SELECT count(*) FROM stories"),
            "checked": one("SELECT count(*) FROM story_checks"),
            "checked_current": one(
                "SELECT count(*) FROM story_checks sc JOIN stories s ON s.id = sc.story_id "
                "WHERE sc.story_version >= s.version"
            ),
            "checked_articles": one(
                "SELECT count(*) FROM story_articles sa JOIN story_checks sc ON sc.story_id = sa.story_id"
            ),
        }
        waiting = dict(
            conn.execute(
                "SELECT stage, count(*) FROM queue_jobs WHERE status IN ('ready', 'running') GROUP BY stage"
            ).fetchall()
        )
        for stage in STAGES:
            row[f"q_{stage}"] = int(waiting.get(stage, 0))
        return row
    finally:
        conn.close()


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its live children (the parse processes)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def _busy(port: int) -> dict[str, float]:
    """``newstalk_stage_busy_seconds_total`` per stage from the process's /metrics (empty if absent)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    found = re.findall(r'^newstalk_stage_(busy|deferred)_seconds_total\{stage="([^"]+)"\} (\S+)$', text, re.M)
    return {f"{kind}:{stage}": float(value) for kind, stage, value in found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=15.0, help="give up after this long")
    parser.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--newstalk", default=str(NEWSTALK), help="the newstalk executable to run")
    parser.add_argument("--keep-log", type=Path, help="copy newstalk up's log here at the end")
    args = parser.parse_args(argv)
    expected = args.feeds * args.items

    from newstalk.config import to_sync_url
    from newstalk.kit.migrate import upgrade

    server, feed_port = _feeds.start_server(args.feeds, args.items, args.seed)
    log(f"feed server pid {server.pid} on 127.0.0.1:{feed_port}: {args.feeds} feeds x {args.items} items")
    rows: list[tuple[float, dict[str, int]]] = []
    with tempfile.TemporaryDirectory(prefix="newstalk-burst-") as tmp:
        db_path = Path(tmp) / "burst.db"
        db_url = f"sqlite:///{db_path}"
        upgrade(to_sync_url(db_url))
        asyncio.run(_subscribe(db_url, feed_port, args.feeds))
        env = dict(
            os.environ,
            NEWSTALK_DATABASE_URL=db_url,
            NEWSTALK_ALLOW_PRIVATE_NETWORKS="true",
            NEWSTALK_WEBSUB_ENABLED="false",
            NEWSTALK_AUDIO_DIR=str(Path(tmp) / "audio"),
        )
        port = _feeds.free_port()
        with open(Path(tmp) / "up.log", "w") as up_log:
            proc = subprocess.Popen(
                [args.newstalk, "up", "--port", str(port)],
                cwd=tmp,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=up_log,
            )
            log(f"newstalk up pid {proc.pid}; {args.feeds} sources due now")
            started = time.monotonic()
            cpu, busy = 0.0, {}
            all_stored_at = all_assigned_at = None
            try:
                while True:
                    time.sleep(args.every)
                    if proc.poll() is not None:
                        log((Path(tmp) / "up.log").read_text()[-3000:])
                        raise SystemExit(f"burst: newstalk up exited with {proc.returncode}")
                    t = time.monotonic() - started
                    row = _sample(db_path)
                    cpu = _cpu_s(proc.pid)
                    busy = _busy(port) or busy
                    rows.append((t, row))
                    log(
                        f"t={t:.0f}s stored {row['articles']} assigned {row['assigned']} stories {row['stories']} "
                        f"checked {row['checked']} queued " + " ".join(f"{s}={row[f'q_{s}']}" for s in STAGES)
                    )
                    if all_stored_at is None and row["articles"] >= expected:
                        all_stored_at = t
                    if all_assigned_at is None and row["assigned"] >= expected:
                        all_assigned_at = t
                    drained = row["assigned"] >= expected and not row["q_stories"] and not row["q_factcheck"]
                    if drained or t >= args.minutes * 60:
                        break
            finally:
                if args.keep_log:
                    args.keep_log.write_text((Path(tmp) / "up.log").read_text())
                proc.terminate()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                server.terminate()
                server.join(timeout=10)

    cols = ["t (s)", "articles stored", "assigned to a story", "stories", "stories fact-checked"]
    cols += ["checked at current version"]
    cols += ["articles in checked stories"] + [f"queued {s}" for s in STAGES]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for t, r in rows:
        values = [f"{t:.0f}", r["articles"], r["assigned"], r["stories"], r["checked"], r["checked_current"]]
        values += [r["checked_articles"]]
        values += [r[f"q_{s}"] for s in STAGES]
        lines.append("| " + " | ".join(str(v) for v in values) + " |")
    print("\n".join(lines))

    def when(t: float | None) -> str:
        return f"{t:.0f} s" if t is not None else f"not within {args.minutes:g} min"

    last = rows[-1][1] if rows else {}
    lines = ["", "| stage | busy s (handling its claims) | deferred s (waiting its turn) |", "|---|---|---|"]
    for stage in BUSY:
        b, d = busy.get(f"busy:{stage}"), busy.get(f"deferred:{stage}")
        lines.append(f"| {stage} | {'—' if b is None else f'{b:.0f}'} | {'—' if d is None else f'{d:.0f}'} |")
    print("\n".join(lines))
    assigned = last.get("assigned", 0)
    print(
        f"\nnewstalk up CPU {cpu:.0f} s over {rows[-1][0]:.0f} s"
        + (f", {1000 * cpu / assigned:.0f} CPU-ms per article in a story (every stage)" if assigned else "")
    )
    print(
        f"\n{expected} articles: all stored after {when(all_stored_at)}, all assigned to stories after "
        f"{when(all_assigned_at)}"
    )
    return 0 if all_assigned_at is not None else 1


if __name__ == "__main__":
    sys.exit(main())
