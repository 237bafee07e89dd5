"""Correlated JSON logs: request, listener (hashed), stage, job and event ids; no secret in a line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends

from newstalk.accounts.models import Role
from newstalk.accounts.service import Principal
from newstalk.config import Settings
from newstalk.deps import optional_principal
from newstalk.kit.logs import JsonFormatter, annotate, bind, install_redaction, listener_hash
from newstalk.main import create_app
from tests.support.accounts import make_account

pytestmark = pytest.mark.anyio


def json_lines(records: list[logging.LogRecord]) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in records]


def test_a_json_line_has_the_bound_fields_and_no_secret() -> None:
    install_redaction()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("newstalk.test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        with bind(request_id="r-1", stage="collect", job_id=7, event_id="e" * 32):
            annotate(listener="abc")
            logger.warning("sent %s", "Authorization: Bearer ntk_live_secret")
            try:
                raise ValueError("password=hunter2")
            except ValueError:
                logger.exception("failed")
        annotate(listener="outside")  # no bound block: changes nothing
        logger.info("after")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    first, second, third = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {
        k: first[k] for k in ("level", "logger", "request_id", "listener", "stage", "job_id", "event_id")
    } == {
        "level": "warning",
        "logger": "newstalk.test.logs",
        "request_id": "r-1",
        "listener": "abc",
        "stage": "collect",
        "job_id": 7,
        "event_id": "e" * 32,
    }
    assert "ntk_live_secret" not in stream.getvalue()
    assert "hunter2" not in stream.getvalue()
    assert "ValueError" in second["error"]
    assert set(third) == {"time", "level", "logger", "message"}


def test_unknown_fields_are_refused_and_the_listener_hash_is_keyed() -> None:
    with pytest.raises(ValueError, match="unknown correlation fields"), bind(user_id=1):
        pass
    assert listener_hash(42, "k1") == listener_hash(42, "k1")
    assert listener_hash(42, "k1") != listener_hash(42, "k2") != listener_hash(43, "k2")
    assert len(listener_hash(42, "k1")) == 16


@pytest.fixture
async def probe_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app plus one route that logs a line while serving a request."""
    app = create_app(settings)

    async def probe(principal: Principal | None = Depends(optional_principal)) -> dict[str, str]:  # noqa: B008
        logging.getLogger("newstalk.test.probe").warning("probe served")
        return {"ok": "yes"}

    app.add_api_route("/_probe", probe)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_request_logs_carry_the_request_id_and_the_listener_hash_only(
    settings: Settings, probe_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    listener = await make_account(settings, Role.listener, "reader@example.org")
    with caplog.at_level(logging.WARNING, logger="newstalk.test.probe"):
        given = await probe_client.get("/_probe", headers={**listener.headers, "X-Request-ID": "abc-123"})
        fresh = await probe_client.get("/_probe", headers={"X-Request-ID": "no spaces\tallowed" + "x" * 80})
    assert given.headers["x-request-id"] == "abc-123"
    made = fresh.headers["x-request-id"]
    assert len(made) == 32
    assert made != "abc-123"
    first, second = json_lines([r for r in caplog.records if r.name == "newstalk.test.probe"])
    assert first["request_id"] == "abc-123"
    assert first["listener"] == listener_hash(listener.id, settings.jwt_secret.get_secret_value())
    assert second["request_id"] == made
    assert "listener" not in second
    text = json.dumps(first)
    assert listener.access_token not in text
    assert listener.email not in text
