"""Which shared snapshots are in use, and collecting one that is not, safely.

A shared snapshot (``dataferry/snapshots/<hash>/`` on the default datastore) is in use
while a run or a published pipeline names it, or while a submit holds it: a submit
takes its hold before it looks for the snapshot on the datastore and releases it once
its run is recorded. ``collect`` deletes a snapshot under the snapshot's lock
(``locks.lock``), after checking both in the same transaction; ``hold`` takes the same
lock, so a submit either sees the snapshot gone (and uploads it again) or keeps it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import String, cast, delete, select

from dataferry.catalog import now
from dataferry.catalog.locks import insert_new, lock
from dataferry.catalog.schema import published_pipelines, runs, snapshot_holds

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sqlalchemy import Connection, Select

    from dataferry.catalog.sql_catalog import SqlCatalog

SCOPE = "shared-snapshot"
# a hold older than this was left by a submit that died before recording its run
HOLD_EXPIRY = timedelta(hours=1)


def hold(catalog: SqlCatalog, hashes: Iterable[str]) -> str:
    """Hold the snapshots ``hashes`` for one submit; return the hold's token (for
    ``release``). Each is taken under its lock, so it waits for a ``collect`` of it
    to end."""
    token = os.urandom(8).hex()
    for name in sorted(set(hashes)):
        with catalog.write() as conn:
            lock(conn, SCOPE, name)
            row = {"hash": name, "token": token, "taken_at": now()}
            insert_new(conn, snapshot_holds, row, ["hash", "token"])
    return token


def release(catalog: SqlCatalog, token: str) -> None:
    """Drop every hold of the submit ``token`` (nothing held is not an error)."""
    with catalog.write() as conn:
        conn.execute(delete(snapshot_holds).where(snapshot_holds.c.token == token))


def referenced(catalog: SqlCatalog) -> set[str]:
    """The hashes of the snapshots any run or published pipeline names, or a live
    hold keeps."""
    with catalog.read() as conn:
        found: set[str] = {str(row[0]) for row in conn.execute(_live_holds())}
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
    if conn.execute(_live_holds().where(snapshot_holds.c.hash == name)).first():
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


def _live_holds() -> Select[tuple[str]]:
    return select(snapshot_holds.c.hash).where(
        snapshot_holds.c.taken_at > now() - HOLD_EXPIRY
    )


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
