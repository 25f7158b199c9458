"""A run's status table (rich), and watching a run until it ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.execution.run_display import RunDisplay
from dataferry.execution.views import (
    RunStatus,
    StepStatus,
    format_duration,
    run_detail,
    wait_until,
    watch_events,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from rich.console import Console
    from rich.table import Table

    from dataferry.data.workspace import Workspace
    from dataferry.execution.views import RunDetail

_STYLE: dict[str, str] = {
    StepStatus.FINISHED: "green",
    StepStatus.FAILED: "red",
    StepStatus.CANCELED: "yellow",
    StepStatus.RUNNING: "cyan",
    StepStatus.PREPARING: "cyan",
    RunStatus.CANCEL_REQUESTED: "yellow",
}


def status_table(workspace: Workspace, run_id: str) -> Table:
    """One table: the run's status, then a row per step (status, time, reuse, error).

    Raises:
        RunNotFoundError: no run has that id.
    """
    return detail_table(run_detail(workspace, run_id))


def detail_table(run: RunDetail) -> Table:
    """The table of a run already read.

    Step names and errors are shown as plain text, never parsed as rich markup, so an
    error quoting ``[/x]`` neither breaks the table nor loses its brackets.
    """
    from rich.table import Table
    from rich.text import Text

    title = Text(f"{run.experiment} / {run.id}: ")
    title.append(run.status, style=_STYLE.get(run.status, "white"))
    title.append(f" {format_duration(run.duration_s)}")
    table = Table(title=title)
    for column in ("step", "status", "time", "step run", "note"):
        table.add_column(column)
    for step in run.steps:
        has_note = step.status != StepStatus.FINISHED or step.explanation
        note = (step.stage or step.explanation or step.error or "") if has_note else ""
        note = note.splitlines()[0] if note else ""
        table.add_row(
            Text(step.name),
            Text(step.status, style=_STYLE.get(step.status, "white")),
            format_duration(step.duration_s),
            Text(step.id),
            Text(note),
        )
    return table


def watch(
    workspace: Workspace,
    run_id: str,
    *,
    only: str | Collection[str] | None = None,
    refresh_s: float = 0.25,
    console: Console | None = None,
    give_up: Callable[[], bool] | None = None,
) -> str:
    """Show the run as it goes until it ends (``run_display``); return its last status.

    The one way a run is watched: ``dataferry run``, ``dataferry runs logs --follow``
    and ``RunDetails(run).show()``. ``only`` follows those step runs of it, to their
    end. ``console`` defaults to rich's global console; pass one to choose stream and
    width. On a terminal the steps' lines scroll above a live summary and table; off a
    terminal (a pipe, a notebook) they are plain timestamped lines. ``give_up``, asked
    after each look, stops the watch early when it returns True (it says why).

    Raises:
        RunNotFoundError: no run has that id.
    """
    from rich import get_console

    display = RunDisplay(workspace, run_id, only=only, console=console or get_console())

    def done(_: RunDetail) -> bool:
        return display.feed.ended() or (give_up is not None and give_up())

    try:
        # events are pushed on PostgreSQL and shown at once; the logs and the clock
        # still refresh every ``refresh_s``
        with watch_events(workspace, [run_id]) as news:
            last = wait_until(
                display.look, done, poll_s=refresh_s, news=news, refresh_s=refresh_s
            )
    except BaseException:  # Ctrl-C: leave the terminal as it was, the run goes on
        display.stop()
        raise
    display.close()
    return last.status
