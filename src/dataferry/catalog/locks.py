"""Atomic upserts and transaction-scoped locks that mean the same on both databases.

A read-then-write in the catalog is either one ``INSERT ... ON CONFLICT`` (the
dialect's own insert: SQLite and PostgreSQL both have it), or runs after ``lock`` in
its write transaction. PostgreSQL then holds an advisory lock keyed by what the
transaction protects (leases of one datastore, versions of one dataset name...), so
writers of different keys do not wait for each other; SQLite's write transaction
(``BEGIN IMMEDIATE``) already holds the one database-wide write lock, which covers
every key.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite

from dataferry.errors import CatalogError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy import Connection, Table

_ADVISORY = text("SELECT pg_advisory_xact_lock(:key)")


def lock(conn: Connection, scope: str, key: str) -> None:
    """Hold, until ``conn``'s transaction ends, the lock of ``(scope, key)``.

    Raises:
        CatalogError: ``conn`` is not in a write transaction (SQLite), or the
            database is neither SQLite nor PostgreSQL.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(_ADVISORY, {"key": lock_key(scope, key)})
    elif dialect == "sqlite":
        if conn.get_execution_options().get("sqlite_begin") != "IMMEDIATE":
            raise CatalogError(
                f"the {scope} lock of '{key}' was asked for outside a write "
                "transaction; take it inside catalog.write()."
            )
    else:
        raise CatalogError(
            f"the catalog supports SQLite and PostgreSQL, not {dialect}; set "
            "catalog_url to a sqlite:/// or postgresql+psycopg:// URL."
        )


def lock_key(scope: str, key: str) -> int:
    """The signed 64-bit advisory lock key of ``(scope, key)`` (stable everywhere)."""
    digest = hashlib.blake2b(f"{scope}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def insert_new(
    conn: Connection, table: Table, row: Mapping[str, Any], keys: Sequence[str]
) -> bool:
    """Insert ``row`` unless a row with the same ``keys`` exists; True if inserted."""
    stmt = (
        _insert(conn, table).values(**row).on_conflict_do_nothing(index_elements=keys)
    )
    return bool(conn.execute(stmt).rowcount)


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
) -> None:
    """Insert ``rows``, replacing the other columns of any row with the same ``keys``.

    Rows repeating a key are folded first (the last wins): one statement may not
    change a row twice on PostgreSQL.
    """
    folded = list({tuple(r[k] for k in keys): r for r in rows}.values())
    if not folded:
        return
    stmt = _insert(conn, table)
    changed = {c: stmt.excluded[c] for c in folded[0] if c not in keys}
    if changed:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=changed)
    else:  # every column is a key: a row that exists is already the same
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    conn.execute(stmt, folded)


def _insert(conn: Connection, table: Table) -> Any:
    # both dialect inserts have the same on_conflict_* methods
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
