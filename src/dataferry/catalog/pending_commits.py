"""Output commits that may be under way, on record while they last.

A step's outputs are recorded here in the transaction that moves it to Running (they
are staged by then) and deleted in the transaction that ends it (the one-transaction
step commit, or the move to Failed or Canceled), so being on record costs no
transaction of its own. A row left behind names a driver killed while the step ran or
committed: ``data.commit_settling`` settles it at the first use of the catalog once
that writer is gone. Who wrote it (host, pid, the pid's start time) is claimed over by
the process that settles it, so two processes never settle the same commit at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, delete, select, update

from dataferry.catalog.schema import pending_commits, runs, step_runs
from dataferry.storage.process_identity import ProcessIdentity

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from datetime import datetime

    from sqlalchemy import Connection

    from dataferry.catalog.sql_catalog import SqlCatalog

# a first use of the catalog reads at most this many records; the rest wait for the
# next process
OPEN_BATCH = 100
# a commit's writer: one process, named for good (host, pid, start time)
Writer = ProcessIdentity


@dataclass(frozen=True)
class PendingCommit:
    """One output commit on record: where it goes, for which step run, by whom, and
    the status of that step's run (None if the run is not in this catalog)."""

    id: str
    datastore: str
    path: str
    step_run_id: str
    writer: Writer
    started_at: datetime
    run_status: str | None


def rows(
    writer: Writer,
    step_run_id: str,
    places: Iterable[tuple[str, str]],
    stamp: datetime,
) -> list[dict[str, Any]]:
    """The records of the commits of ``places`` (``(datastore, path)``) by ``writer``
    for ``step_run_id``, as ``record_in`` writes them."""
    return [
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


def record_in(conn: Connection, records: Sequence[Mapping[str, Any]]) -> None:
    """Write ``records`` (from ``rows``) in the caller's transaction."""
    if records:
        conn.execute(_INSERT, list(records))  # one executemany


def forget_in(conn: Connection, step_run_id: str) -> None:
    """Delete every commit of ``step_run_id`` in the caller's transaction (it ended,
    or a resume settled and restarts it)."""
    conn.execute(_FORGET, {"_step_run_id": step_run_id})


def end(catalog: SqlCatalog, ids: Iterable[str]) -> None:
    """Forget the commits ``ids`` (settled); unknown ids are no error."""
    wanted = list(ids)
    if wanted:
        with catalog.write() as conn:
            conn.execute(
                delete(pending_commits).where(pending_commits.c.id.in_(wanted))
            )


def pending(catalog: SqlCatalog) -> list[PendingCommit]:
    """The commits on record, oldest first (at most ``OPEN_BATCH``), each with its
    run's status: one query."""
    with catalog.read() as conn:
        found = conn.execute(_PENDING).all()
    return [
        PendingCommit(
            r.id,
            r.datastore,
            r.path,
            r.step_run_id,
            Writer(r.host, r.pid, r.pid_started),
            r.started_at,
            r.run_status,
        )
        for r in found
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


# Built once (see catalog.prebuilt): every step that stages outputs runs the first two.
_INSERT = pending_commits.insert()
_FORGET = delete(pending_commits).where(
    pending_commits.c.step_run_id == bindparam("_step_run_id")
)
_PENDING = (
    select(pending_commits, runs.c.status.label("run_status"))
    .select_from(
        pending_commits.outerjoin(
            step_runs, step_runs.c.id == pending_commits.c.step_run_id
        ).outerjoin(runs, runs.c.id == step_runs.c.run_id)
    )
    .order_by(pending_commits.c.started_at)
    .limit(OPEN_BATCH)
)
