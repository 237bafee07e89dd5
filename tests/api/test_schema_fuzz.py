"""Every operation of the OpenAPI document, fuzzed by schemathesis against a real `newstalk api`: no 5xx.

The calls carry an admin's personal API key, so protected operations are exercised past
their auth checks. Operations that would delete the key or its account are left out (they
would turn the rest of the run into 401s); a 502 that says an upstream feed could not be
fetched is the documented answer to subscribing to an unreachable feed, not a server error.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from newstalk.accounts import service
from newstalk.accounts.models import Role
from newstalk.kit import migrate
from newstalk.kit.db import Database
from tests.conftest import make_settings
from tests.support.accounts import make_account

NEWSTALK = Path(sys.executable).parent / "newstalk"
SKIPPED = {
    ("DELETE", "/api/v1/me"),
    ("DELETE", "/api/v1/users/{user_id}"),
    ("DELETE", "/api/v1/me/api-keys/{key_id}"),
}
AUTH: dict[str, str] = {}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _admin_key(database_url: str) -> str:
    settings = make_settings(database_url)
    account = await make_account(settings, Role.admin, "fuzz@example.org")
    db = Database.open(settings.async_database_url)
    try:
        async with db.unit() as uow:
            _, key = await service.create_api_key(uow, account.id, "schemathesis")
    finally:
        await db.dispose()
    return key


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("fuzz")
    database_url = f"sqlite:///{tmp / 'fuzz.db'}"
    migrate.upgrade(database_url)
    AUTH["Authorization"] = f"Bearer {asyncio.run(_admin_key(database_url))}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    env.update(
        NEWSTALK_DATABASE_URL=database_url,
        NEWSTALK_RATE_LIMIT_PER_MINUTE=str(10**9),
        NEWSTALK_FETCH_TIMEOUT_S="3",
        NEWSTALK_LOG_LEVEL="warning",
        NEWSTALK_AUDIO_DIR=str(tmp / "audio"),
    )
    log = (tmp / "api.log").open("wb")
    proc = subprocess.Popen(
        [str(NEWSTALK), "api", "--port", str(port)], env=env, cwd=tmp, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/ready", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp / "api.log").read_text()) from None
                time.sleep(0.1)
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_no_operation_answers_with_a_server_error(api_schema: Any) -> None:
    failures: list[str] = []
    operations = 0

    for result in api_schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            response = case.call(headers=AUTH, timeout=30)
            if response.status_code == 502 and "fetch-failed" in response.text:
                return
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
                )

        call()
    assert operations >= 40  # the whole document, not a stray subset
    assert sorted({f.split(":")[0] for f in failures}) == [], "\n".join(failures[:40])
