"""Read functions over the catalog: runs, steps, outputs, lineage, metrics, statuses.

Every reader of runs (the CLI, ``PipelineRun``/``StepRun``, a web page) reads them
here, so a change to how runs are stored changes one module.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dataferry.catalog import now
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import TERMINAL_RUN, TERMINAL_STEP, StepStatus
from dataferry.execution import run_layout
from dataferry.execution.views.events import watch_events
from dataferry.execution.views.model import (
    TERMINAL,
    LineageView,
    MetricView,
    OutputView,
    RegistrationView,
    RunDetail,
    StepView,
)
from dataferry.execution.views.waiting import wait_until

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Sequence
    from pathlib import Path

    from dataferry.catalog.run_store import RunRecord, StepRunRecord
    from dataferry.data.workspace import Workspace


def _seconds(
    start: datetime | None, end: datetime | None, at: datetime
) -> float | None:
    """Seconds from ``start`` to ``end`` (to ``at`` while still going); None before."""
    if start is None:
        return None
    return max(((end or at) - start).total_seconds(), 0.0)


def _registrations(
    workspace: Workspace, records: Sequence[StepRunRecord]
) -> dict[str, tuple[RegistrationView, ...]]:
    """The dataset versions each step run registered, read from the catalog's versions
    in one query, by step run id."""
    names = {r.id: r.step_name for r in records}
    found: dict[str, list[RegistrationView]] = {r.id: [] for r in records}
    for version in workspace.catalog.versions_by_producers(list(names)):
        producer = version.producer_step_run_id
        assert producer is not None  # asked for by producer
        found[producer].append(
            RegistrationView(
                producer,
                names[producer],
                version.name,
                version.version,
                version.producer_output,
            )
        )
    return {k: tuple(v) for k, v in found.items()}


def _log_dir(workspace: Workspace, rec: StepRunRecord) -> Path | None:
    """The step run's log folder on this machine: in this workspace folder, or an
    ended step's logs fetched from the shared default datastore (``shared_logs``)."""
    if not rec.log_dir:
        return None
    local = run_layout.resolved_path(workspace, rec.log_dir)
    if rec.status not in TERMINAL_STEP:  # complete copies only: the end is stored
        return local
    from dataferry.execution.shared_logs import readable_folder

    ran_in = rec.details.get("ran_in")
    return readable_folder(workspace, local, ran_in=ran_in)


def _driver_log(workspace: Workspace, r: RunRecord) -> Path:
    """The run's driver log on this machine (as ``_log_dir``)."""
    if r.status not in TERMINAL_RUN:
        return run_layout.driver_log(workspace, r.id)
    from dataferry.execution.shared_logs import readable_driver_log

    return readable_driver_log(workspace, r.id)


def step_view(
    workspace: Workspace,
    rec: StepRunRecord,
    at: datetime | None = None,
    *,
    registrations: tuple[RegistrationView, ...] = (),
) -> StepView:
    """The view of one step run record of ``workspace`` (durations count up to
    ``at``, default now; its log folder in this machine's workspace folder), with the
    dataset versions it registered."""
    return StepView(
        id=rec.id,
        run_id=rec.run_id,
        name=rec.step_name,
        node_id=rec.node_id,
        status=rec.status,
        created_at=rec.created_at,
        started_at=rec.started_at,
        ended_at=rec.ended_at,
        duration_s=_seconds(rec.started_at, rec.ended_at, at or now()),
        exit_code=rec.exit_code,
        reused_from=rec.reused_from,
        explanation=rec.explanation,
        error=rec.details.get("error"),
        log_dir=_log_dir(workspace, rec),
        registrations=registrations,
        stage=(
            rec.details.get("stage") if rec.status == StepStatus.PREPARING else None
        ),
        compute_target=str(rec.details.get("compute_target") or "local"),
    )


def run_status(workspace: Workspace, run_id: str) -> str:
    """A run's current status.

    Raises:
        RunNotFoundError: no run has that id.
    """
    return RunStore(workspace.catalog).run_status(run_id)


def driver_gone(workspace: Workspace, run_id: str) -> bool:
    """True if the run has not ended and no driver runs it any more (a ``kill -9``, a
    reboot): only a resume moves it on.

    Raises:
        RunNotFoundError: no run has that id.
    """
    from dataferry.execution.resume import is_orphaned

    return is_orphaned(RunStore(workspace.catalog).get_run(run_id), workspace)


def run_detail(workspace: Workspace, run_id: str) -> RunDetail:
    """A run with its settings and its steps in run order (``in_run_order``).

    Raises:
        RunNotFoundError: no run has that id.
    """
    store = RunStore(workspace.catalog)
    record = store.get_run(run_id)  # read first: the steps read after are newer
    at = now()
    records = store.step_runs(run_id)
    registered = _registrations(workspace, records)
    steps = [
        step_view(workspace, s, at, registrations=registered[s.id]) for s in records
    ]
    return _detail(workspace, record, in_run_order(record.definition, steps), at)


