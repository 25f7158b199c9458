"""Live events: PostgreSQL pushes a run's new events to watchers (LISTEN/NOTIFY, the
trigger of migration 0014); SQLite's watchers poll the indexed table."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING

import psycopg
import pytest

from dataferry.catalog import SqlCatalog
from dataferry.catalog.event_watch import CHANNEL, EventWatcher
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import EventKind, StepStatus
from dataferry.errors import CatalogUnavailableError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from servers.postgres import Postgres

# what the issue asks is a second; this bound leaves room for a loaded machine
PUSH_BOUND_S = 5.0


def _make_run(catalog: SqlCatalog, run_id: str, steps: int = 1) -> RunStore:
    store = RunStore(catalog)
    store.create_run(
        run_id,
        "exp",
        {},
        parameters={},
        options={},
        tags=None,
        description=None,
        steps=[(f"{run_id}-s{i}", f"n{i}", f"step{i}") for i in range(steps)],
    )
    return store


@pytest.fixture
def pg_catalog(postgres: Postgres) -> Iterator[SqlCatalog]:
    """A fresh catalog on the session's PostgreSQL, holding run ``r1`` (one step)."""
    catalog = SqlCatalog(postgres.create_database(template="migrated"))
    _make_run(catalog, "r1")
    yield catalog
    catalog.close()


def test_sqlite_watchers_poll_and_postgres_watchers_are_pushed(
    catalog_url: str,
) -> None:
    catalog = SqlCatalog(catalog_url)
    try:
        with EventWatcher(catalog, ["r1"]) as watcher:
            assert watcher.pushed is catalog_url.startswith("postgresql")
            began = time.monotonic()
            assert watcher.wait(0.05) is False  # nothing happened: the timeout
            assert 0.04 <= time.monotonic() - began < 2.0
    finally:
        catalog.close()


_WRITER = """
import sys, time
from dataferry.catalog import SqlCatalog
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import StepStatus
catalog = SqlCatalog(sys.argv[1])
time.sleep(float(sys.argv[2]))  # the watcher is blocked by then
RunStore(catalog).move_step("r1-s0", StepStatus.FINISHED)
print(time.time(), flush=True)  # committed
catalog.close()
"""


@pytest.mark.server
def test_a_step_finish_written_by_another_process_is_pushed_at_once(
    pg_catalog: SqlCatalog,
) -> None:
    store = RunStore(pg_catalog)
    store.move_step("r1-s0", StepStatus.RUNNING)
    cursor = store.last_event_id("r1")
    with EventWatcher(pg_catalog, ["r1"]) as watcher:  # LISTEN, then read
        writer = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_WRITER), pg_catalog.url, "1.0"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        waits = 0
        finished = []
        deadline = time.monotonic() + 60
        while not finished and time.monotonic() < deadline:
            events = store.events_since("r1", cursor)
            cursor = events[-1].id if events else cursor
            finished = [e for e in events if e.payload.get("to") == "Finished"]
            if not finished:
                waits += 1
                watcher.wait(30.0)  # blocks on the connection: no polling
        seen_at = time.time()
        out, _ = writer.communicate(timeout=60)
    committed_at = float(out.split()[0])
    delay = seen_at - committed_at
    print(f"step finish seen {delay * 1000:.1f} ms after its commit")
    assert [e.step_run_id for e in finished] == ["r1-s0"]
    assert delay < PUSH_BOUND_S
    # one read before the writer, one wait that its notification ended (the writer's
    # open of the catalog may notify nothing: it writes no event)
    assert waits == 1


@pytest.mark.server
def test_an_event_committed_before_the_wait_is_not_lost(
    pg_catalog: SqlCatalog,
) -> None:
    store = RunStore(pg_catalog)
    with EventWatcher(pg_catalog, ["r1"]) as watcher:
        # between the read and the wait: queued on the listening connection
        store.record_event("r1", EventKind.PREPARING, {"doing": "hashing"})
        began = time.monotonic()
        assert watcher.wait(30.0) is True
        assert time.monotonic() - began < PUSH_BOUND_S
        assert watcher.wait(0.05) is False  # the queue was drained by the first


@pytest.mark.server
def test_events_of_other_runs_and_rolled_back_ones_do_not_wake_a_watcher(
    pg_catalog: SqlCatalog,
) -> None:
    store = _make_run(pg_catalog, "r2")
    with EventWatcher(pg_catalog, ["r1"]) as watcher:
        store.record_event("r2", EventKind.PREPARING, {"doing": "hashing"})
        with pytest.raises(RuntimeError, match="undone"), pg_catalog.write() as conn:
            from dataferry.catalog.run_events import append_event

            append_event(conn, "r1", EventKind.PREPARING, {"doing": "x"})
            raise RuntimeError("undone")
        assert watcher.wait(0.3) is False
    with EventWatcher(pg_catalog) as every_run:
        store.record_event("r2", EventKind.PREPARING, {"doing": "hashing"})
        assert every_run.wait(30.0) is True


@pytest.mark.server
def test_notifications_name_the_run_and_end_with_its_newest_event_id(
    postgres: Postgres,
) -> None:
    catalog = SqlCatalog(postgres.create_database(template="migrated"))
    try:
        store = _make_run(catalog, "big", steps=300)
        listener = psycopg.connect(catalog.url.replace("+psycopg", ""), autocommit=True)
        listener.execute(f"LISTEN {CHANNEL}")
        store.move_steps(StepStatus.CANCELED, [(f"big-s{i}", {}) for i in range(300)])
        notes = [n.payload for n in listener.notifies(timeout=2.0)]
        listener.close()
        # one per run and statement; an executemany is a statement per row
        assert 1 <= len(notes) <= 300
        assert notes[-1] == f"{store.last_event_id('big')}:big"
        assert {n.split(":", 1)[1] for n in notes} == {"big"}
    finally:
        catalog.close()


@pytest.mark.server
def test_a_lost_listening_connection_is_opened_again_and_reads_again(
    pg_catalog: SqlCatalog, postgres: Postgres
) -> None:
    store = RunStore(pg_catalog)
    with EventWatcher(pg_catalog, ["r1"]) as watcher:
        database = pg_catalog.url.rsplit("/", 1)[1]
        postgres.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND query LIKE 'LISTEN%'"
        )
        assert watcher.wait(30.0) is True  # maybe missed: the owner reads again
        store.record_event("r1", EventKind.PREPARING, {"doing": "hashing"})
        assert watcher.wait(30.0) is True  # listening again


@pytest.mark.server
def test_a_catalog_that_cannot_be_reached_is_a_typed_error(
    postgres: Postgres,
) -> None:
    url = postgres.create_database(template="migrated")
    catalog = SqlCatalog(url)
    catalog.close()
    postgres.execute(f'DROP DATABASE "{url.rsplit("/", 1)[1]}"')
    with pytest.raises(
        CatalogUnavailableError,
        match=r"cannot listen for run events on catalog postgresql\+psycopg://.*"
        r"does not exist.*check that the database server is running",
    ):
        EventWatcher(catalog, ["r1"])
