"""``dataferry runs``: list, show, read the logs of, and cancel pipeline runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import command_table, json_out, render
from dataferry.cli.completion import RunCommand, complete_steps
from dataferry.cli.context import current_workspace
from dataferry.cli.lazy_group import LazyGroup
from dataferry.cli.run_refs import (
    experiment_option,
    resolve,
    run_argument,
    run_experiment_option,
)
from dataferry.cli.run_views import (
    error_line,
    format_size,
    format_utc,
    print_table,
    status_text,
    step_counts,
    step_note,
)
from dataferry.errors import RunStateError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dataferry.data import Workspace
    from dataferry.execution import PipelineRun
    from dataferry.execution.views import RunDetail, StepView

_POLL_S = 0.2


@click.group("runs", cls=LazyGroup, lazy=command_table.RUNS)
def runs() -> None:
    """List, inspect, read the logs of, cancel, resume and rerun pipeline runs."""


def _pipeline_run(ws: Workspace, record: RunDetail) -> PipelineRun:
    from dataferry.execution import Experiment, PipelineRun

    experiment = Experiment(ws, record.experiment, _skip_name_validation=True)
    return PipelineRun(experiment, record.id)


@runs.command("list")
@experiment_option("Only this experiment's runs.")
@click.option(
    "-n",
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many runs, newest first.",
)
@json_out.json_option
def list_runs(experiment: str | None, limit: int, as_json: bool) -> None:
    """List the newest runs: status, start, duration and their steps' statuses.

    An experiment without runs exits 3 (not found), naming the closest one.
    """
    from dataferry.execution import views

    ws = current_workspace()
    if experiment is not None:
        views.check_experiment(ws, experiment)
    summaries = views.list_runs(ws, experiment=experiment, limit=limit)
    if as_json:
        json_out.emit([json_out.run_summary(r) for r in summaries])
        return
    if not summaries:
        render.say(f"No runs in workspace '{ws.name}'.")
        return
    rows = [
        (
            r.id,
            r.experiment,
            r.status,
            format_utc(r.started_at),
            views.format_duration(r.duration_s),
            step_counts(r.step_statuses),
            _KINDS.get(r.run_type, r.run_type),
        )
        for r in summaries
    ]
    where = f"experiment '{experiment}'" if experiment else f"workspace '{ws.name}'"
    print_table(
        ["id", "experiment", "status", "started (UTC)", "duration", "steps", "type"],
        rows,
        title=f"Runs of {where}, newest first",
        whole=("id", "status", "duration"),
    )


# how a listing names each run type (the SDK's type names are long)
_KINDS = {
    "azureml.PipelineRun": "pipeline",
    "azureml.scriptrun": "script",
    "experiment": "interactive",
}


@runs.command("show")
@run_argument
@run_experiment_option
@json_out.json_option
def show(run_id: str, experiment: str | None, as_json: bool) -> None:
    """Show run RUN (an id, a unique id prefix, or 'latest'): its settings, steps in
    run order, outputs, registered datasets and metrics."""
    from dataferry.execution.views import metrics, outputs, run_detail

    ws = current_workspace()
    detail = run_detail(ws, resolve(run_id, experiment))
    if as_json:
        found = metrics(ws, json_out.metric_owners(detail))
        json_out.emit(json_out.run_detail(detail, outputs(ws, detail.steps), found))
        return
    _print_run(detail)
    _print_mapping("Parameters", detail.parameters)
    _print_mapping("Options", detail.options)
    _print_mapping("Tags", detail.tags)
    _print_steps(detail.steps)
    _print_outputs(ws, detail.steps)
    _print_registered(detail.steps)
    _print_metrics(_pipeline_run(ws, detail))


def _print_run(r: RunDetail) -> None:
    from dataferry.execution.views import format_duration

    driver = f"{r.driver_host or '?'} pid {r.driver_pid}" if r.driver_pid else None
    render.print_key_values(
        {
            "experiment": r.experiment,
            "type": str(r.options.get("run_type") or "azureml.PipelineRun"),
            "status": r.status,
            "description": r.description,
            "submitted": r.created_at,
            "started": r.started_at,
            "ended": r.ended_at,
            "duration": format_duration(r.duration_s),
            "driver": driver,
            "error": error_line(r.error),
            "logs": r.log_dir,
        },
        title=f"Run {r.id}",
    )


def _print_mapping(title: str, values: Any) -> None:
    if values:
        render.print_table(["name", "value"], sorted(values.items()), title=title)
    else:
        render.say(f"{title}: none")


def _print_steps(steps: Sequence[StepView]) -> None:
    from dataferry.execution.views import format_duration

    print_table(
        ["step", "status", "duration", "step run", "target", "reuse", "error"],
        [
            (
                s.name,
                status_text(s),
                format_duration(s.duration_s),
                s.id,
                s.compute_target,
                step_note(s),
                error_line(s.error),
            )
            for s in steps
        ],
        title="Steps",
        whole=("status", "step run"),
    )


def _print_outputs(ws: Workspace, steps: Sequence[StepView]) -> None:
    from dataferry.execution.views import outputs

    rows = [
        (
            out.step_name,
            out.name,
            f"{out.datastore}:{out.path}",
            out.file_count,
            format_size(out.size_bytes),
        )
        for out in outputs(ws, steps)
    ]
    if rows:
        columns = ["step", "output", "location", "files", "size"]
        render.print_table(columns, rows, title="Committed outputs")
    else:
        render.say("Committed outputs: none")


def _print_registered(steps: Sequence[StepView]) -> None:
    from dataferry.execution.views import registrations

    rows = [
        (reg.step_name, reg.dataset, reg.version, reg.output)
        for reg in registrations(steps)
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


@runs.command("logs", cls=RunCommand)
@run_argument
@run_experiment_option
@click.option(
    "--step",
    "step_name",
    metavar="NAME",
    help="Only this step's logs.",
    shell_complete=complete_steps,
)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Show the run as it goes (as 'dataferry run' does) until it (or --step) ends.",
)
def logs(
    run_id: str, experiment: str | None, step_name: str | None, follow: bool
) -> None:
    """Print the steps' stdout and stderr, each line prefixed with its step's name.

    Lines from stderr are marked [STEP stderr]. The driver's own log is named first.
    With --follow: the run's feed (status changes, reuse, stages, output lines, each
    timestamped off a terminal) until it ends.
    """
    from dataferry.execution.views import run_detail

    ws = current_workspace()
    run_id = resolve(run_id, experiment)
    first = run_detail(ws, run_id)  # an unknown id fails before anything is printed
    chosen = _select(first.steps, run_id, step_name)
    render.say(f"Driver log: {first.driver_log}{_driven_elsewhere(first)}")
    if follow:
        from dataferry.execution.watch import watch

        only = [s.id for s in chosen] if step_name is not None else None
        watch(ws, run_id, only=only, refresh_s=_POLL_S, console=render.stdout())
        return
    _print_logs(chosen)


def _driven_elsewhere(detail: RunDetail) -> str:
    """A note for a running run whose folder is not here: driven from another folder of
    a shared workspace, whose driver log reaches the shared datastore at the end."""
    if detail.is_terminal or detail.driver_log.parent.is_dir():
        return ""
    return (
        " (not in this workspace folder: the run is driven from another one, which "
        "stores it on its shared datastore when the run ends)"
    )


def _print_logs(steps: Sequence[StepView]) -> None:
    """Each step's whole stdout and stderr as it is now."""
    from dataferry.execution.views import LogTail

    tail = LogTail()
    for step in steps:
        for stream, line in tail.step_lines(step, final=True):
            marker = "" if stream == "stdout" else f" {stream}"
            click.echo(f"[{step.name}{marker}] {line}")
        if step.log_dir is None:
            click.echo(f"[{step.name}] -- no logs ({step.status})")
        elif not step.is_terminal and not step.log_dir.is_dir():
            # a step running from another folder writes its logs there; only its end
            # is copied to the shared datastore, so nothing can be shown here yet
            click.echo(
                f"[{step.name}] -- no logs in this workspace folder yet "
                f"({step.status}): a step running from another folder of a shared "
                "workspace stores them on its shared datastore when it ends"
            )


