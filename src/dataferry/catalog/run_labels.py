"""The words a runs search matches besides a run's id and experiment: each run's
description and tags, read for many runs in one query."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dataferry.catalog.schema import runs

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from dataferry.catalog.sql_catalog import SqlCatalog

_CHUNK = 500  # ids per IN (...): far below SQLite's bound-parameter limit


def descriptions_and_tags(
    catalog: SqlCatalog, run_ids: Collection[str]
) -> dict[str, tuple[str | None, Mapping[str, Any]]]:
    """Run id -> (description, tags) for each of ``run_ids`` that exists.

    Raises:
        CatalogError: the database failed the read.
    """
    ids = list(run_ids)
    found: dict[str, tuple[str | None, Mapping[str, Any]]] = {}
    with catalog.read() as conn:
        for start in range(0, len(ids), _CHUNK):
            query = select(runs.c.id, runs.c.description, runs.c.tags).where(
                runs.c.id.in_(ids[start : start + _CHUNK])
            )
            found.update({i: (d, t or {}) for i, d, t in conn.execute(query)})
    return found
