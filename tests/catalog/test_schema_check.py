"""Opening a catalog already at the newest schema takes no write lock (issue 8, item 6).

Every submit, driver and waiter opens the catalog; when nothing is to migrate, the
revision is read with plain ``sqlite3`` and a running writer is neither waited for nor
blocked. Anything that is not a current SQLite file goes the migrating way.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import TYPE_CHECKING

import pytest

from dataferry.catalog import SqlCatalog, migrate
from dataferry.errors import CatalogVersionError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@pytest.fixture
def current(tmp_path: Path, new_catalog: Callable[[Path], str]) -> Path:
    """A catalog file at the newest revision (a copy of the session's migrated one)."""
    path = tmp_path / "catalog.db"
    new_catalog(path)
    return path


def test_a_current_catalog_is_recognised(current: Path) -> None:
    assert migrate.is_current_sqlite(f"sqlite:///{current}") is True


@pytest.mark.parametrize(
    "url",
    ["postgresql://localhost/nowhere", "sqlite://", "sqlite+pysqlite:///x.db"],
)
def test_other_urls_are_left_to_the_migration(url: str) -> None:
    assert migrate.is_current_sqlite(url) is False


def test_a_missing_file_is_not_current_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"

    assert migrate.is_current_sqlite(f"sqlite:///{path}") is False
    assert not path.exists()


def test_a_file_that_is_not_a_database_is_not_current(tmp_path: Path) -> None:
    path = tmp_path / "text.db"
    path.write_text("not a database, " * 100)

    assert migrate.is_current_sqlite(f"sqlite:///{path}") is False


def test_an_older_or_newer_revision_is_not_current(current: Path) -> None:
    with sqlite3.connect(current) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    assert migrate.is_current_sqlite(f"sqlite:///{current}") is False

    with sqlite3.connect(current) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    assert migrate.is_current_sqlite(f"sqlite:///{current}") is False
    # and the migrating way still refuses the newer one, as before
    with pytest.raises(CatalogVersionError, match=r"revision '9999', newer than"):
        SqlCatalog(f"sqlite:///{current}")


def test_opening_a_current_catalog_does_not_wait_for_a_writer(current: Path) -> None:
    writer = sqlite3.connect(current, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock until the end
    opened: list[str] = []

    def open_it() -> None:
        catalog = SqlCatalog(f"sqlite:///{current}")
        opened.append(str(catalog.get_setting("absent", "read")))
        catalog.close()

    try:
        # before, opening took the write lock and so waited up to the 30 s busy timeout
        thread = threading.Thread(target=open_it, daemon=True)
        thread.start()
        thread.join(timeout=20)
        assert opened == ["read"]
    finally:
        writer.execute("ROLLBACK")
        writer.close()
