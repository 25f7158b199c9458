"""Waiting for a run's next events: pushed by PostgreSQL, polled on SQLite.

On PostgreSQL every insert into ``events`` NOTIFYs ``"<newest id>:<run id>"`` on
``CHANNEL`` in its own transaction (the trigger of migration 0014), delivered when it
commits. A watcher LISTENs on a connection of its own *before* its owner reads the
events table since its last id, so an event committed between that read and the next
wait is already queued on the connection: nothing is lost between notifications, and
the owner blocks on the connection's socket instead of polling. On SQLite there is
nothing to listen to: ``wait`` sleeps, and the owner polls the indexed table.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import make_url

from dataferry.errors import CatalogUnavailableError

if TYPE_CHECKING:
    from collections.abc import Collection
    from types import TracebackType

    from dataferry.catalog.sql_catalog import SqlCatalog

CHANNEL = "dataferry_events"
# how long a woken watcher takes the notifications already queued behind the first
_DRAIN_S = 0.001


class EventWatcher:
    """Wakes its owner when events of the watched runs (every run if ``run_ids`` is
    None) are committed. Open it before the first read; use it as a context manager,
    or ``close()`` it.

    ``pushed`` is True where the database notifies (PostgreSQL), False where the owner
    must poll (SQLite).

    Raises (on opening and from ``wait``):
        CatalogUnavailableError: the database server cannot be reached to listen.
    """

    def __init__(
        self, catalog: SqlCatalog, run_ids: Collection[str] | None = None
    ) -> None:
        self._catalog = catalog
        self._runs = None if run_ids is None else frozenset(run_ids)
        self.pushed = catalog.engine.dialect.name == "postgresql"
        self._conn: Any = self._listen() if self.pushed else None

    def wait(self, timeout_s: float) -> bool:
        """Block until a watched run has new events (True) or ``timeout_s`` passes
        (False). Where nothing is pushed it sleeps ``timeout_s`` and returns False.

        A lost connection is opened again and answers True: notifications may have
        been missed meanwhile, so the owner reads the table again.
        """
        if self._conn is None:
            time.sleep(max(timeout_s, 0.0))
            return False
        import psycopg

        try:
            return self._next(time.monotonic() + max(timeout_s, 0.0))
        except psycopg.OperationalError:
            self._conn.close()
            self._conn = self._listen()
            return True

    def _next(self, deadline: float) -> bool:
        """Read notifications until one names a watched run (the queue behind it is
        drained: one read covers them) or the deadline passes."""
        while (left := deadline - time.monotonic()) > 0:
            # the generator holds the connection's lock until it ends: the queue is
            # drained after it, not inside it
            notes = list(self._conn.notifies(timeout=left, stop_after=1))
            if any(self._wanted(n.payload) for n in notes):
                for _ in self._conn.notifies(timeout=_DRAIN_S):
                    pass
                return True
        return False

    def _wanted(self, payload: str) -> bool:
        _, _, run_id = payload.partition(":")
        return self._runs is None or run_id in self._runs

    def _listen(self) -> Any:
        """A connection of its own, outside any pool and in autocommit (a LISTEN
        inside a transaction would only start when it commits), listening."""
        import psycopg

        from dataferry.catalog.sql_catalog import server_connect_args

        engine = self._catalog.engine
        args, params = engine.dialect.create_connect_args(engine.url)
        params.update(server_connect_args(self._catalog.url))
        try:
            conn = psycopg.connect(*args, **params, autocommit=True)
            conn.execute(f"LISTEN {CHANNEL}".encode())
        except psycopg.OperationalError as exc:
            shown = make_url(self._catalog.url).render_as_string(hide_password=True)
            raise CatalogUnavailableError(
                f"cannot listen for run events on catalog {shown}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}; "
                "check that the database server is running and reachable, then retry."
            ) from exc
        return conn

    def close(self) -> None:
        """Stop listening and close the connection (nothing to do on SQLite)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> EventWatcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
