"""Helpers for statements built once and run with parameters.

Building a SQLAlchemy Core statement, and the cache key it is looked up by, costs more
than running it on SQLite; the driver runs a few dozen per step. So the statements of
the hot path are module constants (``bindparam`` for what varies), and an INSERT or
UPDATE takes its columns from the parameters' keys. There ``.values(**row)`` refused
a key that is no column; a constant statement would drop it without a word, so
``checked`` refuses it first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import CompileError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy import Table


def checked(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as a parameter dict for a prebuilt INSERT or UPDATE of ``table``.

    Raises:
        CompileError: a key is no column of ``table``, worded as ``.values()`` words
            it (a fault of the calling code, not of the data).
    """
    unknown = set(values).difference(table.c.keys())
    if unknown:
        raise CompileError(f"Unconsumed column names: {', '.join(sorted(unknown))}")
    return dict(values)
