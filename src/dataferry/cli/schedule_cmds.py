"""``dataferry schedule``: list, show, enable and disable pipeline schedules (read
through the read model's ``ScheduleView``; ``dataferry serve`` fires them)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import json_out, render
from dataferry.cli.context import current_workspace

if TYPE_CHECKING:
    from dataferry.execution.views import ScheduleView


def document(v: ScheduleView) -> dict[str, Any]:
    """One schedule as ``--json`` prints it (the view's fields; runs newest first)."""
    return {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}


def _when(v: ScheduleView) -> str:
    if v.recurrence is not None:
        return f"every {v.recurrence['interval']} {v.recurrence['frequency']}"
    return f"new files in {v.datastore_name}:{v.path_on_datastore or '/'}"


@click.group("schedule")
def schedule() -> None:
    """Pipeline schedules: list, show, enable, disable (`dataferry serve` runs them)."""


@schedule.command("list")
@click.option("--all", "include_disabled", is_flag=True, help="Include disabled ones.")
@json_out.json_option
def list_cmd(include_disabled: bool, as_json: bool) -> None:
    """List the schedules (Active ones unless --all)."""
    from dataferry.execution import views

    found = views.list_schedules(current_workspace(), include_disabled=include_disabled)
    if as_json:
        json_out.emit([document(v) for v in found])
        return
    if not found:
        render.say("No schedules; create one with Schedule.create(...).")
        return
    render.print_table(
        ["name", "id", "status", "when", "experiment", "runs"],
        [
            (v.name, v.id, v.status, _when(v), v.experiment_name, len(v.runs))
            for v in found
        ],
        title="Schedules",
    )


@schedule.command("show")
@click.argument("schedule_id")
@json_out.json_option
def show(schedule_id: str, as_json: bool) -> None:
    """Show one schedule and the runs it started."""
    from dataferry.execution import views

    view = views.get_schedule(current_workspace(), schedule_id)
    if as_json:
        json_out.emit(document(view))
        return
    shown = {k: v for k, v in document(view).items() if v not in (None, (), {})}
    render.print_key_values(
        {**shown, "when": _when(view)}, title=f"Schedule {view.name}"
    )


@schedule.command("enable")
@click.argument("schedule_id")
def enable(schedule_id: str) -> None:
    """Let the schedule fire again."""
    _set(schedule_id, enable=True)


@schedule.command("disable")
@click.argument("schedule_id")
def disable(schedule_id: str) -> None:
    """Stop the schedule firing until it is enabled."""
    _set(schedule_id, enable=False)


def _set(schedule_id: str, *, enable: bool) -> None:
    from dataferry.execution.schedule import Schedule

    found = Schedule.get(current_workspace(), schedule_id)
    if enable:
        found.enable()
    else:
        found.disable()
    render.say(f"schedule {found.name} ({found.id}) is now {found.status}")
