"""``dataferry run FILE.py``: run a pipeline file and watch its runs to their end."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import render
from dataferry.cli.params import KEY_VALUE
from dataferry.cli.run_views import error_line

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.execution import PipelineRun

_INTERRUPTED_EXIT_CODE = 130  # what a shell reports for Ctrl-C
_ABSENT = object()


@click.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ARGS]")
@click.option(
    "-e",
    "--experiment",
    metavar="NAME",
    help="Experiment to submit FILE's `pipeline` under (default: FILE's name).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    type=KEY_VALUE,
    metavar="NAME=VALUE",
    help="Override a pipeline parameter of FILE's `pipeline`; repeatable. "
    "Values are read as int, float, true/false, else text.",
)
@click.option(
    "--no-wait", is_flag=True, help="Return once submitted; do not watch the run."
)
def run(
    file: Path,
    script_args: Sequence[str],
    experiment: str | None,
    params: Sequence[tuple[str, str]],
    no_wait: bool,
) -> None:
    """Run the pipeline file FILE, then show a live status table until its runs end.

    FILE runs as __main__, with ARGS (after --) as its sys.argv[1:]. Every pipeline
    run it submits is watched. If it submits none but defines a module-level
    `pipeline`, that pipeline is submitted, with --experiment and --param.

    FILE opens its workspace itself (Workspace.from_config() searches from the
    current folder), so --workspace does not apply here.

    Exits 0 when every run finished, 1 when one failed or was canceled.
    """
    from dataferry.execution.experiment import validate_experiment_name
    from dataferry.execution.script_runner import run_file

    if experiment is not None:
        validate_experiment_name(experiment)
    overrides = parse_overrides(params)
    try:
        runs = run_file(
            file,
            experiment=experiment,
            parameters=overrides or None,
            argv=list(script_args),
        )
    except Exception as exc:
        _exit_if_raised_by(file, exc)
        raise
    try:
        _warn_unapplied(runs, experiment, overrides)
        if no_wait:
            _say_submitted(runs)
            return
        watch_to_end(runs)
    finally:
        _close_workspaces(runs)


def watch_to_end(runs: Sequence[PipelineRun]) -> None:
    """Show the runs live until they end (``run``, ``runs rerun|resume --wait``); exit
    1 with their errors if one did not finish, 130 on Ctrl-C (the runs go on)."""
    from dataferry.execution.views import RunStatus

    statuses = _watch_all(runs)
    if any(status != RunStatus.FINISHED for status in statuses):
        _report_failures(runs)
        click.get_current_context().exit(1)


def _exit_if_raised_by(file: Path, exc: Exception) -> None:
    """An error of FILE's own code: print its traceback from FILE's first frame on
    (not the CLI's frames), and exit with its exit code (1 for a Python error)."""
    from dataferry.cli.user_traceback import format_user_error, raised_by_file
    from dataferry.errors import DataferryError

    if not raised_by_file(exc, file):
        return
    click.echo(format_user_error(exc, file), err=True)
    render.print_error(f"{file} raised {type(exc).__name__} (traceback above).")
    code = exc.exit_code if isinstance(exc, DataferryError) else 1
    click.get_current_context().exit(code)


def parse_overrides(params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """``[("n", "5")]`` -> ``{"n": 5}``; a name given twice is a usage error."""
    overrides: dict[str, Any] = {}
    for name, text in params:
        if name in overrides:
            raise click.BadParameter(
                f"pipeline parameter '{name}' is given more than once.",
                param_hint="--param",
            )
        overrides[name] = parse_scalar(text)
    return overrides


def parse_scalar(text: str) -> bool | int | float | str:
    """``'true'`` -> True, ``'3'`` -> 3, ``'0.5'`` -> 0.5, anything else as typed."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text  # 'nan', 'inf' stay text


def _warn_unapplied(
    runs: Sequence[PipelineRun], experiment: str | None, overrides: Mapping[str, Any]
) -> None:
    """A file that submits its own runs decides their experiment and parameters."""
    from dataferry.execution.views import run_detail

    for pipeline_run in runs:
        record = run_detail(pipeline_run.experiment.workspace, pipeline_run.id)
        if experiment is not None and record.experiment != experiment:
            render.print_warning(
                f"--experiment {experiment} was not used: the file submitted run "
                f"{record.id} itself, under experiment '{record.experiment}'."
            )
        ignored = [
            name
            for name, value in overrides.items()
            if record.parameters.get(name, _ABSENT) != value
        ]
        if ignored:
            render.print_warning(
                f"--param {', '.join(ignored)} not applied: the file submitted run "
                f"{record.id} itself, with parameters {dict(record.parameters)}."
            )


def _say_submitted(runs: Sequence[PipelineRun]) -> None:
    for pipeline_run in runs:
        render.say(
            f"Run {pipeline_run.id} submitted; follow it with: "
            f"dataferry runs logs {pipeline_run.id} --follow"
        )


def _watch_all(runs: Sequence[PipelineRun]) -> list[str]:
    """Show each run's live table until it ends (the runs go on at the same time)."""
    from dataferry.execution.watch import watch

    statuses = []
    for pipeline_run in runs:
        try:
            status = watch(
                pipeline_run.experiment.workspace,
                pipeline_run.id,
                console=render.stdout(),
            )
        except KeyboardInterrupt:
            _say_still_running(runs)
            click.get_current_context().exit(_INTERRUPTED_EXIT_CODE)
        statuses.append(status)
    return statuses


def _say_still_running(runs: Sequence[PipelineRun]) -> None:
    for pipeline_run in runs:
        render.print_warning(
            f"stopped watching; run {pipeline_run.id} goes on. "
            f"Cancel it with: dataferry runs cancel {pipeline_run.id}"
        )


def _report_failures(runs: Sequence[PipelineRun]) -> None:
    """Print each run that did not finish, with its failed steps' errors."""
    from dataferry.execution.views import RunStatus, StepStatus, run_detail

    for pipeline_run in runs:
        record = run_detail(pipeline_run.experiment.workspace, pipeline_run.id)
        if record.status == RunStatus.FINISHED:
            continue
        render.print_error(f"run {record.id} {record.status}")
        if record.error:
            click.echo(f"  {error_line(record.error)}", err=True)
        for step in record.steps:
            if step.status == StepStatus.FAILED:
                line = error_line(step.error) or "failed"
                click.echo(f"  {step.name}: {line}", err=True)


def _close_workspaces(runs: Sequence[PipelineRun]) -> None:
    """Release the catalog connections of the workspaces FILE opened."""
    seen: set[int] = set()
    for pipeline_run in runs:
        workspace = pipeline_run.experiment.workspace
        if id(workspace) not in seen:
            seen.add(id(workspace))
            workspace.close()
