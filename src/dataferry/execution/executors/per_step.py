"""One driver, an executor chosen per step: Ray for a step whose compute target is a
Ray cluster, this machine's processes for every other step.

``executor_for_run`` builds it from the run's plan and the workspace's targets, and
checks, before any step starts, that every datastore a Ray step uses is reachable from
the cluster's nodes (a local-folder datastore is not, once the cluster has more than
one node). A run with no Ray step gets the plain ``LocalExecutor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.catalog.compute_store import ComputeStore
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import EventKind
from dataferry.data.compute_ray import RAY_KIND
from dataferry.data.datastore import Datastore
from dataferry.errors import ComputeConfigurationError, DatastoreNotOnComputeError
from dataferry.execution.executors.local import LocalExecutor
from dataferry.execution.executors.ray_executor import RayExecutor
from dataferry.execution.node_spec import NodeResult
from dataferry.execution.plan_inputs import DataPathInput
from dataferry.execution.plan_values import DataPathRef

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from dataferry.data.workspace import Workspace
    from dataferry.execution.executors.base import Executor, PreparedStep
    from dataferry.execution.plan_model import Plan, PlanNode


@dataclass
class RoutedHandle:
    """A running step and the executor that runs it."""

    step_run_id: str
    executor: Executor
    inner: Any

    @property
    def timed_out(self) -> bool:
        """Whether the executor stopped the step at its time limit."""
        return bool(getattr(self.inner, "timed_out", False))

    @property
    def node_result(self) -> NodeResult | None:
        """What the step's runner handed back (a step run on its node), once ended."""
        result = getattr(self.inner, "node_result", None)
        return result if isinstance(result, NodeResult) else None

    @property
    def failure(self) -> Exception | None:
        """Why the step failed when not by its script (a lost or missing node)."""
        failure = getattr(self.inner, "failure", None)
        return failure if isinstance(failure, Exception) else None


class PerStepExecutor:
    """Runs each step on the executor of its compute target (``ray``), else locally."""

    name = "local+ray"

    def __init__(self, ray_targets: dict[str, RayExecutor]) -> None:
        self.local = LocalExecutor()
        self.ray_targets = ray_targets

    def _of(self, step: PreparedStep) -> Executor:
        return self.ray_targets.get(step.compute_target or "", self.local)

    def prepare(self, step: PreparedStep) -> None:
        """The chosen executor's ``prepare``."""
        self._of(step).prepare(step)

    def start(
        self, step: PreparedStep, *, before_run: Callable[[Any], None]
    ) -> RoutedHandle:
        """Start the step on its executor; ``before_run`` gets the routed handle."""
        executor = self._of(step)
        handle = RoutedHandle(step.step_run_id, executor, None)

        def recorded(inner: Any) -> None:
            handle.inner = inner
            before_run(handle)

        handle.inner = executor.start(step, before_run=recorded)
        return handle

    def poll(self, handle: RoutedHandle) -> int | None:
        """See ``Executor.poll``."""
        return handle.executor.poll(handle.inner)

    def cancel(self, handle: RoutedHandle) -> None:
        """See ``Executor.cancel``."""
        handle.executor.cancel(handle.inner)

    def stop(self, handle: RoutedHandle) -> int:
        """See ``Executor.stop``."""
        return handle.executor.stop(handle.inner)

    def exit_fd(self, handle: RoutedHandle) -> int | None:
        """See ``Executor.exit_fd``."""
        return handle.executor.exit_fd(handle.inner)

    def pid(self, handle: RoutedHandle) -> Any:
        """See ``Executor.pid`` (a pid, or ``ray:<task id>``)."""
        return handle.executor.pid(handle.inner)


