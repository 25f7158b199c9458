"""Which shared snapshots are in use, and collecting one that is not, safely.

A shared snapshot (``dataferry/snapshots/<hash>/`` on the default datastore) is in use
while a run or a published pipeline names it, or while a submit holds it: a submit
takes its hold before it looks for the snapshot on the datastore and releases it once
its run is recorded. ``collect`` deletes a snapshot under the snapshot's lock
(``locks.lock``), after checking both in the same transaction; ``hold`` takes the same
lock, so a submit either sees the snapshot gone (and uploads it again) or keeps it.

A hold records the process that took it (host, pid, start time): one whose process is
gone from this host (killed before it released its hold) no longer holds, so gc need
not wait for ``HOLD_EXPIRY``; a hold of another host's process, or one taken by an
older dataferry, holds until it expires. ``prune`` deletes the holds that no longer hold.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import String, cast, delete, select

from dataferry.catalog import now
from dataferry.catalog.locks import insert_new, lock
from dataferry.catalog.schema import published_pipelines, runs, snapshot_holds
from dataferry.storage.process_identity import ProcessIdentity, is_gone, this_process

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sqlalchemy import Connection, Row, Select

    from dataferry.catalog.sql_catalog import SqlCatalog

SCOPE = "shared-snapshot"
# a hold older than this was left by a submit that died before recording its run (the
# rule for a hold whose process cannot be checked from here: another host's)
HOLD_EXPIRY = timedelta(hours=1)


def hold(catalog: SqlCatalog, hashes: Iterable[str]) -> str:
    """Hold the snapshots ``hashes`` for one submit; return the hold's token (for
    ``release``). Each is taken under its lock, so it waits for a ``collect`` of it
    to end. The hold names the calling process, so it ends when that process does."""
    token = os.urandom(8).hex()
    me = this_process()
    holder = {"host": me.host, "pid": me.pid, "started_at": me.started}
    for name in sorted(set(hashes)):
        with catalog.write() as conn:
            lock(conn, SCOPE, name)
            row = {"hash": name, "token": token, "taken_at": now(), **holder}
            insert_new(conn, snapshot_holds, row, ["hash", "token"])
    return token


def release(catalog: SqlCatalog, token: str) -> None:
    """Drop every hold of the submit ``token`` (nothing held is not an error)."""
    with catalog.write() as conn:
        conn.execute(delete(snapshot_holds).where(snapshot_holds.c.token == token))


def prune(catalog: SqlCatalog) -> int:
    """Delete the holds that no longer hold (expired, or their process is gone from
    this host); return how many. A hold is deleted under its snapshot's lock, as it was
    taken."""
    with catalog.read() as conn:
        dead = [r for r in conn.execute(_holds()) if not _holds_still(r)]
    for row in dead:
        with catalog.write() as conn:
            lock(conn, SCOPE, row.hash)
            key = (snapshot_holds.c.hash == row.hash) & (
                snapshot_holds.c.token == row.token
            )
            conn.execute(delete(snapshot_holds).where(key))
    return len(dead)


def referenced(catalog: SqlCatalog) -> set[str]:
    """The hashes of the snapshots any run or published pipeline names, or a hold
    keeps (``_holds_still``)."""
    with catalog.read() as conn:
        found = {str(r.hash) for r in conn.execute(_holds()) if _holds_still(r)}
        for (definition,) in conn.execute(select(runs.c.definition)):
            found |= _snapshot_names(definition)
        for (plan,) in conn.execute(select(published_pipelines.c.plan)):
            found |= _snapshot_names(plan)
    return found


def collect(catalog: SqlCatalog, name: str, remove: Callable[[], None]) -> bool:
    """Call ``remove`` (which deletes the snapshot ``name`` from the datastore) unless
    the snapshot is in use, holding its lock throughout; True if it was removed.

    Raises:
        whatever ``remove`` raises (the catalog is unchanged by a collect).
    """
    with catalog.write() as conn:
        lock(conn, SCOPE, name)
        if _in_use(conn, name):
            return False
        remove()
    return True


def _in_use(conn: Connection, name: str) -> bool:
    held = conn.execute(_holds().where(snapshot_holds.c.hash == name))
    if any(_holds_still(row) for row in held):
        return True
    # a hash is hex digits, the JSON text has the path in quotes: this LIKE finds
    # exactly the plans naming this snapshot, without reading every plan here
    pattern = f'%snapshots/{name}"%'
    for table, column in (
        (runs, runs.c.definition),
        (published_pipelines, published_pipelines.c.plan),
    ):
        query = select(table.c.id).where(cast(column, String).like(pattern)).limit(1)
        if conn.execute(query).first():
            return True
    return False


def _holds() -> Select[tuple[str, str, datetime, str | None, int | None, float | None]]:
    t = snapshot_holds.c
    return select(t.hash, t.token, t.taken_at, t.host, t.pid, t.started_at)


def _holds_still(
    row: Row[tuple[str, str, datetime, str | None, int | None, float | None]],
) -> bool:
    """Whether a hold keeps its snapshot: its process is not gone from this host and,
    unless that process is known to run here, it has not expired."""
    if row.host is None or row.pid is None or row.started_at is None:
        return bool(row.taken_at > now() - HOLD_EXPIRY)  # an older dataferry's
    holder = ProcessIdentity(row.host, row.pid, row.started_at)
    if is_gone(holder):
        return False
    if holder.host == this_process().host:
        return True  # running here: a long upload still holds after the hour
    return bool(row.taken_at > now() - HOLD_EXPIRY)


def _snapshot_names(value: object) -> set[str]:
    """The folder names of every ``snapshot`` string in a plan's JSON."""
    if isinstance(value, list):
        return {n for v in value for n in _snapshot_names(v)}
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        if key == "snapshot" and isinstance(item, str) and item:
            found.add(item.rstrip("/").rsplit("/", 1)[-1])
        else:
            found |= _snapshot_names(item)
    return found
