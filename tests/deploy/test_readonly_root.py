"""The image's promise that NewsTalk runs on a read-only root filesystem, checked without Docker:
`newstalk up` in a private mount namespace where / is remounted read-only and only a tmpfs (the
pods' emptyDir at /tmp) is writable, then the checklist against it. The tmpfs goes on a fresh
folder rather than over /tmp, which may hold the checkout itself (a clone under /tmp)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
set -eu
mount --make-rprivate /
mount -t tmpfs tmpfs "$W"
mount -o remount,bind,ro /
if touch "$ROOT/.readonly-probe" 2>/dev/null; then rm -f "$ROOT/.readonly-probe"; echo "root is writable"; exit 3; fi
mkdir -p "$W/data" && cd "$W/data"
export HOME="$W" TMPDIR="$W" PYTHONDONTWRITEBYTECODE=1 NEWSTALK_DATABASE_URL="sqlite:///$W/data/newstalk.db" \
  NEWSTALK_AUDIO_DIR="$W/data/audio"
"$PYTHON" -c "from newstalk.cli import main; main()" up --port "$PORT" > "$W/data/log" 2>&1 &
for _ in $(seq 1 90); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/ready" 2>/dev/null && break; sleep 1; done
status=0
"$ROOT/scripts/production-checklist.sh" --url "http://127.0.0.1:$PORT" || status=$?
kill %1 || true
wait || true
[ "$status" -eq 0 ] || tail -n 30 "$W/data/log"
exit "$status"
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("unshare") is None
        or subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0,
        reason="needs unshare -m (root with CAP_SYS_ADMIN)",
    ),
]


def test_newstalk_serves_ready_on_a_read_only_root_with_only_tmp_writable(tmp_path: Path) -> None:
    writable = tmp_path / "emptydir"
    writable.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ,
        ROOT=str(ROOT),
        W=str(writable),
        PORT=str(port),
        PYTHON=sys.executable,
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p),
    )
    result = subprocess.run(
        ["unshare", "-m", "bash", "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS database-migrated" in result.stdout
    assert "PASS api-endpoints" in result.stdout
