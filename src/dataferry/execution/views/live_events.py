"""What a server's live feed reads: where the events table ends (a page loads the
current state from the read model, then follows the events after that id), and a
watcher of every run's events (pushed by PostgreSQL LISTEN/NOTIFY, polled on SQLite).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.catalog.event_cursor import newest_event_id as _newest
from dataferry.catalog.event_watch import EventWatcher

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace


def newest_event_id(workspace: Workspace) -> int:
    """The id of the newest event of any run (0 while there is none).

    Raises:
        CatalogError: the catalog database failed the read.
    """
    return _newest(workspace.catalog)


def watch_all_events(workspace: Workspace) -> EventWatcher:
    """A watcher woken by any run's new events, listening from now on; open it
    before reading the events table, and close it when done. Its ``pushed`` is False
    on SQLite, where the reader polls instead.

    Raises:
        CatalogUnavailableError: the database server cannot be reached.
    """
    return EventWatcher(workspace.catalog, None)
