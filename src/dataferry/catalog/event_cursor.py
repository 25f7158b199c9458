"""Where the events table ends: the id a live reader starts following from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

from dataferry.catalog.schema import events

if TYPE_CHECKING:
    from dataferry.catalog.sql_catalog import SqlCatalog


def newest_event_id(catalog: SqlCatalog) -> int:
    """The id of the newest event of any run (0 while there is none).

    Raises:
        CatalogError: the database failed the read.
    """
    with catalog.read() as conn:
        return int(conn.execute(select(func.max(events.c.id))).scalar() or 0)
