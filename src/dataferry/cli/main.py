"""The ``dataferry`` root group: global options, the command groups, error handling.

To add commands, write a module with a ``click.Group`` (or command) and add it in
``_COMMANDS`` below. Modules here import only click and rich at the top, so
``dataferry --help`` stays fast; the data layer is imported inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dataferry import __version__
from dataferry.cli import (
    agent_cmds,
    catalog_cmds,
    completion,
    compute_cmds,
    dataset_cmds,
    dataset_make,
    datastore_cmds,
    events_cmds,
    graph_cmds,
    lifecycle_cmds,
    model_cmds,
    pipeline_cmds,
    render,
    run_cmds,
    runs_cmds,
    schedule_cmds,
    serve_cmds,
    workspace_cmds,
)
from dataferry.cli.context import CliState
from dataferry.errors import EXIT_CODES, DataferryError

_COMMANDS: tuple[click.Command, ...] = (
    workspace_cmds.init,
    datastore_cmds.datastore,
    dataset_cmds.dataset,
    run_cmds.run,
    graph_cmds.pipeline_graph,
    runs_cmds.runs,  # with `resume`, `rerun` (lifecycle_cmds), `events` and `graph`, below
    lifecycle_cmds.gc,
    agent_cmds.agent,
    compute_cmds.compute,
    model_cmds.model,
    catalog_cmds.catalog,
    serve_cmds.serve,
    pipeline_cmds.pipeline,
    schedule_cmds.schedule,
    completion.completion,
)

runs_cmds.runs.add_command(events_cmds.events)
runs_cmds.runs.add_command(graph_cmds.run_graph)
dataset_cmds.dataset.add_command(dataset_make.register)
dataset_cmds.dataset.add_command(dataset_make.upload)


class DataferryGroup(click.Group):
    """Root group: the one place a ``DataferryError`` becomes a message + exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DataferryError as exc:
            render.print_error(exc.for_cli())  # the CLI's wording, if it differs
            ctx.exit(exc.exit_code)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``dataferry --help`` ends with the exit codes every command uses."""
        super().format_epilog(ctx, formatter)
        with formatter.section("Exit codes"):
            formatter.write_dl([(str(code), text) for code, text in EXIT_CODES.items()])


@click.group(
    cls=DataferryGroup, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "-w",
    "--workspace",
    "workspace_path",
    type=click.Path(exists=True, path_type=Path),
    envvar="DATAFERRY_WORKSPACE",
    help="Project folder (or config file) of the workspace. Default: found from the "
    "current folder, as Workspace.from_config() does. Env: DATAFERRY_WORKSPACE.",
)
@click.version_option(__version__, "-V", "--version", prog_name="dataferry")
@click.pass_context
def app(ctx: click.Context, workspace_path: Path | None) -> None:
    """Datasets, datastores and pipelines of a dataferry workspace."""
    state = CliState(workspace_path)
    ctx.obj = state
    ctx.call_on_close(state.close)


for _command in _COMMANDS:
    app.add_command(_command)


def main() -> None:
    """Entry point of the ``dataferry`` console script."""
    app(prog_name="dataferry")
