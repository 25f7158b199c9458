"""Bring a catalog database to the schema this dataferry expects, on open."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from dataferry.errors import CatalogVersionError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# the newest revision in migrations/versions; a test keeps the two in step
HEAD_REVISION = "0033"
_KNOWN = {
    "0001",
    "0002",
    "0003",
    "0004",
    "0005",
    "0006",
    "0007",
    "0008",
    "0012",
    "0013",
    "0014",
    "0020",
    "0022",
    "0023",
    "0032",
    "0033",
}
_SQLITE_FILE = (
    "sqlite:///"  # the URL of a SQLite file, as Workspace.catalog_url makes it
)


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at, or None for an empty database."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return row[0] if row else None


def is_current_sqlite(url: str) -> bool:
    """Whether ``url`` names an existing SQLite file already at ``HEAD_REVISION``.

    Read with the standard library's ``sqlite3`` and no write lock: opening a current
    catalog (what every submit, driver and waiter does) then neither waits for nor
    blocks a writer. Anything else (another database, a missing or older file, one
    that cannot be read) answers False, and ``upgrade`` decides under the write lock.
    """
    if not url.startswith(_SQLITE_FILE):
        return False
    path = Path(url.removeprefix(_SQLITE_FILE))
    if not path.is_file():
        return False
    try:
        # read-only: its close never checkpoints the log (a write, and an fsync) when
        # it is the last connection to the file
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:  # no such table yet, not a database...: upgrade says what
        return False
    return row is not None and row[0] == HEAD_REVISION


def refuse_unknown(revision: str | None) -> None:
    """Accept a revision this dataferry knows (or None: an empty database).

    Raises:
        CatalogVersionError: ``revision`` was written by a newer dataferry.
    """
    if revision is not None and revision not in _KNOWN:
        raise CatalogVersionError(
            f"the catalog is at schema revision {revision!r}, newer than this dataferry "
            f"knows ({HEAD_REVISION!r}); upgrade dataferry to open it."
        )


def upgrade(conn: Connection) -> None:
    """Apply the migrations the database lacks; cheap when it is already at head.

    Raises:
        CatalogVersionError: the database was written by a newer dataferry.
    """
    revision = current_revision(conn)
    if revision == HEAD_REVISION:
        return
    refuse_unknown(revision)
    from alembic import command
    from alembic.config import Config

    log.info("migrating catalog from %s to %s", revision, HEAD_REVISION)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
