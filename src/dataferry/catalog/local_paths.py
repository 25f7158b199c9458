"""The absolute paths a catalog keeps: each names a place on one machine, which the
other machines sharing the catalog may not have (``dataferry catalog check`` lists
them for a shared workspace). Paths inside the workspace are kept relative and are not
listed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dataferry.catalog.schema import datasets, datastores, runs, step_runs

if TYPE_CHECKING:
    from dataferry.catalog.sql_catalog import SqlCatalog


def absolute_paths(catalog: SqlCatalog) -> list[str]:
    """Where the catalog keeps an absolute local path, one line each, sorted:
    ``datastore NAME: PATH``, ``dataset ID: PATH``, ``run ID snapshot: PATH``,
    ``step run ID log folder: PATH``."""
    found: list[str] = []
    with catalog.read() as conn:
        for name, kind, options in conn.execute(
            select(datastores.c.name, datastores.c.kind, datastores.c.options)
        ):
            path = str(options.get("path", ""))
            if kind == "local" and path.startswith("/"):
                found.append(f"datastore {name}: {path}")
        for ds_id, definition in conn.execute(
            select(datasets.c.id, datasets.c.definition)
        ):
            found += [f"dataset {ds_id}: {p}" for p in _walk(definition, "local")]
        for run_id, definition in conn.execute(select(runs.c.id, runs.c.definition)):
            found += [
                f"run {run_id} snapshot: {p}" for p in _walk(definition, "snapshot")
            ]
            found += [f"run {run_id} dataset: {p}" for p in _walk(definition, "local")]
        for sr_id, log_dir in conn.execute(select(step_runs.c.id, step_runs.c.log_dir)):
            if log_dir and log_dir.startswith("/"):
                found.append(f"step run {sr_id} log folder: {log_dir}")
    return sorted(set(found))


def _walk(value: Any, key: str) -> list[str]:
    """Every absolute string under ``key`` anywhere in the JSON ``value``."""
    if isinstance(value, list):
        return [p for v in value for p in _walk(v, key)]
    if not isinstance(value, dict):
        return []
    out = []
    for k, v in value.items():
        if k == key and isinstance(v, str) and v.startswith("/"):
            out.append(v)
        else:
            out += _walk(v, key)
    return out
