"""Output commits under way, on record while they last.

A step's outputs are recorded here (one transaction) before the storage commit begins
and deleted (one transaction) once it has ended, whatever its outcome. A row left
behind names a writer killed mid-commit: ``data.commit_settling`` settles it when the
workspace is opened and that writer is gone. Who wrote it (host, pid, the pid's start
time) is claimed over by the process that settles it, so two opens never settle the
same commit at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, select, update

from dataferry.catalog import now
from dataferry.catalog.schema import pending_commits

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from dataferry.catalog.sql_catalog import SqlCatalog

# a workspace open reads at most this many records; the rest wait for the next open
OPEN_BATCH = 100


@dataclass(frozen=True)
class Writer:
    """A process that commits: its host, pid and the pid's start time."""

    host: str
    pid: int
    started: float


@dataclass(frozen=True)
class PendingCommit:
    """One output commit on record: where it goes, for which step run, by whom."""

    id: str
    datastore: str
    path: str
    step_run_id: str
    writer: Writer
    started_at: datetime


def begin(
    catalog: SqlCatalog,
    writer: Writer,
    step_run_id: str,
    places: Iterable[tuple[str, str]],
) -> list[str]:
    """Record the commits of ``places`` (``(datastore, path)``) by ``writer`` for
    ``step_run_id``, in one transaction; return their ids (for ``end``)."""
    stamp = now()
    rows = [
        {
            "id": os.urandom(16).hex(),
            "datastore": datastore,
            "path": path,
            "step_run_id": step_run_id,
            "host": writer.host,
            "pid": writer.pid,
            "pid_started": writer.started,
            "started_at": stamp,
        }
        for datastore, path in places
    ]
    if rows:
        with catalog.write() as conn:
            conn.execute(pending_commits.insert(), rows)
    return [str(row["id"]) for row in rows]


def end(catalog: SqlCatalog, ids: Iterable[str]) -> None:
    """Forget the commits ``ids`` (ended, or settled); unknown ids are no error."""
    wanted = list(ids)
    if wanted:
        with catalog.write() as conn:
            conn.execute(
                delete(pending_commits).where(pending_commits.c.id.in_(wanted))
            )


def forget_step(catalog: SqlCatalog, step_run_id: str) -> None:
    """Forget every commit of a step run (a resume settles and restarts it)."""
    with catalog.write() as conn:
        conn.execute(
            delete(pending_commits).where(pending_commits.c.step_run_id == step_run_id)
        )


def pending(catalog: SqlCatalog) -> list[PendingCommit]:
    """The commits on record, oldest first (at most ``OPEN_BATCH``): one query."""
    query = select(pending_commits).order_by(pending_commits.c.started_at)
    with catalog.read() as conn:
        rows = conn.execute(query.limit(OPEN_BATCH)).all()
    return [
        PendingCommit(
            r.id,
            r.datastore,
            r.path,
            r.step_run_id,
            Writer(r.host, r.pid, r.pid_started),
            r.started_at,
        )
        for r in rows
    ]


def claim(catalog: SqlCatalog, record: PendingCommit, writer: Writer) -> bool:
    """Make ``writer`` the one who settles ``record``, if nobody claimed it since it
    was read; True if it did."""
    old = record.writer
    query = (
        update(pending_commits)
        .where(
            and_(
                pending_commits.c.id == record.id,
                pending_commits.c.host == old.host,
                pending_commits.c.pid == old.pid,
                pending_commits.c.pid_started == old.started,
            )
        )
        .values(host=writer.host, pid=writer.pid, pid_started=writer.started)
    )
    with catalog.write() as conn:
        return conn.execute(query).rowcount == 1