def executor_for_run(
    workspace: Workspace,
    run_id: str,
    plan: Plan,
    fresh_attempt: Callable[[str], list[str]] | None = None,
) -> Executor:
    """The executor of a run: local, or per step when a step names a Ray target.

    ``fresh_attempt(step_run_id)`` (the driver's) discards what a step's lost attempt
    staged, through storage, and returns the outputs it emptied; it runs before the
    step is submitted again, and the retry's event lists them.

    Raises:
        ComputeUnreachableError: a Ray target's cluster cannot be reached.
        DatastoreNotOnComputeError: a Ray step uses a local-folder datastore and its
            cluster has more than one node.
        ComputeConfigurationError: a step asks for ``step_resources`` and its
            target is not a Ray cluster (a local process takes no resource ask).
        ExtraNotInstalledError: a step names a Ray target and Ray is not installed.
    """
    named = {n.compute_target for n in plan.nodes if n.compute_target}
    if not named:  # no catalog query for a run all local: the common case
        _check_asks(plan, set())
        return LocalExecutor()
    records = {
        r.name: r
        for r in ComputeStore(workspace.catalog).list()
        if r.name in named and r.kind == RAY_KIND
    }
    _check_asks(plan, set(records))
    if not records:
        return LocalExecutor()
    store = RunStore(workspace.catalog)

    def on_lost(step_run_id: str, attempt: int, reason: str) -> None:
        discarded = fresh_attempt(step_run_id) if fresh_attempt is not None else []
        payload = {"attempt": attempt, "reason": reason, "discarded": discarded}
        store.record_event(
            run_id, EventKind.STEP_RETRY, payload, step_run_id=step_run_id
        )

    executors = {
        name: RayExecutor(
            str(r.config["ray_address"]),
            dict(r.config.get("resources") or {}),
            int(r.config.get("lost_node_retries", 0)),
            on_lost,
        )
        for name, r in records.items()
    }
    for name, executor in executors.items():
        shared = records[name].config.get("shared_folders") or []
        check_reachable(workspace, plan, name, executor, shared)
    return PerStepExecutor(executors)


def _check_asks(plan: Plan, ray_targets: set[str]) -> None:
    """Refuse a step's resource ask that its (non-Ray) target would ignore."""
    ignored = [
        f"step '{n.name}' (target '{n.compute_target or 'local'}')"
        for n in plan.nodes
        if n.step_resources and n.compute_target not in ray_targets
    ]
    if ignored:
        raise ComputeConfigurationError(
            f"runconfig.step_resources is only for steps on a Ray compute target; "
            f"{', '.join(ignored)} would run as a local process and ignore it. Give "
            "these steps a Ray target, or remove their step_resources; nothing was run."
        )


def check_reachable(
    workspace: Workspace,
    plan: Plan,
    target: str,
    executor: RayExecutor,
    shared_folders: Iterable[str] = (),
) -> None:
    """Check that the cluster's nodes reach every datastore the target's steps use.

    A local-folder datastore whose root is inside one of the target's
    ``shared_folders`` (seen by every node at the same path) is reachable.

    Raises:
        DatastoreNotOnComputeError: a local-folder datastore outside the shared
            folders is used and the cluster has more than one node.
    """
    shared = [Path(folder).resolve() for folder in shared_folders]
    nodes = [n for n in plan.nodes if n.compute_target == target]
    used = sorted({(n.name, s) for n in nodes for s in _datastores(plan, n)})
    local = [
        (step, store)
        for step, store in used
        if _only_on_driver(workspace, store, shared)
    ]
    if not local:
        return
    count = executor.node_count()
    if count <= 1:
        return  # one node on the driver's machine shares its disk
    listed = ", ".join(f"step '{step}' uses '{store}'" for step, store in local)
    raise DatastoreNotOnComputeError(
        f"compute target '{target}' is a Ray cluster of {count} nodes at "
        f"{executor.address}, and a local-folder datastore is only on the driver's "
        f"machine: {listed}. Use a datastore every node reaches (Azure Blob, ADLS, "
        "S3, or a local folder inside one of the target's shared_folders) for "
        "these steps' data, or run them on a local target; nothing was run."
    )


def _only_on_driver(workspace: Workspace, store: str, shared: list[Path]) -> bool:
    """Whether ``store`` is a local folder outside every shared folder."""
    if workspace.catalog.get_datastore(store).kind != "local":
        return False
    root = Path(Datastore.get(workspace, store).location.root).resolve()
    return not any(root.is_relative_to(folder) for folder in shared)


def _datastores(plan: Plan, node: PlanNode) -> Iterable[str]:
    """The datastore names a step reads from and writes to (a parameter's path is
    known only when the step runs and is not listed)."""
    by_id = {n.node_id: n for n in plan.nodes}
    for out in node.outputs:
        yield out.datastore
    for binding in node.inputs:
        if isinstance(binding, DataPathInput) and isinstance(
            binding.source, DataPathRef
        ):
            yield binding.source.datastore
    for upstream in node.upstream:
        for out in by_id[upstream].outputs:
            yield out.datastore