def _select(
    steps: Sequence[StepView], run_id: str, step_name: str | None
) -> list[StepView]:
    """The step runs named ``step_name`` (every one if None).

    Raises:
        StepNotFoundError: the run has no step of that name.
    """
    if step_name is None:
        return list(steps)
    chosen = [s for s in steps if s.name == step_name]
    if not chosen:
        from dataferry.errors import StepNotFoundError, did_you_mean

        names = sorted({s.name for s in steps})
        raise StepNotFoundError(
            f"run '{run_id}' has no step '{step_name}'; its steps are "
            f"{', '.join(names) or 'none'}.{did_you_mean(step_name, names)}"
        )
    return chosen


@runs.command("cancel")
@run_argument
@run_experiment_option
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
def cancel(
    run_id: str, experiment: str | None, no_wait: bool, timeout_s: float
) -> None:
    """Cancel a run: its running steps are stopped, later ones never start, and
    nothing they wrote is committed. A run whose driver died is resumed so that a new
    driver carries the cancel out; a run already canceled stays so.
    """
    from dataferry.errors import RunError
    from dataferry.execution.views import (
        RunStatus,
        driver_gone,
        run_detail,
        wait_for_status,
    )
    from dataferry.execution.watch import status_table

    ws = current_workspace()
    run_id = resolve(run_id, experiment)
    detail = run_detail(ws, run_id)
    if detail.status == RunStatus.CANCELED:  # canceled twice: what was asked holds
        render.say(f"run {run_id} is already Canceled.", style="yellow")
        return
    _check_not_ended(detail)
    orphaned = driver_gone(ws, run_id)
    _pipeline_run(ws, detail).cancel()  # resumes a run whose driver is gone
    if orphaned:
        render.say(
            f"Run {run_id}'s driver was gone: resumed it to carry out the cancel."
        )
    if no_wait:
        render.say(f"Cancel of run {run_id} requested.")
        return
    status = wait_for_status(ws, run_id, timeout_s=timeout_s, poll_s=_POLL_S / 2)
    if status in (RunStatus.FINISHED, RunStatus.FAILED):
        raise RunStateError(
            f"run '{run_id}' ended ({status}) before the cancel took effect."
        )
    if status != RunStatus.CANCELED:
        raise RunError(
            f"run '{run_id}': cancel requested, but its driver has not stopped it "
            f"within {timeout_s:g} s (status {status}). Is the driver still alive? "
            f"See {detail.driver_log}"
        )
    render.say(f"Canceled run {run_id}.", style="yellow")
    render.stdout().print(status_table(ws, run_id))


def _check_not_ended(detail: RunDetail) -> None:
    """Raises RunStateError if the run has finished, failed or been canceled."""
    if detail.is_terminal:
        raise RunStateError(
            f"run '{detail.id}' has already ended ({detail.status}); "
            "only a run that is not started or running can be canceled."
        )
