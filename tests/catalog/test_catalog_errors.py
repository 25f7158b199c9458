"""Database errors become typed catalog errors naming the operation; the lock helpers."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import psycopg
import pytest
from servers.azurite import free_port
from sqlalchemy import select

from dataferry.catalog import SqlCatalog
from dataferry.catalog.locks import lock, lock_key, upsert
from dataferry.catalog.schema import settings
from dataferry.errors import (
    CatalogBusyError,
    CatalogError,
    CatalogUnavailableError,
)

if TYPE_CHECKING:
    from pathlib import Path

    from servers.postgres import Postgres


def test_an_unreachable_server_is_a_typed_error_naming_the_operation() -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://postgres:secret@127.0.0.1:{port}/nowhere"

    with pytest.raises(CatalogUnavailableError) as caught:
        SqlCatalog(url)

    message = str(caught.value)
    assert message.startswith(
        f"cannot open the catalog (catalog postgresql+psycopg://postgres:***@127.0.0.1:"
        f"{port}/nowhere): "
    )
    assert "check that the database server is running and reachable" in message
    assert "secret" not in message
    assert isinstance(caught.value, ConnectionError)


def test_a_busy_catalog_is_a_typed_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    holder = SqlCatalog(url)
    with (
        holder.write(),  # another writer holds the write lock through every retry
        pytest.raises(CatalogBusyError, match=r"^cannot set setting \(catalog sqlite:"),
    ):
        _set_with_short_timeout(url, "k", 1)
    holder.close()


def _set_with_short_timeout(url: str, key: str, value: int) -> None:
    # SQLite waits 30 s for a lock by default; 20 ms keeps the retries short
    from sqlalchemy import event

    catalog = SqlCatalog(url)
    catalog.engine.dispose()

    @event.listens_for(catalog.engine, "connect")
    def _short(dbapi_conn: object, _record: object) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=20")  # type: ignore[attr-defined]

    try:
        catalog.set_setting(key, value)
    finally:
        event.remove(catalog.engine, "connect", _short)
        catalog.engine.dispose()


def test_the_lock_outside_a_sqlite_write_transaction_is_refused(
    tmp_path: Path,
) -> None:
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    with (
        catalog.read() as conn,
        pytest.raises(
            CatalogError,
            match=r"^the leases lock of 'ds' was asked for outside a write transaction",
        ),
    ):
        lock(conn, "leases", "ds")
    catalog.close()


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("leases", "ds") == lock_key("leases", "ds")
    assert lock_key("leases", "ds") != lock_key("dataset-versions", "ds")
    assert -(2**63) <= lock_key("leases", "ds") < 2**63


def test_an_upsert_folds_repeated_keys_last_wins(catalog_url: str) -> None:
    catalog = SqlCatalog(catalog_url)
    rows = [
        {"key": "a", "value": 1},
        {"key": "b", "value": 2},
        {"key": "a", "value": 3},
    ]
    with catalog.write() as conn:
        upsert(conn, settings, rows, ["key"])
        upsert(conn, settings, [{"key": "b", "value": 4}], ["key"])
    with catalog.read() as conn:
        found = conn.execute(select(settings).order_by(settings.c.key)).all()
    assert [tuple(r) for r in found] == [("a", 3), ("b", 4)]
    catalog.close()


@pytest.mark.server
def test_opening_a_current_postgresql_catalog_takes_no_lock(postgres: Postgres) -> None:
    from dataferry.catalog.locks import lock_key as key_of

    url = postgres.create_database(template="migrated")
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(
        host="127.0.0.1", port=postgres.port, user="postgres", dbname=database
    ) as other:
        # another process migrating holds the migrations lock
        other.execute("BEGIN")
        other.execute(
            "SELECT pg_advisory_xact_lock(%s)", (key_of("migrations", "catalog"),)
        )
        opened = threading.Event()

        def open_it() -> None:
            SqlCatalog(url).close()
            opened.set()

        thread = threading.Thread(target=open_it)
        thread.start()
        assert opened.wait(timeout=20)
        other.execute("ROLLBACK")
        thread.join()
