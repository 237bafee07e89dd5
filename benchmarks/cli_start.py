"""CLI start-up benchmark: wall time of commands that run no stage, each in a fresh process.

Run: ``.venv/bin/python benchmarks/cli_start.py [--runs 15] [--src PATH ...]``.

Each command runs ``--runs`` times as a new ``newstalk`` process (the console script next
to this interpreter), so every run pays the interpreter start and every import, as a
user does. ``sources list`` needs a migrated database: the script makes a fresh SQLite
file in a temp dir, runs ``newstalk db upgrade`` once (not timed) and points
``NEWSTALK_DATABASE_URL`` at it. ``--src`` puts a checkout's ``src`` first on
``PYTHONPATH`` (default: this checkout's); given more than once, the checkouts' runs are
interleaved so a before and an after see the same machine load. One warm-up run per
command and checkout fills the OS file cache first.

Prints one markdown table on stdout (command, checkout, median / p95 / min wall seconds, and
median CPU seconds of the process, user + system, which a busy machine disturbs less than
wall time); progress on stderr.
Exits 1 when a command fails.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWSTALK = Path(sys.executable).parent / "newstalk"
COMMANDS: tuple[tuple[str, ...], ...] = (("--help",), ("sources", "--help"), ("sources", "list"))


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(args: tuple[str, ...], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of one ``newstalk ARGS`` process; raises when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([str(NEWSTALK), *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(
            f"newstalk {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-500:]}"
        )
    return elapsed, cpu


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per command")
    parser.add_argument(
        "--src",
        type=Path,
        action="append",
        help="a src folder to measure; repeat to compare checkouts in one run (default: this one)",
    )
    args = parser.parse_args()
    sources = [s.resolve() for s in (args.src or [ROOT / "src"])]
    with tempfile.TemporaryDirectory(prefix="newstalk-cli-") as tmp:
        envs: list[dict[str, str]] = []
        for i, src in enumerate(sources):
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
            env["NEWSTALK_DATABASE_URL"] = f"sqlite:///{Path(tmp) / f'cli{i}.db'}"
            log(f"{src}: migrating a fresh SQLite database (not timed)")
            run(("db", "upgrade"), env)
            envs.append(env)
        rows: list[tuple[str, str, float, float, float, float]] = []
        for command in COMMANDS:
            name = "newstalk " + " ".join(command)
            times: list[list[float]] = [[] for _ in sources]
            cpus: list[list[float]] = [[] for _ in sources]
            for env in envs:
                run(command, env)  # warm-up
            # Interleaved, so every checkout sees the same machine load.
            for _ in range(args.runs):
                for i, env in enumerate(envs):
                    wall, cpu = run(command, env)
                    times[i].append(wall)
                    cpus[i].append(cpu)
            for src, t, c in zip(sources, times, cpus, strict=True):
                log(f"{name} ({src}): median {statistics.median(t):.3f} s")
                rows.append((name, str(src), statistics.median(t), p95(t), min(t), statistics.median(c)))
    print(f"CLI start, {args.runs} fresh processes per command and checkout\n")
    print("| command | src | median s | p95 s | min s | median CPU s |")
    print("|---|---|---:|---:|---:|---:|")
    for name, src, median, high, low, cpu in rows:
        print(f"| `{name}` | {src} | {median:.3f} | {high:.3f} | {low:.3f} | {cpu:.3f} |")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:
        log(str(exc))
        sys.exit(1)
