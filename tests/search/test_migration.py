"""0006_search upgrades and downgrades cleanly on SQLite and PostgreSQL (a database of its own)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from newstalk.config import to_sync_url
from newstalk.kit import migrate

PG_URL = os.environ.get("NEWSTALK_TEST_DATABASE_URL", "")


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    admin = create_engine(to_sync_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"nt_search_mig_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    base = to_sync_url(PG_URL).rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "0006")
    tables = _tables(fresh_url)
    assert "search_docs" in tables
    if fresh_url.startswith("sqlite"):
        assert "search_fts" in tables
    command.downgrade(migrate.alembic_config(fresh_url), "0005")
    tables = _tables(fresh_url)
    assert "search_docs" not in tables
    assert "search_fts" not in tables
    migrate.upgrade(fresh_url, "0006")
    assert "search_docs" in _tables(fresh_url)