def in_run_order(
    definition: Mapping[str, Any], steps: Sequence[StepView]
) -> tuple[StepView, ...]:
    """The steps in the order they run: by depth in the plan's graph (a step after
    every step it reads from), then by start time (not started last), then by name."""
    upstream = {
        str(node.get("node_id")): [str(u) for u in node.get("upstream") or ()]
        for node in definition.get("nodes") or ()
        if isinstance(node, Mapping)
    }
    depth: dict[str, int] = {}

    def depth_of(node_id: str, seen: frozenset[str] = frozenset()) -> int:
        if node_id not in depth:
            # a cycle cannot be stored, but a catalog edited by hand must not loop
            ups = [u for u in upstream.get(node_id, ()) if u not in seen]
            inner = seen | {node_id}
            depth[node_id] = 1 + max((depth_of(u, inner) for u in ups), default=-1)
        return depth[node_id]

    never = datetime.max.replace(tzinfo=UTC)
    return tuple(
        sorted(
            steps,
            key=lambda s: (
                depth_of(s.node_id),
                _aware(s.started_at) or never,
                s.name,
            ),
        )
    )


def _aware(stamp: datetime | None) -> datetime | None:
    """Stored times are UTC; one read without a zone compares as UTC."""
    if stamp is None or stamp.tzinfo is not None:
        return stamp
    return stamp.replace(tzinfo=UTC)


def _detail(
    workspace: Workspace, r: RunRecord, steps: tuple[StepView, ...], at: datetime
) -> RunDetail:
    return RunDetail(
        id=r.id,
        experiment=r.experiment,
        status=r.status,
        description=r.description,
        created_at=r.created_at,
        started_at=r.started_at,
        ended_at=r.ended_at,
        duration_s=_seconds(r.started_at, r.ended_at, at),
        driver_host=r.driver_host,
        driver_pid=r.driver_pid,
        error=r.error,
        parameters=dict(r.parameters),
        options=dict(r.options),
        tags=dict(r.tags),
        log_dir=run_layout.run_dir(workspace, r.id),
        driver_log=_driver_log(workspace, r),
        steps=steps,
    )


def get_step(workspace: Workspace, step_run_id: str) -> StepView:
    """One step run.

    Raises:
        RunNotFoundError: no step run has that id.
    """
    record = RunStore(workspace.catalog).get_step_run(step_run_id)
    return step_view(
        workspace, record, registrations=_registrations(workspace, [record])[record.id]
    )


def outputs(workspace: Workspace, steps: Iterable[StepView]) -> list[OutputView]:
    """The committed outputs each step shows (a reused step: those it reused), in order."""
    store = RunStore(workspace.catalog)
    return [
        OutputView(
            step_run_id=step.id,
            producer_id=out.step_run_id,
            step_name=step.name,
            name=out.name,
            datastore=out.datastore,
            path=out.path,
            mode=out.mode,
            size_bytes=out.size_bytes,
            file_count=out.file_count,
            committed_at=out.committed_at,
            deleted_at=out.deleted_at,
        )
        for step in steps
        for out in store.outputs_of(step.source_id)
    ]


def lineage(workspace: Workspace, step: StepView) -> list[LineageView]:
    """What the step (a reused step: the step run it reused) read and wrote."""
    return [
        LineageView(
            step_run_id=row["step_run_id"],
            role=row["role"],
            name=row["name"],
            dataset_id=row.get("dataset_id"),
            datastore=row.get("datastore"),
            path=row.get("path"),
        )
        for row in RunStore(workspace.catalog).lineage_of(step.source_id)
    ]


def registrations(steps: Iterable[StepView]) -> list[RegistrationView]:
    """The dataset versions the steps registered, step by step."""
    return [reg for step in steps for reg in step.registrations]


def metrics(workspace: Workspace, run_ids: Sequence[str]) -> list[MetricView]:
    """Every metric value logged by the given runs or step runs, in logging order."""
    return [
        MetricView(
            m.run_id, m.name, m.kind, m.value, m.step, m.description, m.created_at
        )
        for m in RunStore(workspace.catalog).metrics_of(run_ids)
    ]


def wait_for_status(
    workspace: Workspace,
    run_id: str,
    statuses: Collection[str] = TERMINAL,
    *,
    timeout_s: float | None = None,
    poll_s: float = 0.1,
    on_poll: Callable[[str], None] | None = None,
) -> str:
    """Wait until the run's status is one of ``statuses``; return the status last read
    (another one if ``timeout_s`` passed first).

    On PostgreSQL it blocks until the run's events are pushed (every status change
    is one); on SQLite it polls every ``poll_s`` at most.

    Raises:
        RunNotFoundError: no run has that id.
        WaitArgumentError: ``timeout_s`` is negative or ``poll_s`` is not positive.
        CatalogUnavailableError: the database server cannot be reached.
    """
    with watch_events(workspace, [run_id]) as news:
        return wait_until(
            lambda: run_status(workspace, run_id),
            lambda status: status in statuses,
            timeout_s=timeout_s,
            poll_s=poll_s,
            on_poll=on_poll,
            news=news,
        )
