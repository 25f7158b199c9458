"""Queries shared by the catalog's versioned registries (datasets, environments):
rows keyed by ``(name, version)``, versions counting from 1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select

if TYPE_CHECKING:
    from sqlalchemy import Select, Table


def newest_versions(table: Table) -> Select[tuple[object, ...]]:
    """The row of the highest ``version`` of every ``name`` of ``table``, by name."""
    newest = (
        select(table.c.name, func.max(table.c.version).label("top"))
        .group_by(table.c.name)
        .subquery()
    )
    return (
        select(table)
        .join(
            newest,
            (table.c.name == newest.c.name) & (table.c.version == newest.c.top),
        )
        .order_by(table.c.name)
    )
