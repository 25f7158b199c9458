"""How commands take a run: RUN is ``latest``, a whole id or a unique id prefix, with
``-e/--experiment`` narrowing it; both complete in the shell."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from dataferry.cli.completion import complete_experiments, complete_runs
from dataferry.cli.context import current_workspace

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    F = Callable[..., Any]

run_argument = click.argument("run_id", metavar="RUN", shell_complete=complete_runs)


def experiment_option(help_text: str) -> Callable[[F], F]:
    """``-e/--experiment NAME``, completing experiment names."""
    return click.option(
        "-e",
        "--experiment",
        metavar="NAME",
        help=help_text,
        shell_complete=complete_experiments,
    )


run_experiment_option = experiment_option(
    "With RUN 'latest' or a prefix: a run of this experiment."
)


def resolve(ref: str, experiment: str | None) -> str:
    """The id of the run RUN names in the command's workspace.

    Raises:
        ExperimentNotFoundError: ``experiment`` has no runs.
        RunNotFoundError: no run matches.
        AmbiguousRunError: the prefix starts several run ids (they are listed).
    """
    from dataferry.execution.views import resolve_run

    return resolve_run(current_workspace(), ref, experiment=experiment)
