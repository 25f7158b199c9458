"""A run's events since an id: what a live page or ``runs events --follow`` reads;
and the watcher that tells a waiter when there are new ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.catalog.event_watch import EventWatcher
from dataferry.catalog.run_store import RunStore
from dataferry.execution.views.model import EventView

if TYPE_CHECKING:
    from collections.abc import Collection

    from dataferry.data.workspace import Workspace


def events_since(
    workspace: Workspace, run_id: str, after_id: int = 0, *, limit: int = 1000
) -> list[EventView]:
    """The run's events with an id above ``after_id``, oldest first, at most ``limit``.

    Read on from the last one's ``id``: no event is missed or read twice.

    Raises:
        RunNotFoundError: no run has that id.
        EventCursorError: ``after_id`` is not an integer >= 0, or ``limit`` < 1.
    """
    return [
        EventView(
            e.id, e.run_id, e.step_run_id, e.step_name, e.time, e.kind, dict(e.payload)
        )
        for e in RunStore(workspace.catalog).events_since(run_id, after_id, limit=limit)
    ]


def watch_events(workspace: Workspace, run_ids: Collection[str]) -> EventWatcher:
    """A watcher of the runs' new events, listening from now on: pass it to
    ``wait_until(news=...)``, and close it (a context manager) when done.

    On PostgreSQL its ``wait`` blocks on a LISTEN connection until one of the runs
    has new events committed; on SQLite it sleeps, and the waiter polls.

    Raises:
        CatalogUnavailableError: the database server cannot be reached.
    """
    return EventWatcher(workspace.catalog, run_ids)


def all_events_since(
    workspace: Workspace, after_id: int = 0, *, limit: int = 1000
) -> list[EventView]:
    """Every run's events with an id above ``after_id``, oldest first, at most
    ``limit`` (what a server's live feed reads on from).

    Raises:
        EventCursorError: ``after_id`` is not an integer >= 0, or ``limit`` < 1.
    """
    return [
        EventView(
            e.id, e.run_id, e.step_run_id, e.step_name, e.time, e.kind, dict(e.payload)
        )
        for e in RunStore(workspace.catalog).events_of_all_runs(after_id, limit=limit)
    ]
