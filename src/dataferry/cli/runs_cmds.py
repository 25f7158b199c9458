"""``dataferry runs``: list, show, read the logs of, and cancel pipeline runs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import render
from dataferry.cli.context import current_workspace
from dataferry.cli.run_views import (
    error_line,
    format_duration,
    format_size,
    format_utc,
    print_table,
    step_counts,
    step_note,
)
from dataferry.errors import RunStateError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dataferry.catalog.run_store import RunRecord, RunStore, StepRunRecord
    from dataferry.data import Workspace
    from dataferry.execution import PipelineRun

_POLL_S = 0.2


@click.group("runs")
def runs() -> None:
    """List, inspect, read the logs of, cancel, resume and rerun pipeline runs."""


def _store() -> RunStore:
    from dataferry.catalog.run_store import RunStore

    return RunStore(current_workspace().catalog)


def _pipeline_run(ws: Workspace, record: RunRecord) -> PipelineRun:
    from dataferry.execution import Experiment, PipelineRun

    experiment = Experiment(ws, record.experiment, _skip_name_validation=True)
    return PipelineRun(experiment, record.id)


@runs.command("list")
@click.option("--experiment", metavar="NAME", help="Only this experiment's runs.")
@click.option(
    "-n",
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many runs, newest first.",
)
def list_runs(experiment: str | None, limit: int) -> None:
    """List the newest runs: status, start, duration and their steps' statuses."""
    ws = current_workspace()
    store = _store()
    records = store.list_runs(experiment=experiment, limit=limit)
    if not records:
        render.say(_no_runs_message(store, ws.name, experiment))
        return
    rows = [
        (
            r.id,
            r.experiment,
            r.status,
            format_utc(r.started_at),
            format_duration(r.started_at, r.ended_at),
            step_counts(store.step_runs(r.id)),
        )
        for r in records
    ]
    where = f"experiment '{experiment}'" if experiment else f"workspace '{ws.name}'"
    print_table(
        ["id", "experiment", "status", "started (UTC)", "duration", "steps"],
        rows,
        title=f"Runs of {where}, newest first",
        whole=("id", "status", "duration"),
    )


def _no_runs_message(store: RunStore, workspace: str, experiment: str | None) -> str:
    from dataferry.errors import did_you_mean

    if experiment is None:
        return f"No runs in workspace '{workspace}'."
    known = {r.experiment for r in store.list_runs(limit=1000)}
    return f"No runs of experiment '{experiment}'.{did_you_mean(experiment, known)}"


@runs.command("show")
@click.argument("run_id")
def show(run_id: str) -> None:
    """Show a run: its settings, steps, outputs, registered datasets and metrics."""
    ws = current_workspace()
    store = _store()
    record = store.get_run(run_id)
    steps = store.step_runs(run_id)
    _print_run(ws, record)
    _print_mapping("Parameters", record.parameters)
    _print_mapping("Options", record.options)
    _print_mapping("Tags", record.tags)
    _print_steps(steps)
    _print_outputs(store, steps)
    _print_registered(steps)
    _print_metrics(_pipeline_run(ws, record))


def _print_run(ws: Workspace, r: RunRecord) -> None:
    driver = f"{r.driver_host or '?'} pid {r.driver_pid}" if r.driver_pid else None
    render.print_key_values(
        {
            "experiment": r.experiment,
            "status": r.status,
            "description": r.description,
            "submitted": r.created_at,
            "started": r.started_at,
            "ended": r.ended_at,
            "duration": format_duration(r.started_at, r.ended_at),
            "driver": driver,
            "error": error_line(r.error),
            "logs": ws.path / "runs" / r.id,
        },
        title=f"Run {r.id}",
    )


def _print_mapping(title: str, values: Any) -> None:
    if values:
        render.print_table(["name", "value"], sorted(values.items()), title=title)
    else:
        render.say(f"{title}: none")


def _print_steps(steps: Sequence[StepRunRecord]) -> None:
    print_table(
        ["step", "status", "duration", "step run", "reuse", "error"],
        [
            (
                s.step_name,
                s.status,
                format_duration(s.started_at, s.ended_at),
                s.id,
                step_note(s),
                error_line(s.details.get("error")),
            )
            for s in steps
        ],
        title="Steps",
        whole=("status", "step run"),
    )


def _print_outputs(store: RunStore, steps: Sequence[StepRunRecord]) -> None:
    rows = [
        (
            s.step_name,
            out.name,
            f"{out.datastore}:{out.path}",
            out.file_count,
            format_size(out.size_bytes),
        )
        for s in steps
        for out in store.outputs_of(s.reused_from or s.id)
    ]
    if rows:
        columns = ["step", "output", "location", "files", "size"]
        render.print_table(columns, rows, title="Committed outputs")
    else:
        render.say("Committed outputs: none")


def _print_registered(steps: Sequence[StepRunRecord]) -> None:
    rows = [
        (s.step_name, reg.get("name"), reg.get("version"), reg.get("output"))
        for s in steps
        for reg in s.details.get("registered") or ()
    ]
    if rows:
        columns = ["step", "dataset", "version", "from output"]
        render.print_table(columns, rows, title="Registered datasets")


