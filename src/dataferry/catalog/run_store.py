"""Runs, step runs, committed outputs, leases and metrics in the catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, Select, and_, bindparam, func, select, update

from dataferry.catalog import metric_events, pending_commits, run_events, step_commit
from dataferry.catalog.bulk_insert import insert_many
from dataferry.catalog.db_guard import guard_public
from dataferry.catalog.locks import insert_new, lock
from dataferry.catalog.schema import (
    events,
    experiments,
    leases,
    lineage,
    metrics,
    outputs,
    runs,
    step_runs,
)
from dataferry.catalog.sql_catalog import now
from dataferry.catalog.status import TERMINAL, EventKind, RunStatus, StepStatus
from dataferry.errors import (
    EventCursorError,
    OutputLocationBusyError,
    RunNotFoundError,
    StatusTransitionError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from sqlalchemy import Connection

    from dataferry.catalog.records import DatasetVersionRecord
    from dataferry.catalog.run_events import EventRecord
    from dataferry.catalog.sql_catalog import SqlCatalog
    from dataferry.catalog.step_commit import StepCommit


@dataclass(frozen=True, slots=True)
class ReusedStep:
    """A step run recorded as reused (``RunStore.record_reused_run``): the columns
    its move to Finished sets, its reuse event's payload, and when it began preparing
    (its Preparing event's time, with ``preparing_note``)."""

    step_run_id: str
    values: Mapping[str, Any]
    reuse: Mapping[str, Any]
    preparing_since: datetime
    preparing_note: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A pipeline run."""

    id: str
    experiment: str
    status: str
    definition: Mapping[str, Any]
    parameters: Mapping[str, Any]
    options: Mapping[str, Any]
    tags: Mapping[str, str]
    description: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    heartbeat_at: datetime | None
    driver_host: str | None
    driver_pid: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class StepRunRecord:
    """One execution (or reuse) of a step in a pipeline run."""

    id: str
    run_id: str
    step_name: str
    node_id: str
    status: str
    fingerprint: str | None
    reused_from: str | None
    explanation: str | None
    details: Mapping[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    log_dir: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """A committed output: its bytes are whole at (datastore, path)."""

    step_run_id: str
    name: str
    datastore: str
    path: str
    mode: str
    size_bytes: int | None
    file_count: int | None
    committed_at: datetime
    deleted_at: datetime | None
    # {path below the output: [size, mtime_ns, inode, etag]}; None for older rows
    signatures: Mapping[str, Any] | None = None
    damage: str | None = None  # set when its bytes were found changed after commit


def committed_outputs(commit: StepCommit) -> list[OutputRecord]:
    """The output rows ``commit`` records, as ``outputs_of`` reads them back once it
    is recorded: a driver keeps them for the downstream steps instead of reading."""
    records = []
    for out in commit.outputs:
        given: dict[str, Any] = {k: out.get(k) for k in _ROW_FIELDS}
        records.append(
            OutputRecord(
                step_run_id=commit.step_run_id,
                committed_at=commit.committed_at,
                deleted_at=None,
                **given,
            )
        )
    return records


# what an output row given to a commit holds (the rest is the commit's)
_ROW_FIELDS = (
    "name",
    "datastore",
    "path",
    "mode",
    "size_bytes",
    "file_count",
    "signatures",
)


@dataclass(frozen=True, slots=True)
class RunOutputRecord:
    """A live committed output with the run that made it (what gc weighs)."""

    output: OutputRecord
    run_id: str
    step_name: str
    run_status: str
    run_ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class ReuseReference:
    """A step run that reused another's outputs, and the state of its run."""

    reused_from: str
    run_id: str
    run_status: str
    run_ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """A writer's claim on an output location."""

    datastore: str
    path: str
    step_run_id: str
    run_id: str
    acquired_at: datetime


@dataclass(frozen=True, slots=True)
class MetricRecord:
    """One logged metric value."""

    run_id: str
    name: str
    kind: str
    value: Any
    step: int | None
    description: str | None
    created_at: datetime


# ids per ``IN (...)`` list: under SQLite's oldest limit of bound values (999)
_IN_CHUNK = 500


def _originals() -> Select[Any]:
    """``reuse_candidates``' first read: the step runs that wrote the outputs of the
    successful step runs of fingerprint ``:fingerprint`` (a reused one counts by the
    step run it reused), newest use first."""
    source = func.coalesce(step_runs.c.reused_from, step_runs.c.id)
    used = (
        select(source.label("source"), func.max(step_runs.c.ended_at).label("last"))
        .where(
            and_(
                step_runs.c.fingerprint == bindparam("fingerprint"),
                step_runs.c.status == str(StepStatus.FINISHED),
            )
        )
        .group_by(source)
        .subquery()
    )
    return (
        select(step_runs)
        .join(used, used.c.source == step_runs.c.id)
        .order_by(used.c.last.desc(), step_runs.c.id)
    )


# Built once, as run_events' transitions are: the reuse decision of every step reads
# them, and building them (and their cache keys) cost more than running them.
_ORIGINALS = _originals()
_OUTPUTS_OF = (
    select(outputs)
    .where(outputs.c.step_run_id.in_(bindparam("ids", expanding=True)))
    .order_by(outputs.c.id)
)
_LIVE_ON = select(outputs).where(
    and_(outputs.c.datastore == bindparam("datastore"), outputs.c.deleted_at.is_(None))
)
_DAMAGED_ON = _LIVE_ON.where(outputs.c.damage.is_not(None))
_LATEST_FINISHED = (
    select(step_runs)
    .where(
        and_(
            step_runs.c.step_name == bindparam("step_name"),
            step_runs.c.status == str(StepStatus.FINISHED),
            step_runs.c.fingerprint.is_not(None),
        )
    )
    .order_by(step_runs.c.ended_at.desc())
    .limit(1)
)
_LEASES_ON = select(leases).where(leases.c.datastore == bindparam("datastore"))
_LEASE_INSERT = leases.insert()


def _candidates(
    conn: Connection, fingerprint: str
) -> list[tuple[StepRunRecord, list[OutputRecord]]]:
    """``RunStore.reuse_candidates`` inside an open read."""
    rows = conn.execute(_ORIGINALS, {"fingerprint": fingerprint}).all()
    ids = [r.id for r in rows]
    found: dict[str, list[OutputRecord]] = {i: [] for i in ids}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        for r in conn.execute(_OUTPUTS_OF, {"ids": chunk}):
            found[r.step_run_id].append(
                OutputRecord(**_fields(OutputRecord, r._mapping))
            )
    return [
        (StepRunRecord(**_fields(StepRunRecord, r._mapping)), found[r.id]) for r in rows
    ]


def _fields(cls: type, row: RowMapping) -> dict[str, Any]:
    return {k: row[k] for k in cls.__dataclass_fields__}  # type: ignore[attr-defined]


def _no_status(values: Mapping[str, Any], use: str) -> None:
    """Refuse a status in a plain column update: every status change is a checked
    transition with an event."""
    if "status" in values:
        raise TypeError(f"a status is set with RunStore.{use}, not as a column value")


def _overlaps(a: str, b: str) -> bool:
    """True if two datastore paths are the same or one lies inside the other."""
    a, b = a.strip("/"), b.strip("/")
    return a == b or not a or not b or a.startswith(b + "/") or b.startswith(a + "/")


@guard_public
class RunStore:
    """The run-related half of the catalog; shares the ``SqlCatalog``'s engine.

    Every public method raises a ``CatalogError`` naming it when the database fails
    it (after retrying the transient failures).
    """

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog

    # -- runs -------------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        experiment: str,
        definition: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any],
        options: Mapping[str, Any],
        tags: Mapping[str, str] | None,
        description: str | None,
        steps: Sequence[tuple[str, str, str]],
        driver_host: str | None = None,
    ) -> None:
        """Insert a run and its step runs ``(step_run_id, node_id, name)`` in one transaction.

        ``driver_host`` is the host its driver is about to be started on.
        """
        with self.catalog.write() as conn:
            _insert_run(
                conn,
                run_id,
                experiment,
                definition,
                parameters=parameters,
                options=options,
                tags=tags,
                description=description,
                steps=steps,
                driver_host=driver_host,
            )

    def record_reused_run(
        self,
        run_id: str,
        experiment: str,
        definition: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any],
        options: Mapping[str, Any],
        tags: Mapping[str, str] | None,
        description: str | None,
        steps: Sequence[tuple[str, str, str]],
        reused: Sequence[ReusedStep],
        driver_host: str | None = None,
    ) -> None:
        """Record a whole run whose every step is reused, in one transaction: the
        rows and events ``create_run`` writes, the run's move to Running, each step's
        moves (Preparing, its reuse event, Finished, in ``reused`` order) and the run's
        move to Finished: the events a driver writes for such a run, in its order.

        Raises:
            StatusTransitionError: a step run of ``reused`` is not one of ``steps``.
            CatalogError: the catalog refused the write (the run id exists, say);
                nothing is written.
        """
        with self.catalog.write() as conn:
            _insert_run(
                conn,
                run_id,
                experiment,
                definition,
                parameters=parameters,
                options=options,
                tags=tags,
                description=description,
                steps=steps,
                driver_host=driver_host,
            )
            begun = now()
            run_events.move_run(
                conn, run_id, RunStatus.RUNNING, started_at=begun, heartbeat_at=begun
            )
            for step in reused:
                run_events.move_step(
                    conn,
                    step.step_run_id,
                    StepStatus.FINISHED,
                    first=[(EventKind.REUSE, step.reuse)],
                    via=run_events.PassedThrough(
                        StepStatus.PREPARING, step.preparing_since, step.preparing_note
                    ),
                    **step.values,
                )
            ended = now()
            run_events.move_run(
                conn, run_id, RunStatus.FINISHED, ended_at=ended, heartbeat_at=ended
            )

    def get_run(self, run_id: str) -> RunRecord:
        """One run.

        Raises:
            RunNotFoundError: no run has that id.
        """
        with self.catalog.read() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
        if row is None:
            raise RunNotFoundError(
                f"no run with id '{run_id}' in this workspace; list them with `dataferry runs list`"
            )
        return RunRecord(**_fields(RunRecord, row._mapping))

    def run_status(self, run_id: str) -> str:
        """One run's status, read without its plan (which a big pipeline makes large).

        Raises:
            RunNotFoundError: no run has that id.
        """
        with self.catalog.read() as conn:
            status = conn.execute(
                select(runs.c.status).where(runs.c.id == run_id)
            ).scalar()
        if status is None:
            raise RunNotFoundError(
                f"no run with id '{run_id}' in this workspace; list them with `dataferry runs list`"
            )
        return str(status)

    def list_runs(
        self, *, experiment: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """The newest runs first."""
        query = select(runs).order_by(runs.c.created_at.desc()).limit(limit)
        if experiment:
            query = query.where(runs.c.experiment == experiment)
        with self.catalog.read() as conn:
            rows = conn.execute(query).all()
        return [RunRecord(**_fields(RunRecord, r._mapping)) for r in rows]

    def run_ids(
        self, prefix: str = "", *, experiment: str | None = None, limit: int = 50
    ) -> list[str]:
        """The ids starting with ``prefix`` (of one experiment, if named), newest
        first, at most ``limit``: run references and shell completion read these."""
        query = (
            select(runs.c.id)
            .where(runs.c.id.startswith(prefix, autoescape=True))
            .order_by(runs.c.created_at.desc(), runs.c.id.desc())
            .limit(limit)
        )
        if experiment is not None:
            query = query.where(runs.c.experiment == experiment)
        with self.catalog.read() as conn:
            return [str(i) for i in conn.execute(query).scalars()]

    def update_run(self, run_id: str, **values: Any) -> None:
        """Set columns of a run other than its status (started_at, heartbeat_at,
        driver_pid, error...); a status changes through ``move_run``.

        Raises:
            TypeError: ``values`` holds ``status``.
        """
        _no_status(values, "move_run")
        with self.catalog.write() as conn:
            conn.execute(update(runs).where(runs.c.id == run_id).values(**values))

    def claim_run(
        self, run_id: str, *, seen_heartbeat: datetime | None, **values: Any
    ) -> bool:
        """Set columns of a run only if its heartbeat is still ``seen_heartbeat``; True if set.

        Two processes resuming the same orphaned run both read the old heartbeat; only
        the first one's claim (which writes a new heartbeat) succeeds.
        """
        beat = (
            runs.c.heartbeat_at.is_(None)
            if seen_heartbeat is None
            else runs.c.heartbeat_at == seen_heartbeat
        )
        with self.catalog.write() as conn:
            result = conn.execute(
                update(runs).where(and_(runs.c.id == run_id, beat)).values(**values)
            )
        return bool(result.rowcount)

    def move_run(
        self, run_id: str, to: RunStatus, *, strict: bool = True, **values: Any
    ) -> bool:
        """Move a run to status ``to`` (setting ``values`` too), with its event, in one
        transaction; True if it moved.

        With ``strict=False`` a move the run's status does not allow is a no-op that
        returns False (a cancel of a run that has ended, a start of a run already
        running after resume).

        Raises:
            RunNotFoundError: no run has that id.
            StatusTransitionError: ``strict`` and the move is not allowed.
        """
        try:
            with self.catalog.write() as conn:
                run_events.move_run(conn, run_id, to, **values)
        except StatusTransitionError:
            if strict:
                raise
            return False
        return True

    # -- step runs --------------------------------------------------------------------

    def step_runs(self, run_id: str) -> list[StepRunRecord]:
        """The step runs of one run, in creation order."""
        with self.catalog.read() as conn:
            rows = conn.execute(
                select(step_runs)
                .where(step_runs.c.run_id == run_id)
                .order_by(step_runs.c.created_at, step_runs.c.id)
            ).all()
        return [StepRunRecord(**_fields(StepRunRecord, r._mapping)) for r in rows]

    def get_step_run(self, step_run_id: str) -> StepRunRecord:
        """One step run.

        Raises:
            RunNotFoundError: no step run has that id.
        """
        with self.catalog.read() as conn:
            row = conn.execute(
                select(step_runs).where(step_runs.c.id == step_run_id)
            ).first()
        if row is None:
            raise RunNotFoundError(
                f"no step run with id '{step_run_id}' in this workspace"
            )
        return StepRunRecord(**_fields(StepRunRecord, row._mapping))

    def update_step_run(
        self, step_run_id: str, *, event: Mapping[str, Any] | None = None, **values: Any
    ) -> None:
        """Set columns of a step run other than its status (a status changes through
        ``move_step``); ``event`` is appended as a reuse event in the same transaction.

        Raises:
            TypeError: ``values`` holds ``status``.
        """
        _no_status(values, "move_step")
        with self.catalog.write() as conn:
            if event is not None:
                self._step_event(conn, step_run_id, EventKind.REUSE, event)
            conn.execute(
                update(step_runs).where(step_runs.c.id == step_run_id).values(**values)
            )

    def move_step(
        self,
        step_run_id: str,
        to: StepStatus,
        *,
        note: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        inputs: Sequence[Mapping[str, Any]] = (),
        reuse: Mapping[str, Any] | None = None,
        preparing_since: datetime | None = None,
        preparing_note: Mapping[str, Any] | None = None,
        commits: Sequence[Mapping[str, Any]] = (),
        forget_commits: bool = False,
        **values: Any,
    ) -> None:
        """Move a step run to ``to`` (setting ``values``), with its event, in one
        transaction.

        ``note`` goes into the event (what a Preparing step does), and ``at`` is its
        time if the move happened earlier than now. ``inputs`` are lineage rows of what
        the step reads (each with the same keys: role, name, mode, value, dataset_id,
        datastore, path), recorded as it starts; ``reuse`` a reuse event appended
        before the move's. ``preparing_since``: the step began preparing then and its
        row does not say so yet: its move to Preparing (``started_at``, its event of
        that time, with ``preparing_note``) goes first, in the same transaction (a step
        that prepares in milliseconds takes one transaction to begin, not two).
        ``commits``: records of the output commits its driver may leave half done
        (``pending_commits.rows``), written with a move to Running; ``forget_commits``
        deletes the step's records, with a move that ends it (no transaction of
        their own: issue 8 counts them).

        Raises:
            RunNotFoundError: no step run has that id.
            StatusTransitionError: ``to`` is not allowed from the step's status.
        """
        via = None
        if preparing_since is not None:
            via = run_events.PassedThrough(
                StepStatus.PREPARING, preparing_since, preparing_note
            )
            values = {"started_at": preparing_since, **values}
        with self.catalog.write() as conn:
            if inputs:
                conn.execute(
                    lineage.insert(),  # one executemany; every row has the same keys
                    [{**row, "step_run_id": step_run_id} for row in inputs],
                )
            pending_commits.record_in(conn, commits)
            if forget_commits:
                pending_commits.forget_in(conn, step_run_id)
            run_events.move_step(
                conn,
                step_run_id,
                to,
                note=note,
                at=at,
                first=[] if reuse is None else [(EventKind.REUSE, reuse)],
                via=via,
                **values,
            )

    def move_steps(
        self, to: StepStatus, moves: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> None:
        """Move many step runs to ``to`` in one transaction: per (step run id, column
        values) the same row changes and event as ``move_step`` (see
        ``run_events.move_steps``).

        Raises:
            RunNotFoundError: an id names no step run (nothing is written).
            StatusTransitionError: ``to`` is not allowed from a step's status.
        """
        with self.catalog.write() as conn:
            run_events.move_steps(conn, to, moves)

    def restart_step(self, step_run_id: str, explanation: str) -> None:
        """Put a step run its dead driver had begun back to NotStarted: its leases,
        its commits on record and the inputs it recorded are dropped, in one
        transaction with the move. A step still NotStarted (its driver died before
        recording the start) is only cleaned.

        Raises:
            StatusTransitionError: the step run has ended (a Finished step is kept).
        """
        with self.catalog.write() as conn:
            conn.execute(leases.delete().where(leases.c.step_run_id == step_run_id))
            conn.execute(lineage.delete().where(lineage.c.step_run_id == step_run_id))
            # the resume settled what its commit left (discard_step) and stages anew
            pending_commits.forget_in(conn, step_run_id)
            reset: dict[str, Any] = {
                "started_at": None,
                "ended_at": None,
                "exit_code": None,
                "details": {},
                "explanation": explanation,
            }
            status = conn.execute(
                select(step_runs.c.status).where(step_runs.c.id == step_run_id)
            ).scalar()
            if status == StepStatus.NOT_STARTED:  # begun, but never recorded as such
                conn.execute(
                    update(step_runs)
                    .where(step_runs.c.id == step_run_id)
                    .values(**reset)
                )
                return
            run_events.move_step(conn, step_run_id, StepStatus.NOT_STARTED, **reset)

    def commit_step(self, commit: StepCommit) -> list[DatasetVersionRecord]:
        """Record a finished step (outputs, lineage, registrations, lease release,
        Finished, events) in one transaction; see ``catalog.step_commit``.

        Raises:
            StatusTransitionError: the step run is not Running; nothing is recorded.
            CatalogError: the catalog stayed busy.
        """
        return step_commit.commit_step(self.catalog, commit)

    def record_event(
        self,
        run_id: str,
        kind: EventKind,
        payload: Mapping[str, Any],
        *,
        step_run_id: str | None = None,
    ) -> None:
        """Append one event that changes no status (a preparation stage, ...)."""
        with self.catalog.write() as conn:
            run_events.append_event(
                conn, run_id, kind, payload, step_run_id=step_run_id
            )

    def events_since(
        self, run_id: str, after_id: int = 0, *, limit: int = 1000
    ) -> list[EventRecord]:
        """The run's events with an id above ``after_id``, oldest first.

        Raises:
            RunNotFoundError: no run has that id.
            EventCursorError: ``after_id`` is not an integer >= 0, or ``limit`` < 1.
        """
        if isinstance(after_id, bool) or not isinstance(after_id, int) or after_id < 0:
            raise EventCursorError(
                f"run {run_id}: events after id {after_id!r}: pass 0 or the id of the "
                "last event read."
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise EventCursorError(
                f"run {run_id}: limit {limit!r}: pass an integer >= 1."
            )
        with self.catalog.read() as conn:
            if (
                conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first()
                is None
            ):
                raise RunNotFoundError(
                    f"no run with id '{run_id}' in this workspace; list them with "
                    "`dataferry runs list`"
                )
            return run_events.events_of(conn, run_id, after_id, limit)

    def events_of_all_runs(
        self, after_id: int = 0, *, limit: int = 1000
    ) -> list[EventRecord]:
        """Every run's events with an id above ``after_id``, oldest first (a feed).

        Raises:
            EventCursorError: ``after_id`` is not an integer >= 0, or ``limit`` < 1.
        """
        if isinstance(after_id, bool) or not isinstance(after_id, int) or after_id < 0:
            raise EventCursorError(
                f"events after id {after_id!r}: pass 0 or the id of the last event read."
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise EventCursorError(f"limit {limit!r}: pass an integer >= 1.")
        with self.catalog.read() as conn:
            return run_events.events_of(conn, None, after_id, limit)

    def last_event_id(self, run_id: str) -> int:
        """The id of the run's newest event (0 if it has none)."""
        with self.catalog.read() as conn:
            found = conn.execute(
                select(events.c.id)
                .where(events.c.run_id == run_id)
                .order_by(events.c.id.desc())
                .limit(1)
            ).scalar()
        return int(found or 0)

    @staticmethod
    def _step_event(
        conn: Any, step_run_id: str, kind: EventKind, payload: Mapping[str, Any]
    ) -> None:
        run_id = conn.execute(
            select(step_runs.c.run_id).where(step_runs.c.id == step_run_id)
        ).scalar()
        if run_id is None:
            raise RunNotFoundError(
                f"no step run with id '{step_run_id}' in this workspace"
            )
        run_events.append_event(conn, run_id, kind, payload, step_run_id=step_run_id)

    def reuse_candidates(
        self, fingerprint: str
    ) -> list[tuple[StepRunRecord, list[OutputRecord]]]:
        """The step runs that wrote the outputs of the successful step runs with this
        fingerprint (a reused one counts by the step run it reused), each once, newest
        use first, each with its committed outputs: one read (a step run per candidate
        and its outputs were a read each, growing with every reused run)."""
        with self.catalog.read() as conn:
            return _candidates(conn, fingerprint)

    def reuse_lookup(
        self, fingerprint: str, step_name: str
    ) -> tuple[list[tuple[StepRunRecord, list[OutputRecord]]], StepRunRecord | None]:
        """``reuse_candidates(fingerprint)`` and, only when there is none, the newest
        successful run of a step named ``step_name`` (None if none), which explains
        what changed: one read where a step that runs cold took two."""
        with self.catalog.read() as conn:
            found = _candidates(conn, fingerprint)
            if found:
                return found, None
            rows = conn.execute(_LATEST_FINISHED, {"step_name": step_name}).all()
        latest = rows[0] if rows else None
        return [], (
            StepRunRecord(**_fields(StepRunRecord, latest._mapping)) if latest else None
        )

    # -- outputs and leases -----------------------------------------------------------

    def acquire_lease(
        self, datastore: str, path: str, *, step_run_id: str, run_id: str
    ) -> None:
        """Claim an output location, and everything below it, for one writer.

        A location overlaps another when one is the other or lies inside it. A lease
        held by a run that has ended is stale and taken over.

        Raises:
            OutputLocationBusyError: another live run's step holds an overlapping
                location (the message names it).
        """
        with self.catalog.write() as conn:
            # PostgreSQL: without it two runs both read "no overlapping lease" and
            # both insert one (SQLite's write transaction serialises them already)
            lock(conn, "leases", datastore)
            held = conn.execute(_LEASES_ON, {"datastore": datastore}).all()
            for row in held:
                holder = row._mapping
                if not _overlaps(holder["path"], path):
                    continue
                if holder["step_run_id"] == step_run_id:
                    if holder["path"] == path:
                        return
                    continue
                run = conn.execute(
                    select(runs.c.status, runs.c.experiment).where(
                        runs.c.id == holder["run_id"]
                    )
                ).first()
                if run is not None and run.status not in TERMINAL:
                    step = conn.execute(
                        select(step_runs.c.step_name).where(
                            step_runs.c.id == holder["step_run_id"]
                        )
                    ).scalar()
                    where = (
                        f"output location {datastore}:/{path}"
                        if holder["path"] == path
                        else f"output location {datastore}:/{path} overlaps "
                        f"{datastore}:/{holder['path']}, which"
                    )
                    raise OutputLocationBusyError(
                        f"{where} is being written by step "
                        f"'{step}' (step run {holder['step_run_id']}) of run {holder['run_id']} "
                        f"in experiment '{run.experiment}'; wait for it to finish, or add "
                        "{run-id} to the destination so runs write to different places."
                    )
                conn.execute(
                    leases.delete().where(
                        and_(
                            leases.c.datastore == datastore,
                            leases.c.path == holder["path"],
                        )
                    )
                )
            conn.execute(
                _LEASE_INSERT,
                {
                    "datastore": datastore,
                    "path": path,
                    "step_run_id": step_run_id,
                    "run_id": run_id,
                    "acquired_at": now(),
                },
            )

    def release_leases(self, step_run_id: str) -> None:
        """Drop every lease a step run holds."""
        with self.catalog.write() as conn:
            conn.execute(leases.delete().where(leases.c.step_run_id == step_run_id))

    def leases_of_run(self, run_id: str) -> list[LeaseRecord]:
        """The leases a run's steps hold."""
        with self.catalog.read() as conn:
            rows = conn.execute(select(leases).where(leases.c.run_id == run_id)).all()
        return [LeaseRecord(**_fields(LeaseRecord, r._mapping)) for r in rows]

    def mark_output_deleted(self, step_run_id: str, name: str) -> None:
        """Record that an output's bytes are gone, so reuse does not count on them."""
        with self.catalog.write() as conn:
            conn.execute(
                update(outputs)
                .where(
                    and_(
                        outputs.c.step_run_id == step_run_id,
                        outputs.c.name == name,
                        outputs.c.deleted_at.is_(None),
                    )
                )
                .values(deleted_at=now())
            )

    def mark_output_damaged(self, step_run_id: str, name: str, damage: str) -> None:
        """Record that an output's bytes no longer match what was committed.

        Nothing reuses a damaged output, and a dataset that reads it refuses to (the
        bytes stay until it is deleted or rewritten, for inspection).
        """
        with self.catalog.write() as conn:
            conn.execute(
                update(outputs)
                .where(
                    and_(
                        outputs.c.step_run_id == step_run_id,
                        outputs.c.name == name,
                        outputs.c.damage.is_(None),
                    )
                )
                .values(damage=damage)
            )

    def live_outputs(self, datastore: str) -> list[OutputRecord]:
        """The committed outputs on ``datastore`` that are not deleted."""
        return self._outputs(_LIVE_ON, {"datastore": datastore})

    def damaged_outputs(self, datastore: str) -> list[OutputRecord]:
        """The outputs on ``datastore`` found changed after commit and still there."""
        return self._outputs(_DAMAGED_ON, {"datastore": datastore})

    def outputs_of(self, step_run_id: str) -> list[OutputRecord]:
        """The committed outputs of a step run."""
        return self._outputs(_OUTPUTS_OF, {"ids": [step_run_id]})

    def outputs_of_many(self, step_run_ids: Sequence[str]) -> list[OutputRecord]:
        """The committed outputs of many step runs (a run's graph), a read per 500."""
        ids = list(dict.fromkeys(step_run_ids))
        found: list[OutputRecord] = []
        for i in range(0, len(ids), 500):  # SQLite caps a statement's parameters
            found += self._outputs(_OUTPUTS_OF, {"ids": ids[i : i + 500]})
        return found

    def _outputs(
        self, query: Select[Any], params: dict[str, Any]
    ) -> list[OutputRecord]:
        """The rows of one of the prebuilt reads of ``outputs``."""
        with self.catalog.read() as conn:
            rows = conn.execute(query, params).all()
        return [OutputRecord(**_fields(OutputRecord, r._mapping)) for r in rows]

    def live_outputs_and_reuse(
        self,
    ) -> tuple[list[RunOutputRecord], list[ReuseReference]]:
        """Every output not marked deleted, with its run's status, in commit order; and
        every step run that reused another's outputs. One read, so the two agree."""
        live = (
            select(outputs, step_runs.c.run_id, step_runs.c.step_name, runs.c.status)
            .add_columns(runs.c.ended_at.label("run_ended_at"))
            .join(step_runs, step_runs.c.id == outputs.c.step_run_id)
            .join(runs, runs.c.id == step_runs.c.run_id)
            .where(outputs.c.deleted_at.is_(None))
            .order_by(outputs.c.id)
        )
        reusing = (
            select(
                step_runs.c.reused_from,
                step_runs.c.run_id,
                runs.c.status,
                runs.c.ended_at,
            )
            .join(runs, runs.c.id == step_runs.c.run_id)
            .where(step_runs.c.reused_from.is_not(None))
        )
        with self.catalog.read() as conn:
            rows = conn.execute(live).all()
            reuse = conn.execute(reusing).all()
        records = [
            RunOutputRecord(
                OutputRecord(**_fields(OutputRecord, r._mapping)),
                r.run_id,
                r.step_name,
                r.status,
                r.run_ended_at,
            )
            for r in rows
        ]
        return records, [ReuseReference(*r) for r in reuse]

    def lineage_of(self, step_run_id: str) -> list[dict[str, Any]]:
        """What a step run read and wrote."""
        with self.catalog.read() as conn:
            rows = conn.execute(
                select(lineage)
                .where(lineage.c.step_run_id == step_run_id)
                .order_by(lineage.c.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    # -- metrics ----------------------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        name: str,
        kind: str,
        value: Any,
        *,
        step: int | None = None,
        description: str | None = None,
    ) -> None:
        """Append one metric value (and, coalesced, a ``metrics`` event)."""
        with self.catalog.write() as conn:
            conn.execute(
                metrics.insert().values(
                    run_id=run_id,
                    name=name,
                    kind=kind,
                    value=value,
                    step=step,
                    description=description or None,
                    created_at=now(),
                )
            )
            metric_events.announce(conn, run_id, name)

    def metrics_of(self, run_ids: Sequence[str]) -> list[MetricRecord]:
        """Every metric value of the given runs, in logging order."""
        with self.catalog.read() as conn:
            rows = conn.execute(
                select(metrics)
                .where(metrics.c.run_id.in_(list(run_ids)))
                .order_by(metrics.c.id)
            ).all()
        return [MetricRecord(**_fields(MetricRecord, r._mapping)) for r in rows]


def _insert_run(
    conn: Connection,
    run_id: str,
    experiment: str,
    definition: Mapping[str, Any],
    *,
    parameters: Mapping[str, Any],
    options: Mapping[str, Any],
    tags: Mapping[str, str] | None,
    description: str | None,
    steps: Sequence[tuple[str, str, str]],
    driver_host: str | None,
) -> None:
    """The rows and the event of a new run and its step runs, all ``NotStarted``."""
    stamp = now()
    # atomic: two first submits to a new experiment create it once
    new = {"name": experiment, "created_at": stamp}
    insert_new(conn, experiments, new, ["name"])
    conn.execute(
        runs.insert().values(
            id=run_id,
            experiment=experiment,
            status=str(RunStatus.NOT_STARTED),
            definition=dict(definition),
            parameters=dict(parameters),
            options=dict(options),
            tags=dict(tags or {}),
            description=description,
            created_at=stamp,
            driver_host=driver_host,
        )
    )
    # one executemany, values shared by every step converted once: a
    # 10,000-step run is one statement and no per-row Python conversion
    insert_many(
        conn,
        step_runs,
        ("id", "node_id", "step_name"),
        steps,
        {
            "run_id": run_id,
            "status": str(StepStatus.NOT_STARTED),
            "details": {},
            "created_at": stamp,
        },
    )
    # one event for the run and its steps: a step's own events start when it moves
    created = {
        "from": None,
        "to": str(RunStatus.NOT_STARTED),
        "steps": len(steps),
    }
    run_events.append_event(conn, run_id, EventKind.RUN_STATUS, created)
