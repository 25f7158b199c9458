"""``dataferry catalog check`` and ``migrate``: a catalog's schema revision, read
without writing anything, and its upgrade to the revision this dataferry expects."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from dataferry.catalog import migrate
from dataferry.catalog.db_guard import translate
from dataferry.catalog.sql_catalog import SqlCatalog, server_connect_args
from dataferry.errors import CatalogOutdatedError

_SQLITE_FILE = "sqlite:///"


@dataclass(frozen=True)
class CatalogRevision:
    """Where a catalog's schema stands: ``revision`` (None: no catalog tables yet)
    against ``head``, the revision this dataferry expects."""

    url: str  # with any password hidden
    revision: str | None
    head: str = migrate.HEAD_REVISION

    @property
    def current(self) -> bool:
        """Whether this dataferry can use the catalog without migrating it."""
        return self.revision == self.head


def shown(url: str) -> str:
    """``url`` with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def read_revision(url: str) -> CatalogRevision:
    """The schema revision of the catalog at ``url``; nothing is written (a missing
    SQLite file is not created).

    Raises:
        CatalogUnavailableError: the database server cannot be reached (within the
            bounded connect timeout).
        CatalogError: the database refused the query (the URL names no catalog...).
    """
    if url.startswith(_SQLITE_FILE) and not Path(url[len(_SQLITE_FILE) :]).exists():
        return CatalogRevision(shown(url), None)
    engine = _read_only_engine(url)
    try:
        with engine.connect() as conn:
            return CatalogRevision(shown(url), migrate.current_revision(conn))
    except DBAPIError as exc:
        raise translate(exc, "read the catalog's schema revision", url) from exc
    finally:
        engine.dispose()


def check_catalog(url: str) -> CatalogRevision:
    """The catalog's revision, if it is the one this dataferry expects.

    Raises:
        CatalogOutdatedError: the catalog is older (or has no tables yet).
        CatalogVersionError: the catalog was written by a newer dataferry.
        CatalogUnavailableError, CatalogError: as ``read_revision``.
    """
    found = read_revision(url)
    migrate.refuse_unknown(found.revision)
    if not found.current:
        at = f"at schema revision {found.revision!r}" if found.revision else "empty"
        raise CatalogOutdatedError(
            f"the catalog {found.url} is {at}; this dataferry expects {found.head!r}. "
            "Run `dataferry catalog migrate` to upgrade it."
        )
    return found


def migrate_catalog(url: str) -> tuple[CatalogRevision, CatalogRevision]:
    """Upgrade the catalog at ``url`` to this dataferry's revision, under the
    migrations lock (a second process migrating at once waits, then finds it done).

    Returns:
        The revision before and after.

    Raises:
        CatalogVersionError: the catalog was written by a newer dataferry (checked
            before anything is written).
        CatalogUnavailableError, CatalogError: as ``read_revision``.
    """
    before = read_revision(url)
    migrate.refuse_unknown(before.revision)
    SqlCatalog(url).close()
    return before, read_revision(url)


def _read_only_engine(url: str) -> Engine:
    if url.startswith(_SQLITE_FILE):
        path = Path(url[len(_SQLITE_FILE) :])
        return create_engine(
            "sqlite://",
            creator=lambda: sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True),
            poolclass=NullPool,
        )
    return create_engine(url, poolclass=NullPool, connect_args=server_connect_args(url))
