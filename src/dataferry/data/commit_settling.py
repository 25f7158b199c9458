"""Settling, at a workspace open, output commits whose writer was killed.

A commit is on record in the catalog while it lasts (``catalog.pending_commits``). A
record left behind when its writer is gone is settled the way ``resume`` and ``gc``
settle one (``Staging.discard_step``): on an object store the interrupted publish is
finished or undone (``storage.commit_recovery``) so the output reads whole, old or new;
on a local datastore, whose commit is a rename, the staging leftovers are removed.

The writer is gone when (the rule ``resume`` applies to a driver):

- on this host: no process has its pid with its start time (a reused pid is another);
- on another host: its run has ended (the lease rule: a lease of an ended run is
  stale). A live run elsewhere is never settled from here: its own open, ``resume``
  or ``gc`` settles it.

An open where nothing is pending costs one query: on a SQLite catalog, read with the
standard library before SQLAlchemy is loaded (``quick_pending``).
"""

from __future__ import annotations

import logging
import socket
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataferry.catalog.pending_commits import PendingCommit, Writer
    from dataferry.data.workspace import Workspace

log = logging.getLogger(__name__)

_SQLITE_FILE = "sqlite:///"
_SAME_START_S = 0.01  # two start times of one process differ by rounding only


def quick_pending(url: str) -> bool | None:
    """Whether the SQLite catalog file ``url`` has a commit on record; None when that
    cannot be told without opening the catalog (another database, no file yet, a
    catalog not yet migrated)."""
    if not url.startswith(_SQLITE_FILE):
        return None
    path = Path(url.removeprefix(_SQLITE_FILE))
    if not path.is_file():
        return None
    try:
        # read-only, as migrate.is_current_sqlite: never waits for nor blocks a writer
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute("SELECT 1 FROM pending_commits LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row is not None


def this_writer() -> Writer:
    """This process, as a commit's record names its writer."""
    import os

    import psutil

    from dataferry.catalog.pending_commits import Writer

    pid = os.getpid()
    return Writer(socket.gethostname(), pid, float(psutil.Process(pid).create_time()))


def writer_alive(workspace: Workspace, record: PendingCommit) -> bool:
    """Whether the writer of ``record`` may still be committing (see the module)."""
    writer = record.writer
    if writer.host == socket.gethostname():
        return _process_alive(writer)
    from dataferry.catalog.run_store import RunStore
    from dataferry.catalog.status import TERMINAL

    store = RunStore(workspace.catalog)
    try:
        run = store.get_run(store.get_step_run(record.step_run_id).run_id)
    except LookupError:
        return True  # a run another host has not recorded yet: not ours to judge
    return run.status not in TERMINAL


def _process_alive(writer: Writer) -> bool:
    import psutil

    try:
        process = psutil.Process(writer.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(float(process.create_time()) - writer.started) < _SAME_START_S
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # another user's process: it may be the writer


def settle_killed_commits(workspace: Workspace) -> list[str]:
    """Settle every commit on record whose writer is gone; return the places settled
    (``datastore:/path``). One query when nothing is on record.

    A commit that cannot be settled now (its store does not answer) is logged and
    kept on record, for the next open; a datastore no longer registered has nothing
    left to settle, and its record is dropped.
    """
    from dataferry.catalog import pending_commits

    catalog = workspace.catalog
    records = pending_commits.pending(catalog)
    if not records:
        return []
    me = this_writer()
    settled = []
    for record in records:
        if writer_alive(workspace, record) or not pending_commits.claim(
            catalog, record, me
        ):
            continue
        if _settle(workspace, record):
            pending_commits.end(catalog, [record.id])
            settled.append(f"{record.datastore}:/{record.path}")
    return settled


def _settle(workspace: Workspace, record: PendingCommit) -> bool:
    """Settle one record's step run on its datastore; False if it must wait."""
    from dataferry.data.datastore import Datastore
    from dataferry.errors import DataferryError, DatastoreNotFoundError

    try:
        location = Datastore.get(workspace, record.datastore).location
        location.staging.discard_step(record.step_run_id)
    except DatastoreNotFoundError:
        return True
    except (DataferryError, OSError) as exc:
        log.warning(
            "could not settle the commit of %s:/%s killed at %s (step run %s); the "
            "next open of the workspace tries again: %s",
            record.datastore,
            record.path,
            record.started_at,
            record.step_run_id,
            exc,
        )
        return False
    log.warning(
        "settled the commit of %s:/%s whose writer (pid %d on %s) was killed at %s",
        record.datastore,
        record.path,
        record.writer.pid,
        record.writer.host,
        record.started_at,
    )
    return True
