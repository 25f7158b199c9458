"""The ``metrics`` event: a run's metrics changed. Coalesced, so that a step logging
10,000 values in a loop writes a handful of events, not 10,000.

A process announces a run's metrics at most once per ``COALESCE_S`` (leading edge:
the first value of a burst is announced at once). A value logged within that window
after an announcement gets no event of its own; a reader that re-reads the run's
metrics once more ``COALESCE_S`` after each ``metrics`` event it sees (the page does)
therefore misses none. The window is kept per process, in memory: nothing is read
from the catalog to decide it.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from sqlalchemy import select

from dataferry.catalog import run_events
from dataferry.catalog.schema import step_runs
from dataferry.catalog.status import EventKind

if TYPE_CHECKING:
    from sqlalchemy import Connection

COALESCE_S = 1.0
# (catalog, metric owner) -> when this process announced it, its run, its step run
_announced: dict[tuple[str, str], tuple[float, str, str | None]] = {}
_lock = threading.Lock()


def announce(conn: Connection, owner: str, name: str) -> None:
    """Append a ``metrics`` event for ``owner`` (a step run's or a run's id) in
    ``conn``'s transaction, unless this process announced it in the last
    ``COALESCE_S``. The event is the pipeline run's, with the step run's id."""
    clock, key = time.monotonic(), (str(conn.engine.url), owner)
    with _lock:
        last = _announced.get(key)
    if last is not None and clock - last[0] < COALESCE_S:
        return
    run_id, step_run_id = (last[1], last[2]) if last else _run_of(conn, owner)
    payload = {"metric": name}
    run_events.append_event(
        conn, run_id, EventKind.METRICS, payload, step_run_id=step_run_id
    )
    with _lock:
        _announced[key] = (clock, run_id, step_run_id)


def _run_of(conn: Connection, owner: str) -> tuple[str, str | None]:
    """(pipeline run id, step run id) of a metric owner: a step run's run, or the run
    itself when ``owner`` is no step run."""
    query = select(step_runs.c.run_id).where(step_runs.c.id == owner)
    run_id = conn.execute(query).scalar()
    return (owner, None) if run_id is None else (str(run_id), owner)
