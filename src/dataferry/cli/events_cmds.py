"""``dataferry runs events``: a run's history, one event a line, read through the read
model's ``events_since``. ``cli.main`` adds it to the ``runs`` group."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from dataferry.cli.context import current_workspace
from dataferry.cli.run_refs import resolve, run_argument, run_experiment_option
from dataferry.cli.run_views import format_utc

if TYPE_CHECKING:
    from dataferry.execution.views import EventView

_POLL_S = 0.2


@click.command("events")
@run_argument
@run_experiment_option
@click.option(
    "--after",
    "after_id",
    default=0,
    type=click.IntRange(min=0),
    help="Only events with an id above this one.",
)
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing new events until the run ends."
)
def events(run_id: str, experiment: str | None, after_id: int, follow: bool) -> None:
    """Print a run's events: status changes of the run and its steps, reuse decisions,
    preparation stages, committed outputs and registered datasets.

    Each line is ``ID TIME STEP KIND DETAILS``; ``--after ID`` reads on from a line.
    """
    from contextlib import nullcontext

    from dataferry.execution.views import (
        events_since,
        run_status,
        wait_until,
        watch_events,
    )

    ws = current_workspace()
    run_id = resolve(run_id, experiment)
    cursor = after_id

    def show(_status: str) -> None:
        nonlocal cursor
        while batch := events_since(ws, run_id, cursor):
            for event in batch:
                click.echo(format_event(event))
            cursor = batch[-1].id

    # the events are read after each status, so the last read sees the final ones;
    # following, PostgreSQL's pushed events wake the loop (SQLite: it polls)
    with watch_events(ws, [run_id]) if follow else nullcontext() as news:
        wait_until(
            lambda: run_status(ws, run_id),
            lambda status: not follow or status in _ended(),
            poll_s=_POLL_S,
            on_poll=show,
            news=news,
        )


def _ended() -> frozenset[str]:
    from dataferry.execution.views import TERMINAL

    return TERMINAL


def format_event(event: EventView) -> str:
    """``'12 2026-12-09 10:00:01 prep step_status NotStarted -> Running'``."""
    payload = dict(event.payload)
    if "to" in payload:
        frm = payload.pop("from")
        details = f"{frm or '(created)'} -> {payload.pop('to')}"
        if payload:
            details += " " + json.dumps(payload, sort_keys=True, default=str)
    else:
        details = json.dumps(payload, sort_keys=True, default=str)
    step = event.step_name or "-"
    return f"{event.id} {format_utc(event.time)} {step} {event.kind} {details}"
