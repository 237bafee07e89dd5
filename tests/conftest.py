"""Shared fixtures: a freshly migrated database per test, on SQLite or PostgreSQL.

NEWSTALK_TEST_DATABASE_URL picks PostgreSQL (a database the test run owns; it is
migrated once and truncated after each test). Without it each test gets its own
SQLite file copied from one migrated template.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from newstalk.config import Settings, to_sync_url
from newstalk.kit import migrate
from newstalk.kit.db import Base
from newstalk.models import import_all_models
from newstalk.runtime import Services

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
PG_URL = os.environ.get("NEWSTALK_TEST_DATABASE_URL", "")
DB_FIXTURES = {"database_url", "settings", "services", "client"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``buses`` run once on the queue table and once on Kafka (a real Tansu broker)."""
    if metafunc.definition.get_closest_marker("buses") and "settings" in metafunc.fixturenames:
        metafunc.parametrize("bus", ["queue", "kafka"], indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_migrated() -> str:
    migrate.upgrade(to_sync_url(PG_URL))
    return PG_URL


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database for this test only."""
    if PG_URL:
        url = request.getfixturevalue("_postgres_migrated")
        yield url
        _truncate_all(url)
        return
    template = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "newstalk.db"
    shutil.copyfile(template, path)
    yield f"sqlite:///{path}"


def _truncate_all(url: str) -> None:
    import_all_models()
    engine = create_engine(to_sync_url(url))
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests: private networks allowed (servers run on 127.0.0.1), fast queue."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "allow_private_networks": True,
        "admin_token": ADMIN_TOKEN,
        "queue_poll_idle_s": 0.05,
        "queue_retry_base_s": 0.05,
        "scheduler_tick_s": 0.2,
        "fetch_timeout_s": 10,
        "parse_processes": 0,  # in-thread; the process pool is exercised by the worker process tests
        # Tests poll the API from one address; tests/accounts/test_ratelimit.py sets real limits.
        "rate_limit_per_minute": 100_000,
        "rate_limit_routes": {f"POST /api/v1/auth/{name}": 0 for name in ("register", "login", "refresh")},
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Tansu broker for the session; each test has its own topic prefix."""
    from tests.support.kafka import Broker

    broker = Broker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def bus(request: pytest.FixtureRequest) -> str:
    """The pipeline transport of this test: "queue" unless the test is marked ``buses``."""
    return str(getattr(request, "param", "queue"))


@pytest.fixture
def settings(database_url: str, bus: str, request: pytest.FixtureRequest) -> Settings:
    if bus == "kafka":
        return make_settings(database_url, **request.getfixturevalue("kafka_broker").settings())
    return make_settings(database_url)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    svc = Services.build(settings)
    try:
        yield svc
    finally:
        await svc.aclose()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in process, lifespan included."""
    from newstalk.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


@pytest.fixture
async def admin(settings: Settings) -> dict[str, str]:
    """Headers of a real admin account's access token."""
    from newstalk.accounts.models import Role
    from tests.support.accounts import make_account

    return (await make_account(settings, Role.admin, "admin@example.org")).headers


@pytest.fixture
def feed_server() -> Iterator[Any]:
    """A real HTTP server on 127.0.0.1 serving feeds the test builds."""
    from tests.support.feedserver import serve

    yield from serve()
