"""Touching the catalog's code once, in a process forked to do catalog work later.

A process forked from one that has imported SQLAlchemy shares its parent's memory until
it writes to it, and running Python writes to almost everything it touches (reference
counts): the first catalog opened in a forked child costs it some 2,700 page copies,
about 10 ms of a run's critical path here. ``warm_up`` makes those copies ahead of the
work: the local agent's spare child (``execution/agent_spare.py``) calls it while it
waits for a submission. It reads and writes no file, opens no network connection and
leaves no connection open, so what follows (opening the user's catalog, forking step
processes) is as safe as without it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, insert, select, update

from dataferry.catalog.locks import insert_new
from dataferry.catalog.schema import datastores, events, experiments, metadata, runs
from dataferry.catalog.sql_catalog import make_engine

_PROBE_RUN = "warm-up"


def warm_up() -> int:
    """Create some of the catalog's tables in a private in-memory SQLite database, then
    read, insert and update rows the way a run's recording does; the events read back
    (1).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the in-memory database refused a statement (a
            schema SQLite cannot hold: a fault of the schema, not of any workspace).
    """
    engine = make_engine("sqlite://")
    try:
        with engine.begin() as conn:
            metadata.create_all(conn, tables=[datastores, events, experiments, runs])
            conn.execute(select(datastores).order_by(datastores.c.name)).all()
            row = {"name": _PROBE_RUN, "created_at": datetime.now(UTC)}
            insert_new(conn, experiments, row, ["name"])
            conn.execute(
                insert(events).values(
                    run_id=_PROBE_RUN,
                    time=datetime.now(UTC),
                    kind="warm_up",
                    payload={},
                )
            )
            found = conn.execute(
                select(func.count())
                .select_from(events)
                .where(events.c.run_id == _PROBE_RUN)
            ).scalar_one()
            conn.execute(select(runs).where(runs.c.id == _PROBE_RUN)).all()
            conn.execute(
                update(runs).where(runs.c.id == _PROBE_RUN).values(status="Finished")
            )
        return int(found)
    finally:
        engine.dispose()  # the in-memory database goes with its only connection
