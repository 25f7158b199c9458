"""A run whose every step is reused, recorded whole without a driver.

Such a run starts no step process, so a driver would only decide reuse step by step
and write a transaction per move: about 60 ms of a forked process for three steps. The
local agent's submission child asks ``record_if_reused`` first: it decides each step
with the driver's own decision (``reuse.judge``), in plan order, and if every step is
reused it records the run, each step's reuse and the run's end in one transaction
(``RunStore.record_reused_run``), with the rows and events a driver would have
written, in the driver's order. If any step would run, or deciding fails, nothing is
written and the run is recorded and driven as before: the driver then decides again
and reports whatever went wrong as the step's failure.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from dataferry.catalog import now
from dataferry.catalog.run_store import ReusedStep, RunStore
from dataferry.execution.executors.local import LocalExecutor
from dataferry.execution.plan_model import Plan, PlanNode
from dataferry.execution.reuse import ReuseAdvisor, judge, output_identity
from dataferry.execution.run_layout import run_dir
from dataferry.execution.step_outcome import (
    PREPARING_NOTE,
    reused_values,
    step_details,
)

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace
    from dataferry.execution.submission import RunRequest

# targets whose steps the local executor runs: any other may need a cluster reached
_LOCAL_TARGETS = {None, "", "local"}


def record_if_reused(workspace: Workspace, request: RunRequest) -> bool:
    """Record ``request``'s run as Finished with every step reused, if every step can
    be reused; True if it was recorded, False if nothing was written (a driver is to
    record and decide it).

    The run qualifies when each step reuses an earlier step run (the same decision a
    driver makes), every step runs on the local executor, and the run does not ask to
    delete its intermediate outputs (the driver's job at the end of a run).

    Raises:
        CatalogError: the catalog refused the run's write (its id exists, say).
    """
    reused = _decide_all(workspace, request)
    if reused is None:
        return False
    RunStore(workspace.catalog).record_reused_run(
        request.run_id,
        request.experiment,
        request.plan,
        parameters=request.parameters,
        options=request.options,
        tags=request.tags,
        description=request.description,
        steps=request.steps,
        reused=reused,
        driver_host=socket.gethostname(),
    )
    # the run's folder exists for every recorded run (its logs are looked for there)
    run_dir(workspace, request.run_id).mkdir(parents=True, exist_ok=True)
    return True


def _decide_all(workspace: Workspace, request: RunRequest) -> list[ReusedStep] | None:
    """Each step's reuse, in plan order; None once a step would run (or cannot be
    decided here: the driver decides it again and reports why)."""
    options = request.options
    if options.get("delete_intermediate_outputs"):
        return None
    try:
        # each node is built only when reached: most runs stop at their first step
        stored = Plan.stored_nodes(request.plan, where=f"run {request.run_id}'s plan")
        targets = {stored.field(n, "compute_target") for n in stored.nodes}
        if not targets <= _LOCAL_TARGETS:
            return None
        step_ids = {node_id: step_id for step_id, node_id, _ in request.steps}
        advisor = ReuseAdvisor(
            workspace, RunStore(workspace.catalog), dict(request.parameters)
        )
        advisor.use_stored_plan(stored)
        advisor.rerun_from = options.get("rerun_from")
        forced = set(options.get("rerun_nodes") or [])
        identities: dict[str, str] = {}
        reused: list[ReusedStep] = []
        for stored_node in stored.nodes:
            node = PlanNode.from_json(stored.full(stored_node))
            if any(u not in identities for u in node.upstream):
                return None  # not in dependency order: the scheduler's to order
            since = now()
            fp, decision = judge(
                advisor,
                node,
                {u: identities[u] for u in node.upstream},
                regenerate=bool(options.get("regenerate_outputs")),
                forced=node.node_id in forced,
            )
            if not decision.reuse or decision.reused_from is None:
                return None
            source = decision.reused_from
            details = step_details(
                workspace,
                node,
                LocalExecutor.name,
                notes=(),
                fingerprint=fp.to_details(),
            )
            values, reuse = reused_values(
                node,
                source,
                fingerprint=fp.digest,
                explanation=decision.explanation,
                details=details,
            )
            # a reused step's outputs are its source's: downstream reads those bytes
            identities[node.node_id] = output_identity(fp.digest, source)
            reused.append(
                ReusedStep(step_ids[node.node_id], values, reuse, since, PREPARING_NOTE)
            )
    except Exception:  # the driver decides again and reports it as the step's failure
        return None
    return reused
