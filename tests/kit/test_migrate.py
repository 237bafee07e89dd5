"""The cheap start-up schema check agrees with Alembic."""

from __future__ import annotations

from pathlib import Path

from newstalk.config import to_sync_url
from newstalk.kit import migrate


def test_head_read_from_the_files_is_alembics_head() -> None:
    assert migrate.text_head_revision() is not None
    assert migrate.text_head_revision() == migrate.head_revision()


def test_schema_revisions_of_a_migrated_database(database_url: str) -> None:
    url = to_sync_url(database_url)
    assert migrate.schema_revisions(url) == (migrate.current_revision(url), migrate.head_revision())
    assert migrate.schema_revisions(url)[0] == migrate.head_revision()


def test_schema_revisions_of_an_empty_and_an_old_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert migrate.schema_revisions(url) == (None, migrate.head_revision())
    migrate.upgrade(url, "0001")
    assert migrate.schema_revisions(url) == ("0001", migrate.head_revision())
