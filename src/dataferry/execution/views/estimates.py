"""How long a run is likely to take, from the earlier runs of the same pipeline.

"The same pipeline" is a run of the same experiment with the same step names: a
rerun, a resubmission with other parameters, a scheduled run. Only runs that finished
count (a failed run says nothing about how long a whole run takes).
"""

from __future__ import annotations

from statistics import median
from typing import TYPE_CHECKING

from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import RunStatus

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace
    from dataferry.execution.views.model import RunDetail

# how many of the experiment's newest runs are looked at: enough for a median, few
# enough that the first look at a run stays a few milliseconds
EARLIER_RUNS = 20


def expected_duration_s(workspace: Workspace, run: RunDetail) -> float | None:
    """The median duration of the newest earlier finished runs of ``run``'s pipeline
    (seconds); None when there is none."""
    names = sorted(step.name for step in run.steps)
    store = RunStore(workspace.catalog)
    durations = [
        (r.ended_at - r.started_at).total_seconds()
        for r in store.list_runs(experiment=run.experiment, limit=EARLIER_RUNS)
        if r.id != run.id
        and r.status == RunStatus.FINISHED
        and r.started_at is not None
        and r.ended_at is not None
        and r.created_at <= run.created_at
        and sorted(s.step_name for s in store.step_runs(r.id)) == names
    ]
    return median(durations) if durations else None
