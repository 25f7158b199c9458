"""``guarded`` retries only transient database errors, and enters its retry machinery
only once a first attempt failed transiently (issue 8, item 6: a catalog call that
succeeds pays for no retry wrapper). Real SQLite databases and real lock contention."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
import tenacity
from sqlalchemy import create_engine, text

from dataferry.catalog import db_guard
from dataferry.catalog.db_guard import guarded
from dataferry.errors import CatalogBusyError, CatalogError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class Owner:
    """What a store is to ``guarded``: its ``url`` names the catalog in errors. Its
    connections give up on a lock after 20 ms, so each attempt is short."""

    def __init__(self, path: Path) -> None:
        self.url = f"sqlite:///{path}"
        self.engine = create_engine(self.url, connect_args={"timeout": 0.02})
        self.attempts = 0

    @guarded("add a row")
    def add(self, value: int) -> int:
        self.attempts += 1
        with self.engine.begin() as conn:
            conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
            return int(conn.execute(text("SELECT count(*) FROM t")).scalar_one())

    @guarded("read nonsense")
    def nonsense(self) -> None:
        self.attempts += 1
        with self.engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))


class Counted(tenacity.Retrying):
    """The real ``Retrying``, counting how often it is built."""

    made = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).made += 1
        super().__init__(*args, **kwargs)


@pytest.fixture
def owner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Owner]:
    path = tmp_path / "guard.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (v INTEGER)")
    Counted.made = 0
    monkeypatch.setattr(db_guard, "Retrying", Counted)
    made = Owner(path)
    yield made
    made.engine.dispose()


def hold_write_lock(path: str, seconds: float) -> threading.Thread:
    """Another writer holding the database's write lock for ``seconds``."""
    taken = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait()
    return thread


def test_a_call_that_succeeds_builds_no_retry_machinery(owner: Owner) -> None:
    assert [owner.add(v) for v in range(3)] == [1, 2, 3]
    assert owner.attempts == 3
    assert Counted.made == 0


def test_a_lock_that_clears_is_waited_out(owner: Owner, tmp_path: Path) -> None:
    holder = hold_write_lock(str(tmp_path / "guard.db"), 0.15)
    try:
        assert owner.add(7) == 1
    finally:
        holder.join()
    assert owner.attempts > 1
    assert Counted.made == 1


def test_a_lock_held_through_every_attempt_is_a_busy_error(
    owner: Owner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_guard, "_MAX_WAIT_S", 0.01)  # eight short attempts
    holder = hold_write_lock(str(tmp_path / "guard.db"), 3.0)
    try:
        with pytest.raises(
            CatalogBusyError,
            match=r"^cannot add a row \(catalog sqlite:///.*guard\.db\): database is "
            r"locked; other writers kept it from finishing through every retry",
        ):
            owner.add(1)
    finally:
        holder.join()
    assert owner.attempts == 8
    assert Counted.made == 1


def test_an_error_that_is_not_transient_is_raised_at_once(owner: Owner) -> None:
    with pytest.raises(
        CatalogError,
        match=r"^cannot read nonsense \(catalog sqlite:///.*\): no such table: "
        r"no_such_table; the database refused it",
    ) as caught:
        owner.nonsense()
    assert type(caught.value) is CatalogError
    assert owner.attempts == 1
    assert Counted.made == 0


def test_an_error_other_than_a_database_one_is_raised_as_it_is(owner: Owner) -> None:
    with pytest.raises(TypeError, match="unsupported operand"):
        guarded("add")(lambda o: o + "x")(owner)
    assert Counted.made == 0
