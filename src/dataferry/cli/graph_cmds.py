"""``dataferry runs graph RUN`` and ``dataferry graph FILE.py``: a pipeline's steps and
the data between them, in the terminal or as Mermaid/DOT to paste into docs.
``cli.main`` adds ``graph`` to the root and to the ``runs`` group."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from dataferry.cli.context import current_workspace
from dataferry.cli.graph_render import FORMATS, render
from dataferry.cli.run_refs import resolve, run_argument, run_experiment_option

if TYPE_CHECKING:
    from collections.abc import Sequence

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for the terminal; mermaid or dot (Graphviz) to paste into docs.",
)


@click.command("graph")
@run_argument
@run_experiment_option
@format_option
def run_graph(run_id: str, experiment: str | None, fmt: str) -> None:
    """Draw run RUN: its steps in run order with status, duration and reuse, and the
    data between them (outputs, and the datasets and paths read from outside)."""
    from dataferry.execution.views import run_graph as graph_of_run

    view = graph_of_run(current_workspace(), resolve(run_id, experiment))
    click.echo(render(view, fmt), nl=False)


@click.command("graph")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ARGS]")
@format_option
def pipeline_graph(file: Path, script_args: Sequence[str], fmt: str) -> None:
    """Draw the pipeline of FILE without running it: the pipeline FILE submits first
    (that submit is stopped: nothing is recorded or run), else its module-level
    `pipeline`. FILE runs as __main__ up to that point, with ARGS as sys.argv[1:]."""
    from dataferry.execution.pipeline_capture import pipeline_of_file
    from dataferry.pipeline.graph_view import of_pipeline

    pipeline = pipeline_of_file(file, list(script_args))
    click.echo(render(of_pipeline(pipeline), fmt), nl=False)
