"""Recovering runs and cleaning up after them: ``runs resume``, ``runs rerun``, ``gc``,
``datastore retention``."""

from __future__ import annotations

import click

from dataferry.cli import render
from dataferry.cli.context import current_workspace
from dataferry.cli.datastore_cmds import datastore
from dataferry.cli.run_views import format_size
from dataferry.cli.runs_cmds import runs


@runs.command("resume")
@click.argument("run_id")
def resume(run_id: str) -> None:
    """Continue a run whose driver died: finished steps are kept, interrupted ones restart."""
    from dataferry.execution.resume import resume_run

    resume_run(current_workspace(), run_id)
    render.say(
        f"Resumed run {run_id}; follow it with: dataferry runs logs {run_id} --follow"
    )


@runs.command("rerun")
@click.argument("run_id")
@click.option(
    "--from",
    "from_step",
    required=True,
    metavar="STEP",
    help="Rerun this step and everything downstream of it.",
)
def rerun(run_id: str, from_step: str) -> None:
    """Start a new run of RUN_ID's pipeline that reruns STEP and its downstream steps.

    Upstream steps are reused when their outputs are still there.
    """
    from dataferry.execution.resume import rerun_from

    new_id = rerun_from(current_workspace(), run_id, from_step)
    render.say(f"Submitted PipelineRun {new_id} (rerun of {run_id} from '{from_step}')")
    render.say(f"follow it with: dataferry runs logs {new_id} --follow")


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
)
@click.option(
    "--dry-run", is_flag=True, help="List what would be deleted, delete nothing."
)
def gc(older_than: str | None, datastore_name: str | None, dry_run: bool) -> None:
    """Delete intermediate outputs of old runs (never registered data, never what a kept
    run reuses, never anything of a running run)."""
    from dataferry.execution.lifecycle import gc as collect
    from dataferry.execution.lifecycle import parse_duration

    if older_than is not None:
        parse_duration(older_than)  # a malformed duration fails before anything is read
    ws = current_workspace()
    report = collect(
        ws, older_than=older_than, datastore=datastore_name, dry_run=dry_run
    )
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
    render.say(
        f"{verb} {len(report.items)} output(s), {format_size(report.total_bytes)} in total"
    )


@datastore.command("retention")
@click.argument("name")
@click.argument("duration")
def retention(name: str, duration: str) -> None:
    """Keep intermediate outputs on datastore NAME for DURATION (7d, 12h); 'none' keeps
    them until deleted by hand. ``dataferry gc`` with no --older-than applies it."""
    from dataferry.execution.lifecycle import set_retention

    set_retention(
        current_workspace(), name, None if duration.lower() == "none" else duration
    )
    render.say(f"retention of datastore '{name.lower()}': {duration}")
