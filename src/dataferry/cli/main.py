"""The ``dataferry`` root group: global options, the command groups, error handling.

To add commands, write a module with a ``click.Group`` (or command) and add it to
``command_table.ROOT``: a command's module is imported only when it runs, and
``dataferry --help`` imports none of them. Command modules import only click and rich
at the top; the data layer is imported inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dataferry import __version__
from dataferry.cli import command_table
from dataferry.cli.context import CliState
from dataferry.cli.lazy_group import LazyGroup
from dataferry.errors import EXIT_CODES, DataferryError


class DataferryGroup(LazyGroup):
    """Root group: the one place a ``DataferryError`` becomes a message + exit code.

    Its commands are imported only when run (``command_table.ROOT``), so a command's
    start-up pays for its own modules only.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DataferryError as exc:
            from dataferry.cli import render  # rich, only once there is an error

            render.print_error(exc.for_cli())  # the CLI's wording, if it differs
            ctx.exit(exc.exit_code)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``dataferry --help`` ends with the exit codes every command uses."""
        super().format_epilog(ctx, formatter)
        with formatter.section("Exit codes"):
            formatter.write_dl([(str(code), text) for code, text in EXIT_CODES.items()])


@click.group(
    cls=DataferryGroup,
    lazy=command_table.ROOT,
    context_settings={"help_option_names": ["-h", "--help"]},
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


def main() -> None:
    """Entry point of the ``dataferry`` console script."""
    app(prog_name="dataferry")
