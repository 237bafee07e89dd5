"""Container health check: GET /health on roles that serve HTTP; other roles are alive while running.

Docker runs this as the image's HEALTHCHECK. `newstalk api` and `newstalk up` serve /health on
NEWSTALK_HEALTHCHECK_PORT (default 8000); workers and the scheduler serve no HTTP, so their
liveness is the process itself (Kubernetes restarts it when it exits). Standard library only.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

HTTP_ROLES = {"api", "up"}


def role(cmdline: list[str]) -> str | None:
    """The newstalk subcommand in a process's argument list, if any."""
    for i, arg in enumerate(cmdline):
        if Path(arg).name == "newstalk" and i + 1 < len(cmdline):
            return cmdline[i + 1]
    return None


def check(cmdline: list[str], port: int, timeout_s: float = 3.0) -> tuple[bool, str]:
    """Whether the process described by cmdline is healthy, and why."""
    name = role(cmdline)
    if name not in HTTP_ROLES:
        return True, f"healthcheck: role {name or 'unknown'} serves no HTTP; alive while running"
    url = f"http://127.0.0.1:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status = response.status
    except OSError as exc:
        return False, f"healthcheck: {url} failed: {exc}"
    return status == 200, f"healthcheck: {url} answered {status}"


def main() -> int:
    raw = Path("/proc/1/cmdline").read_bytes() if len(sys.argv) < 2 else None
    cmdline = sys.argv[1:] if raw is None else [a.decode() for a in raw.split(b"\0") if a]
    healthy, reason = check(cmdline, int(os.environ.get("NEWSTALK_HEALTHCHECK_PORT", "8000")))
    print(reason)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
