"""A live status table of a run (rich), for the terminal."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dataferry.catalog import now
from dataferry.catalog.run_store import TERMINAL, RunStore

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Console
    from rich.table import Table

    from dataferry.data.workspace import Workspace

_STYLE = {
    "Finished": "green",
    "Failed": "red",
    "Canceled": "yellow",
    "Running": "cyan",
    "CancelRequested": "yellow",
}


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return ""
    seconds = ((end or now()) - start).total_seconds()
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def status_table(workspace: Workspace, run_id: str) -> Table:
    """One table: the run's status, then a row per step (status, time, reuse, error).

    Step names and errors are shown as plain text, never parsed as rich markup, so an
    error quoting ``[/x]`` neither breaks the table nor loses its brackets.
    """
    from rich.table import Table
    from rich.text import Text

    store = RunStore(workspace.catalog)
    run = store.get_run(run_id)
    title = Text(f"{run.experiment} / {run.id}: ")
    title.append(run.status, style=_STYLE.get(run.status, "white"))
    title.append(f" {_duration(run.started_at, run.ended_at)}")
    table = Table(title=title)
    for column in ("step", "status", "time", "step run", "note"):
        table.add_column(column)
    for rec in store.step_runs(run_id):
        has_note = rec.status != "Finished" or rec.explanation
        note = (rec.explanation or rec.details.get("error", "")) if has_note else ""
        note = note.splitlines()[0] if note else ""
        table.add_row(
            Text(rec.step_name),
            Text(rec.status, style=_STYLE.get(rec.status, "white")),
            _duration(rec.started_at, rec.ended_at),
            Text(rec.id),
            Text(note),
        )
    return table


def watch(
    workspace: Workspace,
    run_id: str,
    *,
    refresh_s: float = 0.25,
    console: Console | None = None,
) -> str:
    """Show the live table until the run ends; return its final status.

    ``console`` defaults to rich's global console; pass one to choose stream and width.
    """
    from rich.live import Live

    store = RunStore(workspace.catalog)
    first = status_table(workspace, run_id)
    with Live(first, console=console, refresh_per_second=4, transient=False) as live:
        while True:
            status = store.get_run(run_id).status
            live.update(status_table(workspace, run_id))
            if status in TERMINAL:
                break
            time.sleep(refresh_s)
    if not live.console.is_terminal:  # off a terminal, rich ends it without a newline
        live.console.line()
    return status
