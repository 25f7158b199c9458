"""Settling output commits whose writer was killed, at the first use of the catalog.

A step's output commits are on record in the catalog from its move to Running to its
end (``catalog.pending_commits``). A record left behind when its writer (the driver)
is gone is settled the way ``resume`` and ``gc`` settle one (``Staging.discard_step``):
on an object store an interrupted publish is finished or undone
(``storage.commit_recovery``) so the output reads whole, old or new; on a local
datastore, whose commit is a rename, the staging leftovers are removed.

The writer is gone when (the rule ``resume`` applies to a driver):

- on this host: no process has its pid with its start time (a reused pid is another);
- on another host: its run has ended (the lease rule: a lease of an ended run is
  stale). A live run elsewhere is never settled from here: its own host, ``resume``
  or ``gc`` settles it.

A process where nothing is on record pays one query, once (``Workspace.catalog``).
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

from dataferry.storage.process_identity import is_alive, started_at

if TYPE_CHECKING:
    from dataferry.catalog.pending_commits import PendingCommit, Writer
    from dataferry.data.workspace import Workspace

log = logging.getLogger(__name__)

_ME: dict[int, Writer] = {}  # by pid: a forked child is another writer


def this_writer() -> Writer:
    """This process, as a commit's record names its writer (looked up once)."""
    pid = os.getpid()
    found = _ME.get(pid)
    if found is None:
        from dataferry.catalog.pending_commits import Writer

        started = started_at(pid)
        assert started is not None  # this process runs
        found = _ME[pid] = Writer(socket.gethostname(), pid, started)
    return found


def writer_alive(record: PendingCommit) -> bool:
    """Whether the writer of ``record`` may still be committing (see the module)."""
    writer = record.writer
    if writer.host == socket.gethostname():
        return _process_alive(writer)
    from dataferry.catalog.status import TERMINAL

    # a run this catalog does not know (yet): not ours to judge
    return record.run_status is None or record.run_status not in TERMINAL


def _process_alive(writer: Writer) -> bool:
    return is_alive(writer.pid, writer.started)


def settle_killed_commits(workspace: Workspace) -> list[str]:
    """Settle every commit on record whose writer is gone; return the places settled
    (``datastore:/path``). One query when nothing is on record; a live writer's
    commit (a step running now) costs a look at its process, no write.

    A commit that cannot be settled now (its store does not answer) is logged and
    kept on record, for the next process; a datastore no longer registered has nothing
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
        if writer_alive(record) or not pending_commits.claim(catalog, record, me):
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
            "could not settle the commit of %s:/%s on record since %s (step run %s); "
            "the next process that uses the catalog tries again: %s",
            record.datastore,
            record.path,
            record.started_at,
            record.step_run_id,
            exc,
        )
        return False
    log.warning(
        "settled the commit of %s:/%s whose writer (pid %d on %s) is gone; on "
        "record since %s",
        record.datastore,
        record.path,
        record.writer.pid,
        record.writer.host,
        record.started_at,
    )
    return True
