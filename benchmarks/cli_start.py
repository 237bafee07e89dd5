"""CLI start-up benchmark: wall time of commands that run no stage, each in a fresh process.

Run: ``.venv/bin/python benchmarks/cli_start.py [--runs 15] [--src PATH] [--label NAME]``.

Each command runs ``--runs`` times as a new ``newstalk`` process (the console script next
to this interpreter), so every run pays the interpreter start and every import, as a
user does. ``sources list`` needs a migrated database: the script makes a fresh SQLite
file in a temp dir, runs ``newstalk db upgrade`` once (not timed) and points
``NEWSTALK_DATABASE_URL`` at it. ``--src`` puts another checkout's ``src`` first on
``PYTHONPATH`` (default: this checkout's), so the same script measures a before and an
after. One warm-up run per command fills the OS file cache first.

Prints one markdown table on stdout (command, median s, p95 s, min s); progress on stderr.
Exits 1 when a command fails.
"""

from __future__ import annotations

import argparse
import os
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


def run(args: tuple[str, ...], env: dict[str, str]) -> float:
    """Wall seconds of one ``newstalk ARGS`` process; raises when it fails."""
    start = time.perf_counter()
    done = subprocess.run([str(NEWSTALK), *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"newstalk {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-500:]}"
        )
    return elapsed


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per command")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the src folder to measure")
    parser.add_argument("--label", default="", help="a name for this checkout in the table")
    args = parser.parse_args()
    label = args.label or str(args.src.resolve())
    with tempfile.TemporaryDirectory(prefix="newstalk-cli-") as tmp:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(args.src.resolve()), env.get("PYTHONPATH")) if p)
        env["NEWSTALK_DATABASE_URL"] = f"sqlite:///{Path(tmp) / 'cli.db'}"
        log("migrating a fresh SQLite database (not timed)")
        run(("db", "upgrade"), env)
        rows: list[tuple[str, float, float, float]] = []
        for command in COMMANDS:
            name = "newstalk " + " ".join(command)
            run(command, env)
            times = [run(command, env) for _ in range(args.runs)]
            log(f"{name}: median {statistics.median(times):.3f} s")
            rows.append((name, statistics.median(times), p95(times), min(times)))
    print(f"CLI start, {args.runs} fresh processes per command, src: {label}\n")
    print("| command | median s | p95 s | min s |")
    print("|---|---:|---:|---:|")
    for name, median, high, low in rows:
        print(f"| `{name}` | {median:.3f} | {high:.3f} | {low:.3f} |")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as exc:
        log(str(exc))
        sys.exit(1)
