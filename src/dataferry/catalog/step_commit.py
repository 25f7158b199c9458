"""Recording a finished step in one transaction: outputs, lineage, dataset versions,
lease release, the end of its commits on record, the Finished status and their
events, all or nothing.

The bytes are moved into place before this runs; if the transaction fails (or the
process dies inside it) nothing of the step is recorded, the step is not Finished, and
resume restarts it. ``DATAFERRY_TEST_CRASH_AFTER_COMMIT_WRITE=k`` makes the process exit
at once (``os._exit``) after the k-th write of a commit, or after its commit when k is
one more than the writes: tests use it to check that a crash anywhere leaves the whole
commit or none of it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, update

from dataferry.catalog import pending_commits
from dataferry.catalog.prebuilt import checked
from dataferry.catalog.run_events import append_event, move_step
from dataferry.catalog.schema import leases, lineage, outputs
from dataferry.catalog.sql_catalog import (
    now,
    register_version_in,
    save_dataset_in,
)
from dataferry.catalog.status import EventKind, StepStatus

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from sqlalchemy import Connection

    from dataferry.catalog.records import DatasetVersionRecord
    from dataferry.catalog.sql_catalog import SqlCatalog

CRASH_ENV = "DATAFERRY_TEST_CRASH_AFTER_COMMIT_WRITE"
CRASH_EXIT_CODE = 86


@dataclass(frozen=True, slots=True)
class VersionToRegister:
    """A dataset version a committed output becomes (``register_on_complete``)."""

    output: str
    name: str
    description: str | None
    tags: Mapping[str, str]
    kind: str
    definition: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StepCommit:
    """Everything recorded when a step run finishes with its outputs in place.

    ``outputs`` are the output rows (name, datastore, path, mode, size_bytes,
    file_count, signatures); ``lineage`` the rows of what it wrote (role, name,
    datastore, path); ``values`` other step-run columns to set (details, ...);
    ``committed_at`` the time its output rows are stamped with.
    """

    step_run_id: str
    run_id: str
    exit_code: int
    outputs: Sequence[Mapping[str, Any]] = ()
    lineage: Sequence[Mapping[str, Any]] = ()
    registrations: Sequence[VersionToRegister] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    committed_at: datetime = field(default_factory=now)


class _Writes:
    """Counts a commit's writes, for the crash hook of the tests."""

    def __init__(self) -> None:
        raw = os.environ.get(CRASH_ENV, "")
        self.crash_after = int(raw) if raw.isdigit() else 0
        self.count = 0

    def wrote(self) -> None:
        self.count += 1
        if self.count == self.crash_after:
            os._exit(CRASH_EXIT_CODE)  # a crash: no cleanup, no rollback by us


def commit_step(catalog: SqlCatalog, commit: StepCommit) -> list[DatasetVersionRecord]:
    """Record a finished step run in one transaction; return the versions registered.

    An earlier output committed at the same place (an overwrite) no longer holds its
    bytes: it is marked deleted in the same transaction.

    Raises:
        StatusTransitionError: the step run is not Running (nothing is recorded).
        DatasetExistsError: never in practice (new versions are always created).
    """
    writes = _Writes()
    with catalog.write() as conn:
        registered = _record(conn, commit, writes)
    writes.wrote()  # after the transaction: the "whole commit" crash point
    return registered


def _record(
    conn: Connection, commit: StepCommit, writes: _Writes
) -> list[DatasetVersionRecord]:
    _record_outputs(conn, commit, writes)
    for row in commit.lineage:
        conn.execute(
            _LINEAGE_INSERT,
            checked(lineage, {"step_run_id": commit.step_run_id, **row}),
        )
        writes.wrote()
    registered = [_register(conn, commit, reg, writes) for reg in commit.registrations]
    if commit.outputs:  # their commits, on record since the step began, have ended
        pending_commits.forget_in(conn, commit.step_run_id)
    conn.execute(_LEASES_DELETE, {"_step_run_id": commit.step_run_id})
    writes.wrote()
    move_step(
        conn,
        commit.step_run_id,
        StepStatus.FINISHED,
        exit_code=commit.exit_code,
        ended_at=now(),
        **commit.values,
    )
    writes.wrote()
    return registered


def _record_outputs(conn: Connection, commit: StepCommit, writes: _Writes) -> None:
    stamp = commit.committed_at
    for out in commit.outputs:
        place = {"_datastore": out["datastore"], "_path": out["path"]}
        conn.execute(_SUPERSEDE, {"deleted_at": stamp, **place})
        row = {"step_run_id": commit.step_run_id, "committed_at": stamp, **out}
        conn.execute(_OUTPUT_INSERT, checked(outputs, row))
        writes.wrote()
        payload = {
            "output": out["name"],
            "datastore": out["datastore"],
            "path": out["path"],
        }
        append_event(
            conn,
            commit.run_id,
            EventKind.OUTPUT_COMMITTED,
            payload,
            step_run_id=commit.step_run_id,
        )
        writes.wrote()


# Built once (see catalog.prebuilt): every executed step's commit runs them.
_LINEAGE_INSERT = lineage.insert()
_OUTPUT_INSERT = outputs.insert()
_LEASES_DELETE = leases.delete().where(
    leases.c.step_run_id == bindparam("_step_run_id")
)
# an earlier output at the same place no longer holds its bytes
_SUPERSEDE = update(outputs).where(
    and_(
        outputs.c.datastore == bindparam("_datastore"),
        outputs.c.path == bindparam("_path"),
        outputs.c.deleted_at.is_(None),
    )
)


def _register(
    conn: Connection, commit: StepCommit, reg: VersionToRegister, writes: _Writes
) -> DatasetVersionRecord:
    dataset = save_dataset_in(conn, reg.kind, reg.definition)
    writes.wrote()
    version = register_version_in(
        conn,
        reg.name,
        dataset.id,
        description=reg.description,
        tags=reg.tags,
        create_new_version=True,
        producer_step_run_id=commit.step_run_id,
        producer_output=reg.output,
    )
    writes.wrote()
    payload = {"dataset": reg.name, "version": version.version, "output": reg.output}
    append_event(
        conn,
        commit.run_id,
        EventKind.REGISTERED,
        payload,
        step_run_id=commit.step_run_id,
    )
    writes.wrote()
    return version
