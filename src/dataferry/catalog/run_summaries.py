"""The newest runs with their steps' statuses, in two queries: what a listing shows.

``dataferry runs list`` is a whole process that reads twenty rows; importing
SQLAlchemy alone took longer than the 0.3 s the command may take. A SQLite catalog
file already at the head revision is therefore read here with the standard library's
``sqlite3``, read-only (no write lock, no migration, no checkpoint on close), the way
``migrate.is_current_sqlite`` checks the revision. Any other catalog (PostgreSQL, a
file that needs migrating, one ``sqlite3`` cannot read) is read through the
``SqlCatalog`` the caller opens, with the same two queries and the same rows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from dataferry.catalog.sql_catalog import SqlCatalog

    # (SQL with named parameters, their values) -> the rows
    _Query = Callable[[str, Mapping[str, Any]], list[tuple[Any, ...]]]

_SQLITE_FILE = (
    "sqlite:///"  # the URL of a SQLite file, as Workspace.catalog_url makes it
)
_VERSIONS = Path(__file__).parent / "migrations" / "versions"
# named parameters: both sqlite3 and SQLAlchemy's text() take them
_RUNS = (
    "SELECT id, experiment, status, created_at, started_at, ended_at, error, options"
    " FROM runs{where} ORDER BY created_at DESC, id DESC LIMIT :limit"
)
_STEPS = (
    "SELECT run_id, status FROM step_runs WHERE run_id IN ({ids})"
    " ORDER BY run_id, created_at, id"
)
_EXPERIMENTS = "SELECT name FROM experiments ORDER BY name"


@dataclass(frozen=True, slots=True)
class RunSummaryRow:
    """One run of a listing; times are UTC-aware, ``run_type`` the SDK's type name."""

    id: str
    experiment: str
    status: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None
    run_type: str
    step_statuses: tuple[str, ...]


def head_revision() -> str:
    """The newest migration's revision, from the file names in ``migrations/versions``
    (``migrate.HEAD_REVISION`` without importing SQLAlchemy; a test keeps them equal)."""
    return max(p.name[:4] for p in _VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))


def current_sqlite_file(url: str) -> Path | None:
    """The file of ``url`` if it is a SQLite catalog at the head revision, else None."""
    if not url.startswith(_SQLITE_FILE):
        return None
    path = Path(url.removeprefix(_SQLITE_FILE))
    if not path.is_file():
        return None
    try:
        found = _read(path)("SELECT version_num FROM alembic_version", {})
    except sqlite3.Error:  # not a catalog yet, or unreadable: the SqlCatalog says why
        return None
    return path if found == [(head_revision(),)] else None


def newest_runs_in_file(
    path: Path, *, experiment: str | None, limit: int
) -> list[RunSummaryRow] | None:
    """The newest ``limit`` runs (of ``experiment``) of the current SQLite catalog at
    ``path``, newest first; None if ``sqlite3`` fails (a lock held past the timeout, a
    damaged file): the caller reads through the ``SqlCatalog``, which says why."""
    try:
        return _summaries(_read(path), experiment, limit)
    except sqlite3.Error:
        return None


def newest_runs(
    catalog: SqlCatalog, *, experiment: str | None, limit: int
) -> list[RunSummaryRow]:
    """The same rows as ``newest_runs_in_file``, read through ``catalog``.

    Raises:
        CatalogError: the database failed the read (after retrying transient failures).
    """
    from sqlalchemy import text

    def query(sql: str, args: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        with catalog.read() as conn:
            return [tuple(r) for r in conn.execute(text(sql), dict(args))]

    return _summaries(query, experiment, limit)


def experiment_names_in_file(path: Path) -> list[str] | None:
    """The name of every experiment that has had a run, sorted; None if ``sqlite3``
    fails (the caller reads through the ``SqlCatalog``)."""
    try:
        return [str(name) for (name,) in _read(path)(_EXPERIMENTS, {})]
    except sqlite3.Error:
        return None


def _summaries(
    query: _Query, experiment: str | None, limit: int
) -> list[RunSummaryRow]:
    where = "" if experiment is None else " WHERE experiment = :experiment"
    args = {"limit": limit, "experiment": experiment}
    runs = query(_RUNS.format(where=where), args)
    statuses: dict[str, list[str]] = {str(r[0]): [] for r in runs}
    if runs:
        ids = {f"r{i}": run_id for i, run_id in enumerate(statuses)}
        marks = ", ".join(f":{name}" for name in ids)
        for run_id, status in query(_STEPS.format(ids=marks), ids):
            statuses[str(run_id)].append(str(status))
    return [_row(r, tuple(statuses[str(r[0])])) for r in runs]


def _row(r: tuple[Any, ...], steps: tuple[str, ...]) -> RunSummaryRow:
    options = json.loads(r[7]) if isinstance(r[7], str) else (r[7] or {})
    created = _utc(r[3])
    assert created is not None  # the column is NOT NULL
    return RunSummaryRow(
        id=str(r[0]),
        experiment=str(r[1]),
        status=str(r[2]),
        created_at=created,
        started_at=_utc(r[4]),
        ended_at=_utc(r[5]),
        error=r[6],
        run_type=str(options.get("run_type") or "azureml.PipelineRun"),
        step_statuses=steps,
    )


def _utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime (``sqlite3`` returns SQLAlchemy's text
    form, ``YYYY-MM-DD HH:MM:SS.ffffff``, without a zone)."""
    if value is None:
        return None
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _read(path: Path) -> _Query:
    """A query on ``path`` through a read-only connection of its own (its close never
    checkpoints the log: a write and an fsync)."""

    def query(sql: str, args: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            return [tuple(r) for r in conn.execute(sql, dict(args))]
        finally:
            conn.close()

    return query
