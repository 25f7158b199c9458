"""A live status table of a run (rich), for the terminal."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from dataferry.catalog import now
from dataferry.catalog.run_store import TERMINAL, RunStore

if TYPE_CHECKING:
    from rich.table import Table

    from dataferry.data.workspace import Workspace

_STYLE = {"Finished": "green", "Failed": "red", "Canceled": "yellow", "Running": "cyan", "CancelRequested": "yellow"}


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return ""
    seconds = ((end or now()) - start).total_seconds()
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def status_table(workspace: Workspace, run_id: str) -> Table:
    """One table: the run's status, then a row per step (status, time, reuse, error)."""
    from rich.table import Table

    store = RunStore(workspace.catalog)
    run = store.get_run(run_id)
    table = Table(title=f"{run.experiment} / {run.id}: [{_STYLE.get(run.status, 'white')}]{run.status}[/] {_duration(run.started_at, run.ended_at)}")
    for column in ("step", "status", "time", "step run", "note"):
        table.add_column(column)
    for rec in store.step_runs(run_id):
        note = rec.explanation or rec.details.get("error", "") if rec.status != "Finished" or rec.explanation else ""
        note = (note or "").splitlines()[0] if note else ""
        table.add_row(rec.step_name, f"[{_STYLE.get(rec.status, 'white')}]{rec.status}[/]", _duration(rec.started_at, rec.ended_at), rec.id, note)
    return table


def watch(workspace: Workspace, run_id: str, *, refresh_s: float = 0.25) -> str:
    """Show the live table until the run ends; return its final status."""
    from rich.live import Live

    store = RunStore(workspace.catalog)
    with Live(status_table(workspace, run_id), refresh_per_second=4, transient=False) as live:
        while True:
            status = store.get_run(run_id).status
            live.update(status_table(workspace, run_id))
            if status in TERMINAL:
                return status
            time.sleep(refresh_s)
