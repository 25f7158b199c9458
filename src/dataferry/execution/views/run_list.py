"""The run listing of the read model (``dataferry runs list``) and the experiment
names it is checked against.

Both read a SQLite catalog at head without opening the workspace's ``SqlCatalog``
(see ``catalog.run_summaries``): the listing is a whole process, and SQLAlchemy's
import alone was over its time budget. Any other catalog is opened as usual.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from dataferry.catalog import run_summaries
from dataferry.execution.views.model import RunSummary

if TYPE_CHECKING:
    from dataferry.catalog.run_summaries import RunSummaryRow
    from dataferry.data.workspace import Workspace


def list_runs(
    workspace: Workspace, *, experiment: str | None = None, limit: int = 50
) -> list[RunSummary]:
    """The newest ``limit`` runs first (of one experiment, if named), each with its
    steps' statuses in creation order; durations of runs still going count to now.

    Raises:
        CatalogError: the catalog database failed the read.
    """
    path = run_summaries.current_sqlite_file(workspace.catalog_url)
    rows = (
        None
        if path is None
        else run_summaries.newest_runs_in_file(path, experiment=experiment, limit=limit)
    )
    if rows is None:
        rows = run_summaries.newest_runs(
            workspace.catalog, experiment=experiment, limit=limit
        )
    at = datetime.now(UTC)
    return [_summary(r, at) for r in rows]


def experiment_names(workspace: Workspace) -> list[str]:
    """The name of every experiment that has had a run, sorted.

    Raises:
        CatalogError: the catalog database failed the read.
    """
    path = run_summaries.current_sqlite_file(workspace.catalog_url)
    names = None if path is None else run_summaries.experiment_names_in_file(path)
    return workspace.catalog.experiment_names() if names is None else names


def _summary(r: RunSummaryRow, at: datetime) -> RunSummary:
    duration = None
    if r.started_at is not None:
        duration = max(((r.ended_at or at) - r.started_at).total_seconds(), 0.0)
    return RunSummary(
        id=r.id,
        experiment=r.experiment,
        status=r.status,
        created_at=r.created_at,
        started_at=r.started_at,
        ended_at=r.ended_at,
        duration_s=duration,
        error=r.error,
        step_statuses=r.step_statuses,
        run_type=r.run_type,
    )
