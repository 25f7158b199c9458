"""Recovering runs and cleaning up after them: ``runs resume``, ``runs rerun``, ``gc``,
``datastore retention``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import json_out, render
from dataferry.cli.completion import RunCommand, complete_datastores, complete_steps
from dataferry.cli.context import current_workspace
from dataferry.cli.run_refs import resolve, run_argument, run_experiment_option
from dataferry.cli.run_views import format_size

if TYPE_CHECKING:
    from dataferry.execution.lifecycle import GcReport

_wait_option = click.option(
    "--wait",
    is_flag=True,
    help="Show the run live until it ends, as `dataferry run` does; exit 1 if it "
    "does not finish.",
)


def _follow(run_id: str, wait: bool) -> None:
    """Watch the run to its end (``--wait``), else say how to follow it."""
    if not wait:
        render.say(f"follow it with: dataferry runs logs {run_id} --follow")
        return
    from dataferry.cli.run_cmds import watch_to_end
    from dataferry.execution import Experiment, PipelineRun
    from dataferry.execution.views import run_detail

    ws = current_workspace()
    name = run_detail(ws, run_id).experiment
    watch_to_end(
        [PipelineRun(Experiment(ws, name, _skip_name_validation=True), run_id)]
    )


@click.command("resume")
@run_argument
@run_experiment_option
@_wait_option
def resume(run_id: str, experiment: str | None, wait: bool) -> None:
    """Continue run RUN, whose driver died: finished steps are kept, interrupted ones
    restart."""
    from dataferry.execution.resume import resume_run

    run_id = resolve(run_id, experiment)
    resume_run(current_workspace(), run_id)
    render.say(f"Resumed run {run_id}")
    _follow(run_id, wait)


@click.command("rerun", cls=RunCommand)
@run_argument
@run_experiment_option
@click.option(
    "--from",
    "from_step",
    required=True,
    metavar="STEP",
    help="Rerun this step and everything downstream of it.",
    shell_complete=complete_steps,
)
@_wait_option
def rerun(run_id: str, experiment: str | None, from_step: str, wait: bool) -> None:
    """Start a new run of RUN's pipeline that reruns STEP and its downstream steps.

    Upstream steps are reused when their outputs are still there.
    """
    from dataferry.execution.resume import rerun_from

    run_id = resolve(run_id, experiment)
    new_id = rerun_from(current_workspace(), run_id, from_step)
    render.say(f"Submitted PipelineRun {new_id} (rerun of {run_id} from '{from_step}')")
    _follow(new_id, wait)


@click.command("gc")
@click.option(
    "--older-than",
    metavar="DURATION",
    help="Runs that ended longer ago than this (7d, 12h, 30m). Default: each datastore's retention.",
)
@click.option(
    "--datastore",
    "datastore_name",
    metavar="NAME",
    help="Only outputs on this datastore.",
    shell_complete=complete_datastores,
)
@click.option(
    "--dry-run", is_flag=True, help="List what would be deleted, delete nothing."
)
@json_out.json_option
def gc(
    older_than: str | None, datastore_name: str | None, dry_run: bool, as_json: bool
) -> None:
    """Delete intermediate outputs of old runs (never registered data, never what a kept
    run reuses, never anything of a running run); in a shared workspace also the shared
    snapshots no run uses and the shared logs of deleted runs."""
    from dataferry.execution.lifecycle import gc as collect
    from dataferry.execution.lifecycle import parse_duration

    if older_than is not None:
        parse_duration(older_than)  # a malformed duration fails before anything is read
    ws = current_workspace()
    report = collect(
        ws, older_than=older_than, datastore=datastore_name, dry_run=dry_run
    )
    if as_json:
        json_out.emit(gc_document(report))
        return
    verb = "would delete" if dry_run else "deleted"
    if report.items:
        render.print_table(
            ["run", "step", "output", "location", "files", "size"],
            [
                (
                    i.run_id,
                    i.step_name,
                    i.name,
                    f"{i.datastore}:/{i.path}",
                    i.file_count,
                    format_size(i.size_bytes),
                )
                for i in report.items
            ],
            title=f"Intermediate outputs gc {verb}",
        )
    for folder in report.staging:
        render.say(f"{verb} leftover staging folder {folder}")
    for item in report.shared:
        render.say(f"{verb} shared {item.kind} {item.path} ({item.size_bytes} bytes)")
    render.say(
        f"{verb} {len(report.items)} output(s), {format_size(report.total_bytes)} in total"
    )
    if report.shared:
        render.say(
            f"{verb} {len(report.shared)} shared snapshot/log folder(s), "
            f"{report.shared_bytes} bytes in total"
        )


def gc_document(report: GcReport) -> dict[str, Any]:
    """``gc --json``: the outputs (would be) deleted, leftover staging folders, totals."""
    return {
        "deleted": report.deleted,
        "outputs": [
            {
                "run_id": i.run_id,
                "step_run_id": i.step_run_id,
                "step": i.step_name,
                "output": i.name,
                "datastore": i.datastore,
                "path": i.path,
                "files": i.file_count,
                "size_bytes": i.size_bytes,
                "run_ended": i.run_ended_at,
            }
            for i in report.items
        ],
        "staging": list(report.staging),
        "shared": [
            {"kind": i.kind, "name": i.name, "path": i.path, "size_bytes": i.size_bytes}
            for i in report.shared
        ],
        "total_bytes": report.total_bytes,
        "shared_bytes": report.shared_bytes,
    }


@click.command("retention")
@click.argument("name", shell_complete=complete_datastores)
@click.argument("duration")
def retention(name: str, duration: str) -> None:
    """Keep intermediate outputs on datastore NAME for DURATION (7d, 12h); 'none' keeps
    them until deleted by hand. ``dataferry gc`` with no --older-than applies it."""
    from dataferry.execution.lifecycle import set_retention

    set_retention(
        current_workspace(), name, None if duration.lower() == "none" else duration
    )
    render.say(f"retention of datastore '{name.lower()}': {duration}")
