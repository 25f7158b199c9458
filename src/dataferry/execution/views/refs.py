"""Run references as people type them: ``latest``, a whole id, or a unique prefix.

Every command that takes a run resolves it here, so ``latest`` and prefixes mean the
same everywhere; shell completion reads the same ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.errors import (
    AmbiguousRunError,
    ExperimentNotFoundError,
    RunNotFoundError,
    did_you_mean,
)
from dataferry.execution.views.run_list import experiment_names

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace

LATEST = "latest"
# how many candidates an ambiguous prefix lists (more are summed up)
_SHOWN = 10


def run_ids(
    workspace: Workspace,
    prefix: str = "",
    *,
    experiment: str | None = None,
    limit: int = 50,
) -> list[str]:
    """The run ids starting with ``prefix`` (of ``experiment``, if named), newest
    first, at most ``limit``: what a shell completes RUN with."""
    from dataferry.catalog.run_store import RunStore

    return RunStore(workspace.catalog).run_ids(
        prefix, experiment=experiment, limit=limit
    )


def check_experiment(workspace: Workspace, experiment: str) -> None:
    """Pass if some run was submitted under ``experiment``.

    Raises:
        ExperimentNotFoundError: none was; the message names the closest experiment.
    """
    # not the SqlCatalog: ``runs list -e`` checks the name first (see run_list)
    known = experiment_names(workspace)
    if experiment not in known:
        raise ExperimentNotFoundError(
            f"no runs of experiment '{experiment}' in this workspace; its experiments "
            f"are {', '.join(known) or 'none'}.{did_you_mean(experiment, known)}"
        )


def resolve_run(
    workspace: Workspace, ref: str, *, experiment: str | None = None
) -> str:
    """The id of the run ``ref`` names: ``'latest'`` (the newest run, of
    ``experiment`` if given), a whole run id, or the start of exactly one run id.

    Raises:
        ExperimentNotFoundError: ``experiment`` has no runs.
        RunNotFoundError: no run matches (or, for ``latest``, there is none).
        AmbiguousRunError: the prefix starts several run ids; the message lists them.
    """
    from dataferry.catalog.run_store import RunStore

    store = RunStore(workspace.catalog)
    if experiment is not None:
        check_experiment(workspace, experiment)
    if ref == LATEST:
        newest = store.run_ids(experiment=experiment, limit=1)
        if not newest:
            raise RunNotFoundError("no runs in this workspace yet: 'latest' names none")
        return newest[0]
    found = store.run_ids(ref, experiment=experiment, limit=_SHOWN + 1)
    if ref in found or len(found) == 1:
        return ref if ref in found else found[0]
    where = f" of experiment '{experiment}'" if experiment else ""
    if not found:
        raise RunNotFoundError(
            f"no run with id '{ref}' in this workspace{where}, nor one whose id starts "
            "with it; list them with `dataferry runs list`, or pass 'latest'."
        )
    more = " and more" if len(found) > _SHOWN else ""
    raise AmbiguousRunError(
        f"'{ref}' starts {len(found)}{'+' if more else ''} run ids{where}: "
        f"{', '.join(found[:_SHOWN])}{more}; type more of the id."
    )
