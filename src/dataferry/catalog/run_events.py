"""Status transitions of runs and step runs, each with its event, in the caller's
transaction; and reading a run's events since an id.

A transition is a compare-and-set: the status is read, checked against the allowed
map, and the row updated only while it still holds that status, so two writers never
both move a run (the loser gets ``StatusTransitionError``). Its event row is appended
in the same transaction, so the events of a run are exactly its history.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, and_, bindparam, select, update

from dataferry.catalog.bulk_insert import insert_many
from dataferry.catalog.prebuilt import checked
from dataferry.catalog.schema import events, runs, step_runs
from dataferry.catalog.sql_catalog import now
from dataferry.catalog.status import (
    EventKind,
    RunStatus,
    StepStatus,
    check_run_transition,
    check_step_transition,
)
from dataferry.errors import RunNotFoundError, StatusTransitionError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from sqlalchemy import Connection


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of the ``events`` table."""

    id: int
    run_id: str
    step_run_id: str | None
    step_name: str | None
    time: datetime
    kind: str
    payload: Mapping[str, Any]


def append_event(
    conn: Connection,
    run_id: str,
    kind: EventKind,
    payload: Mapping[str, Any],
    *,
    step_run_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one event row (in ``conn``'s transaction), of time ``at`` (default: now)."""
    conn.execute(
        _EVENT_INSERT,
        {
            "run_id": run_id,
            "step_run_id": step_run_id,
            "time": at or now(),
            "kind": str(kind),
            "payload": dict(payload),
        },
    )


def move_run(conn: Connection, run_id: str, to: RunStatus, **values: Any) -> RunStatus:
    """Move a run to ``to`` (and set ``values``), with its event; return the old status.

    Raises:
        RunNotFoundError: no run has that id.
        StatusTransitionError: ``to`` is not allowed from the run's status, or another
            writer changed the status meanwhile.
    """
    current = conn.execute(_RUN_STATUS, {"run_id": run_id}).scalar()
    if current is None:
        raise RunNotFoundError(f"no run with id '{run_id}' in this workspace")
    check_run_transition(run_id, current, to)
    # the columns set are the parameters' keys other than the two the WHERE names
    result = conn.execute(_MOVE_RUN, _set(runs, values, to, run_id, current))
    if not result.rowcount:
        raise StatusTransitionError(_raced(f"run {run_id}", current, to))
    payload = {"from": current, "to": str(to)}
    append_event(conn, run_id, EventKind.RUN_STATUS, payload)
    return RunStatus(current)


@dataclass(frozen=True, slots=True)
class PassedThrough:
    """A status a step moved through before the move that records it: its event (of
    time ``at``, with ``note`` in its payload) goes first."""

    status: StepStatus
    at: datetime
    note: Mapping[str, Any] | None = None


def move_step(
    conn: Connection,
    step_run_id: str,
    to: StepStatus,
    *,
    note: Mapping[str, Any] | None = None,
    at: datetime | None = None,
    first: Sequence[tuple[EventKind, Mapping[str, Any]]] = (),
    via: PassedThrough | None = None,
    **values: Any,
) -> StepStatus:
    """Move a step run to ``to`` (and set ``values``), with its event; return the old
    status. ``note`` is added to the event's payload (what a Preparing step does);
    ``at`` is the event's time when the move happened before it is recorded; ``first``
    are events of the step (kind, payload) appended before it (its reuse decision).
    ``via``: the step went through that status first; both moves are checked, the row
    is updated once and each move has its event (one statement for all the events).

    Raises:
        RunNotFoundError: no step run has that id.
        StatusTransitionError: ``to`` (or ``via``) is not allowed from the step's
            status, or another writer changed the status meanwhile.
    """
    row = conn.execute(_STEP_STATUS, {"step_run_id": step_run_id}).first()
    if row is None:
        raise RunNotFoundError(f"no step run with id '{step_run_id}' in this workspace")
    current, run_id = row
    before = current if via is None else str(via.status)
    if via is not None:
        check_step_transition(step_run_id, current, via.status)
    check_step_transition(step_run_id, before, to)
    result = conn.execute(_MOVE_STEP, _set(step_runs, values, to, step_run_id, current))
    if not result.rowcount:
        raise StatusTransitionError(_raced(f"step run {step_run_id}", current, to))
    stamp = now()
    rows = (
        []
        if via is None
        else [
            _event_row(
                run_id,
                step_run_id,
                via.at,
                EventKind.STEP_STATUS,
                {"from": current, "to": str(via.status), **(via.note or {})},
            )
        ]
    )
    rows += [_event_row(run_id, step_run_id, stamp, k, p) for k, p in first]
    payload = {"from": before, "to": str(to), **(note or {})}
    rows.append(
        _event_row(run_id, step_run_id, at or stamp, EventKind.STEP_STATUS, payload)
    )
    conn.execute(_EVENT_INSERT, rows)
    return StepStatus(current)


# Built once: building a statement and its cache key costs SQLAlchemy more than
# running it does, on a path taken several times per step. The UPDATEs set the columns
# their parameters name (other than ``_id`` and ``_current``, which the WHERE uses).
_STEP_STATUS = select(step_runs.c.status, step_runs.c.run_id).where(
    step_runs.c.id == bindparam("step_run_id")
)
_EVENT_INSERT = events.insert()
_RUN_STATUS = select(runs.c.status).where(runs.c.id == bindparam("run_id"))
_MOVE_RUN = update(runs).where(
    and_(runs.c.id == bindparam("_id"), runs.c.status == bindparam("_current"))
)
_MOVE_STEP = update(step_runs).where(
    and_(
        step_runs.c.id == bindparam("_id"), step_runs.c.status == bindparam("_current")
    )
)


def _set(
    table: Table, values: Mapping[str, Any], to: str, row_id: str, current: str
) -> dict[str, Any]:
    """The parameters of ``_MOVE_RUN``/``_MOVE_STEP``: ``values`` and the new status
    to set, the id and the status the row must still have.

    Raises:
        CompileError: a key of ``values`` is no column of ``table`` (``checked``).
    """
    return {
        **checked(table, values),
        "status": str(to),
        "_id": row_id,
        "_current": current,
    }


def _event_row(
    run_id: str,
    step_run_id: str,
    at: datetime,
    kind: EventKind,
    payload: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "step_run_id": step_run_id,
        "time": at,
        "kind": str(kind),
        "payload": dict(payload),
    }


# ids per ``IN (...)`` list: under SQLite's oldest limit of bound values (999)
_CHUNK = 500


def move_steps(
    conn: Connection,
    to: StepStatus,
    moves: Sequence[tuple[str, Mapping[str, Any]]],
) -> None:
    """Move many step runs to ``to``, each with its own ``values``, with one event each.

    The same rows as ``move_step`` once per step, in the caller's one transaction: the
    statuses are read in chunks and every transition is checked before anything is
    written; the updates and the events (in the order of ``moves``) go in two batches.
    Ending the 10,000 not-started steps of a cancelled run took a transaction each.

    Args:
        conn: a connection in a write transaction.
        to: the status every step run moves to.
        moves: (step run id, column values to set) per step run, each id once.

    Raises:
        RunNotFoundError: an id names no step run (nothing is written).
        StatusTransitionError: ``to`` is not allowed from a step's status, or another
            writer changed a status meanwhile.
    """
    ids = [step_run_id for step_run_id, _ in moves]
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        query = select(step_runs.c.id, step_runs.c.status, step_runs.c.run_id)
        for row in conn.execute(query.where(step_runs.c.id.in_(chunk))):
            found[row.id] = (row.status, row.run_id)
    missing = [i for i in ids if i not in found]
    if missing:
        raise RunNotFoundError(f"no step run with id '{missing[0]}' in this workspace")
    for step_run_id in ids:
        check_step_transition(step_run_id, found[step_run_id][0], to)
    if not moves:
        return
    _update_each(conn, to, moves, found)
    stamp = now()
    # one batch per stretch of steps of one run and one old status, in ``moves`` order
    for (current, run_id), stretch in groupby(ids, key=found.__getitem__):
        shared = {
            "run_id": run_id,
            "time": stamp,
            "kind": str(EventKind.STEP_STATUS),
            "payload": {"from": current, "to": str(to)},
        }
        insert_many(conn, events, ["step_run_id"], [(i,) for i in stretch], shared)


def _update_each(
    conn: Connection,
    to: StepStatus,
    moves: Sequence[tuple[str, Mapping[str, Any]]],
    found: Mapping[str, tuple[str, str]],
) -> None:
    """One executemany per set of columns: a conditional update per step run."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for step_run_id, values in moves:
        params = {f"v_{k}": v for k, v in values.items()}
        params.update(b_id=step_run_id, b_from=found[step_run_id][0])
        by_columns.setdefault(tuple(sorted(values)), []).append(params)
    for columns, rows in by_columns.items():
        statement = (
            update(step_runs)
            .where(
                and_(
                    step_runs.c.id == bindparam("b_id"),
                    step_runs.c.status == bindparam("b_from"),
                )
            )
            .values(status=str(to), **{c: bindparam(f"v_{c}") for c in columns})
        )
        result = conn.execute(statement, rows)
        if result.rowcount != len(rows):
            raise StatusTransitionError(
                _raced(f"one of {len(rows)} step runs", "its status", to)
            )


def _raced(who: str, current: str, to: str) -> str:
    return (
        f"{who} changed from {current} while it was being moved to {to}; read its "
        "status again and retry if the move still applies."
    )


def events_of(
    conn: Connection, run_id: str | None, after_id: int, limit: int
) -> list[EventRecord]:
    """The run's (every run's, for None) events with an id above ``after_id``, oldest
    first, at most ``limit``."""
    where = events.c.id > after_id
    if run_id is not None:
        where = and_(events.c.run_id == run_id, where)
    rows = conn.execute(
        select(events, step_runs.c.step_name)
        .outerjoin(step_runs, step_runs.c.id == events.c.step_run_id)
        .where(where)
        .order_by(events.c.id)
        .limit(limit)
    ).all()
    return [
        EventRecord(
            r.id, r.run_id, r.step_run_id, r.step_name, r.time, r.kind, r.payload
        )
        for r in rows
    ]
