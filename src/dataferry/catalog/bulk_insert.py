"""Inserting many rows that differ in a few columns, at the database driver's speed.

``conn.execute(table.insert(), rows)`` converts every value of every row through its
column type in Python (a JSON dump, a datetime format, a parameter dict per row): for
the 10,000 step runs of a big pipeline that was most of the time ``submit`` spent in
the catalog. Here the values shared by every row are converted once, the statement is
compiled once for the connection's dialect, and the rows go to the driver's
``executemany`` as they are.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from sqlalchemy import Connection, Table


def insert_many(
    conn: Connection,
    table: Table,
    varying: Sequence[str],
    rows: Iterable[Sequence[Any]],
    shared: Mapping[str, Any],
) -> None:
    """Insert one row per item of ``rows``, in the current transaction.

    Args:
        conn: a connection in a write transaction.
        table: the table the rows go to.
        varying: the columns each item of ``rows`` gives values for, in order; their
            types must need no conversion (strings, ints).
        rows: one sequence of values per row.
        shared: the other columns' values, the same for every row (converted once,
            through the column's type).

    Raises:
        sqlalchemy.exc.IntegrityError: a row breaks a constraint (nothing is inserted
            when the caller's transaction rolls back).
    """
    dialect = conn.dialect
    names = [*varying, *shared]
    statement = table.insert().values({name: bindparam(name) for name in names})
    compiled = statement.compile(dialect=dialect)
    fixed = {
        # dialect_impl: the conversion the dialect applies (SQLite's datetime format)
        name: _converted(
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect), value
        )
        for name, value in shared.items()
    }
    params: list[Any]
    if dialect.positional:
        # the compiled statement orders its placeholders by the table's columns
        position = {name: i for i, name in enumerate(names)}
        pick = itemgetter(*(position[key] for key in compiled.positiontup or ()))
        tail = tuple(fixed.values())
        params = [pick((*row, *tail)) for row in rows]
    else:
        params = [{**dict(zip(varying, row, strict=True)), **fixed} for row in rows]
    if params:
        conn.exec_driver_sql(compiled.string, params)


def _converted(processor: Any, value: Any) -> Any:
    return processor(value) if processor is not None else value
