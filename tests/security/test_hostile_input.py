"""Hostile strings in every request of the OpenAPI document, against a real `newstalk api`: no 5xx.

schemathesis builds valid-shaped requests for each operation; every string in the body,
query and path is then replaced with one from ``HOSTILE`` (NUL, lone surrogates, overlong,
bidi and zero-width marks, astral and noncharacter code points, terminal escapes). The
server runs on the database of the pass (PostgreSQL in the ``-m db`` pass, where NUL and
surrogates used to give HTTP 500) with an admin's API key, so protected operations are
reached past their auth checks. The counts are printed for the closing note (``-s``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newstalk.accounts import service
from newstalk.accounts.models import Role
from newstalk.kit.db import Database
from tests.api.test_schema_fuzz import SKIPPED, _free_port
from tests.conftest import make_settings
from tests.support.accounts import make_account

NEWSTALK = Path(sys.executable).parent / "newstalk"
EXAMPLES_PER_OPERATION = 8
# Lone surrogates cannot be put in a URL (no UTF-8 spelling), only in JSON bodies (\ud800).
HOSTILE_URL = (
    "nul\x00inside",
    "\x00",
    "x" * 5000,
    "\u202eevil\u202c\u200b\ufeff",
    "\U0001d54f\U0001f3f3\ufe0f\u200d\U0001f308",
    "\uffff\ufffe",
    "\x1b[31mred\x07",
    "뉴스\x00톡",
)
HOSTILE_BODY = (*HOSTILE_URL, "\ud800", "a\udfffb\ud83d", "x" * 300_000)
AUTH: dict[str, str] = {}
BASE: list[str] = []


def _replace_strings(value: Any, pick: Any) -> Any:
    if isinstance(value, str):
        return pick()
    if isinstance(value, list):
        return [_replace_strings(v, pick) for v in value]
    if isinstance(value, dict):
        return {k: _replace_strings(v, pick) for k, v in value.items()}
    return value


async def _admin_key(database_url: str) -> str:
    settings = make_settings(database_url)
    account = await make_account(settings, Role.admin, "hostile@example.org")
    db = Database.open(settings.async_database_url)
    try:
        async with db.unit() as uow:
            _, key = await service.create_api_key(uow, account.id, "hostile-input")
    finally:
        await db.dispose()
    return key


@pytest.fixture
def hostile_api(database_url: str, tmp_path: Path) -> Iterator[Any]:
    AUTH["Authorization"] = f"Bearer {asyncio.run(_admin_key(database_url))}"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSTALK_")}
    env.update(
        NEWSTALK_DATABASE_URL=database_url,
        NEWSTALK_RATE_LIMIT_PER_MINUTE=str(10**9),
        NEWSTALK_AUTH_ATTEMPTS_PER_ACCOUNT_HOUR="0",
        NEWSTALK_FETCH_TIMEOUT_S="3",
        NEWSTALK_LOG_LEVEL="warning",
        NEWSTALK_AUDIO_DIR=str(tmp_path / "audio"),
    )
    log_path = tmp_path / "api.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [str(NEWSTALK), "api", "--port", str(port)], env=env, cwd=tmp_path, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    BASE[:] = [base]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/ready", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(log_path.read_text()) from None
                time.sleep(0.1)
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_hostile_strings_in_every_operation_never_give_a_server_error(hostile_api: Any) -> None:
    failures: list[str] = []
    operations = calls = 0

    for result in hostile_api.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue
        operations += 1

        @given(case=operation.as_strategy(), data=st.data())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any, data: Any) -> None:
            nonlocal calls

            def url_string() -> str:
                return str(data.draw(st.sampled_from(HOSTILE_URL)))

            def body_string() -> str:
                return str(data.draw(st.sampled_from(HOSTILE_BODY)))

            if case.path_parameters:
                case.path_parameters = _replace_strings(case.path_parameters, url_string)
            if case.query:
                case.query = _replace_strings(case.query, url_string)
            if isinstance(case.body, dict | list | str):
                is_json = "json" in (case.media_type or "")
                case.body = _replace_strings(case.body, body_string if is_json else url_string)
            calls += 1
            if isinstance(case.body, dict | list | str) and "json" in (case.media_type or ""):
                # Sent as an attacker's client would: \ud800 escapes in ASCII JSON (the
                # client library refuses to encode a lone surrogate itself).
                # Path parameters percent-encoded, as case.call() does (a raw NUL is no URL).
                path = case.operation.path.format(
                    **{k: quote(str(v), safe="") for k, v in (case.path_parameters or {}).items()}
                )
                response = httpx.request(
                    case.method,
                    BASE[0] + path,
                    params=case.query or None,
                    content=json.dumps(case.body).encode(),
                    headers={**(case.headers or {}), **AUTH, "content-type": "application/json"},
                    timeout=30,
                )
                status, text = response.status_code, response.text
            else:
                sent = case.call(headers=AUTH, timeout=30)
                status = sent.status_code
                text = bytes(sent.content).decode("utf-8", "replace")
            if status == 502 and "fetch-failed" in text:
                return
            if status >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {status} {text[:300]}")

        call()
    print(f"\nhostile input: {operations} operations, {calls} requests, {len(failures)} server errors")
    assert operations >= 40  # the whole document, not a stray subset
    assert failures == [], "\n".join(failures[:40])