def _print_metrics(pipeline_run: PipelineRun) -> None:
    owners: list[tuple[str, dict[str, Any]]] = [("(run)", pipeline_run.get_metrics())]
    owners += [(step.name, step.get_metrics()) for step in pipeline_run.get_steps()]
    rows = [
        (owner, name, value)
        for owner, metrics in owners
        for name, value in metrics.items()
    ]
    if rows:
        render.print_table(["logged by", "metric", "value"], rows, title="Metrics")
    else:
        render.say("Metrics: none")


@runs.command("logs")
@click.argument("run_id")
@click.option("--step", "step_name", metavar="NAME", help="Only this step's logs.")
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing new lines until the run ends."
)
def logs(run_id: str, step_name: str | None, follow: bool) -> None:
    """Print the steps' stdout and stderr, each line prefixed with its step's name.

    Lines from stderr are marked [STEP stderr]. The driver's own log is named first.
    """
    from dataferry.catalog.run_store import TERMINAL
    from dataferry.cli.run_logs import LogTail

    ws = current_workspace()
    store = _store()
    store.get_run(run_id)  # an unknown id fails before anything is printed
    _select(store.step_runs(run_id), run_id, step_name)
    render.say(f"Driver log: {ws.path / 'runs' / run_id / 'driver.log'}")
    tail = LogTail()
    shown: dict[str, str] = {}
    while True:
        status = store.get_run(run_id).status  # read first: the steps below are newer
        is_final = status in TERMINAL or not follow
        for rec in _select(store.step_runs(run_id), run_id, step_name):
            if follow and shown.get(rec.id) != rec.status:
                shown[rec.id] = rec.status
                click.echo(f"[{rec.step_name}] -- {rec.status}")
            for line in tail.lines(rec, is_final=is_final):
                click.echo(line)
            if not follow and not rec.log_dir:
                click.echo(f"[{rec.step_name}] -- no logs ({rec.status})")
        if is_final:
            if follow:
                render.say(f"Run {run_id}: {status}")
            return
        time.sleep(_POLL_S)


def _select(
    steps: Sequence[StepRunRecord], run_id: str, step_name: str | None
) -> list[StepRunRecord]:
    """The step runs named ``step_name`` (every one if None).

    Raises:
        RunNotFoundError: the run has no step of that name.
    """
    if step_name is None:
        return list(steps)
    chosen = [s for s in steps if s.step_name == step_name]
    if not chosen:
        from dataferry.errors import RunNotFoundError, did_you_mean

        names = sorted({s.step_name for s in steps})
        raise RunNotFoundError(
            f"run '{run_id}' has no step '{step_name}'; its steps are "
            f"{', '.join(names) or 'none'}.{did_you_mean(step_name, names)}"
        )
    return chosen


@runs.command("cancel")
@click.argument("run_id")
@click.option("--no-wait", is_flag=True, help="Return once the cancel is requested.")
@click.option(
    "--timeout",
    "timeout_s",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="How long to wait for the driver to stop the run.",
)
def cancel(run_id: str, no_wait: bool, timeout_s: float) -> None:
    """Cancel a run: its running steps are stopped, later ones never start, and
    nothing they wrote is committed.
    """
    from dataferry.errors import RunError
    from dataferry.execution.watch import status_table

    ws = current_workspace()
    store = _store()
    record = store.get_run(run_id)
    _check_not_ended(record)
    _pipeline_run(ws, record).cancel()
    if no_wait:
        render.say(f"Cancel of run {run_id} requested.")
        return
    status = _wait_until_ended(store, run_id, timeout_s)
    if status in ("Finished", "Failed"):
        raise RunStateError(
            f"run '{run_id}' ended ({status}) before the cancel took effect."
        )
    if status != "Canceled":
        raise RunError(
            f"run '{run_id}': cancel requested, but its driver has not stopped it "
            f"within {timeout_s:g} s (status {status}). Is the driver still alive? "
            f"See {ws.path / 'runs' / run_id / 'driver.log'}"
        )
    render.say(f"Canceled run {run_id}.", style="yellow")
    render.stdout().print(status_table(ws, run_id))


def _check_not_ended(record: RunRecord) -> None:
    """Raises RunStateError if the run has finished, failed or been canceled."""
    from dataferry.catalog.run_store import TERMINAL

    if record.status in TERMINAL:
        raise RunStateError(
            f"run '{record.id}' has already ended ({record.status}); "
            "only a run that is not started or running can be canceled."
        )


def _wait_until_ended(store: RunStore, run_id: str, timeout_s: float) -> str:
    from dataferry.catalog.run_store import TERMINAL

    deadline = time.monotonic() + timeout_s
    while True:
        status = store.get_run(run_id).status
        if status in TERMINAL or time.monotonic() >= deadline:
            return status
        time.sleep(_POLL_S / 2)
