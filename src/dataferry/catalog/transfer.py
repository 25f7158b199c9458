"""``dataferry catalog export`` and ``import``: move a catalog between databases.

An export writes every table to one portable file (``export_format``) from one
consistent snapshot; an import loads such a file into an empty catalog of any supported
database at the same schema revision, in one transaction, and checks every table's
count before committing. Together they move a workspace's catalog from SQLite to
PostgreSQL and back.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, func, select
from sqlalchemy.exc import DBAPIError

from dataferry.catalog import migrate
from dataferry.catalog.db_guard import translate
from dataferry.catalog.export_format import (
    TABLES,
    ExportHeader,
    read_header,
    read_rows,
    row_line,
)
from dataferry.catalog.locks import lock
from dataferry.catalog.revision_check import check_catalog, shown
from dataferry.catalog.sql_catalog import SqlCatalog
from dataferry.errors import CatalogTargetExistsError, CatalogTransferError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy import Column, Connection, Table

_BATCH = 500  # rows a statement inserts


def export_catalog(url: str, file: Path) -> dict[str, int]:
    """Write every table of the catalog at ``url`` to ``file`` (a new file).

    Returns:
        Each table's row count, as the file's header says.

    Raises:
        CatalogTargetExistsError: ``file`` exists (nothing is overwritten).
        CatalogOutdatedError, CatalogVersionError: the catalog is not at this
            dataferry's revision (``dataferry catalog migrate`` first, or upgrade).
        CatalogUnavailableError, CatalogError: the database failed.
    """
    if file.exists():
        raise CatalogTargetExistsError(
            f"cannot export the catalog to {file}: the file exists; name a new file "
            "or remove it first."
        )
    revision = check_catalog(url).revision or migrate.HEAD_REVISION
    partial = file.with_name(f".{file.name}.partial")  # renamed once whole
    catalog = SqlCatalog(url)
    try:
        with _snapshot(catalog) as conn, partial.open("w", encoding="utf-8") as out:
            counts = _counts(conn)
            out.write(ExportHeader(revision, counts).line())
            for table in TABLES:
                query = select(table).order_by(*table.primary_key.columns)
                for row in conn.execute(query).mappings():
                    out.write(row_line(table, row))
        os.replace(partial, file)
    except DBAPIError as exc:
        raise translate(exc, "export the catalog", url) from exc
    finally:
        partial.unlink(missing_ok=True)
        catalog.close()
    return counts


def import_catalog(url: str, file: Path) -> dict[str, int]:
    """Load the export ``file`` into the empty catalog at ``url`` (created, and
    migrated to this dataferry's revision, if it has no tables yet).

    The whole file is checked before the database is touched; the rows go in in one
    transaction, which commits only when every table holds the header's count.

    Returns:
        Each table's row count.

    Raises:
        CatalogTransferError: the file is not a whole catalog export at this
            dataferry's schema revision.
        CatalogTargetExistsError: the catalog already holds rows.
        CatalogVersionError: the catalog was written by a newer dataferry.
        CatalogUnavailableError, CatalogError: the database failed.
    """
    header = _checked(file)
    catalog = SqlCatalog(url)
    try:
        with catalog.write() as conn:
            lock(conn, "catalog", "import")  # two imports at once: one is refused
            _refuse_rows(conn, url)
            _insert_all(conn, file)
            if conn.dialect.name == "postgresql":
                _restart_sequences(conn)
            _verify(conn, header, file)
    except DBAPIError as exc:
        raise translate(exc, f"import {file} into the catalog", url) from exc
    finally:
        catalog.close()
    return header.counts


@contextmanager
def _snapshot(catalog: SqlCatalog) -> Iterator[Connection]:
    """A read transaction that sees one state of every table: PostgreSQL's default
    isolation would let rows committed between two tables' reads in."""
    with catalog.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():  # SQLite (WAL): a read transaction is a snapshot
            yield conn


def _counts(conn: Connection) -> dict[str, int]:
    return {
        t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
        for t in TABLES
    }


def _checked(file: Path) -> ExportHeader:
    """The header of ``file``, once every row was read and counted against it."""
    header = read_header(file)
    if header.revision != migrate.HEAD_REVISION:
        raise CatalogTransferError(
            f"cannot import {file}: it was exported at schema revision "
            f"{header.revision!r}, and this dataferry's catalog is at "
            f"{migrate.HEAD_REVISION!r}; import it with the dataferry that exported it, "
            "or migrate the source and export it again."
        )
    found = dict.fromkeys(header.counts, 0)
    for table, _row in read_rows(file):
        found[table.name] += 1
    _compare(header, found, "it holds", file)
    return header


def _refuse_rows(conn: Connection, url: str) -> None:
    held = {name: n for name, n in _counts(conn).items() if n}
    if held:
        listed = ", ".join(f"{name}: {n}" for name, n in held.items())
        raise CatalogTargetExistsError(
            f"cannot import into the catalog {shown(url)}: it already holds rows "
            f"({listed}); import only into an empty catalog (a new database or a new "
            "SQLite file)."
        )


def _insert_all(conn: Connection, file: Path) -> None:
    batch: list[dict[str, Any]] = []
    current: Table | None = None
    for table, row in read_rows(file):
        if table is not current or len(batch) >= _BATCH:
            _flush(conn, current, batch)
            current, batch = table, []
        batch.append(row)
    _flush(conn, current, batch)


def _flush(conn: Connection, table: Table | None, rows: list[dict[str, Any]]) -> None:
    if table is not None and rows:
        conn.execute(table.insert(), rows)


def _restart_sequences(conn: Connection) -> None:
    """Move each PostgreSQL id sequence past the imported ids: rows inserted with
    their ids left the sequences at 1, and the next insert would collide."""
    for table in TABLES:
        for column in table.primary_key.columns:
            if not _serial(table, column):
                continue
            sequence = func.pg_get_serial_sequence(table.name, column.name)
            highest = select(func.max(column)).scalar_subquery()
            conn.execute(
                select(func.setval(sequence, func.coalesce(highest, 0) + 1, False))
            )


def _serial(table: Table, column: Column[Any]) -> bool:
    """Whether ``column`` takes its values from a sequence (an integer id)."""
    only = len(table.primary_key.columns) == 1
    return isinstance(column.type, Integer) and (
        column.autoincrement is True or (column.autoincrement == "auto" and only)
    )


def _verify(conn: Connection, header: ExportHeader, file: Path) -> None:
    _compare(header, _counts(conn), "the catalog received", file)


def _compare(
    header: ExportHeader, found: dict[str, int], what: str, file: Path
) -> None:
    wrong = {n: c for n, c in found.items() if c != header.counts.get(n, 0)}
    if wrong:
        listed = ", ".join(
            f"{name}: {n} of {header.counts.get(name, 0)}" for name, n in wrong.items()
        )
        raise CatalogTransferError(
            f"cannot import {file}: {what} other row counts than its header says "
            f"({listed}); the file was cut short or edited. Export the catalog again."
        )
