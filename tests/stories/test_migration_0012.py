"""0012 (article_embeddings, stage_leases) upgrades and downgrades cleanly on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command

from newstalk.kit import migrate
from tests.search.test_migration import _tables
from tests.search.test_migration import fresh_url as fresh_url  # the fixture: a database of its own

NEW = {"article_embeddings", "stage_leases"}


def test_upgrade_downgrade_upgrade(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "0011")
    assert not NEW & _tables(fresh_url)
    migrate.upgrade(fresh_url, "0012")
    assert _tables(fresh_url) >= NEW
    command.downgrade(migrate.alembic_config(fresh_url), "0011")
    assert not NEW & _tables(fresh_url)
    assert "article_features" in _tables(fresh_url)
    migrate.upgrade(fresh_url, "head")
    assert _tables(fresh_url) >= NEW
