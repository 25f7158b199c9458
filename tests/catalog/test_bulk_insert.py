"""insert_many: rows stored exactly as a plain SQLAlchemy insert stores them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from dataferry.catalog import SqlCatalog
from dataferry.catalog.bulk_insert import insert_many
from dataferry.catalog.schema import experiments, runs, step_runs

if TYPE_CHECKING:
    from collections.abc import Iterator

STAMP = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[SqlCatalog]:
    """A catalog holding run ``r1``, which step runs may refer to."""
    cat = SqlCatalog(catalog_url)
    with cat.write() as conn:
        conn.execute(experiments.insert().values(name="e", created_at=STAMP))
        conn.execute(
            runs.insert().values(
                id="r1",
                experiment="e",
                status="NotStarted",
                definition={},
                parameters={},
                options={},
                tags={},
                created_at=STAMP,
            )
        )
    yield cat
    cat.close()


def _shared(details: dict[str, object]) -> dict[str, object]:
    return {
        "run_id": "r1",
        "status": "NotStarted",
        "details": details,
        "created_at": STAMP,
    }


def _raw(cat: SqlCatalog) -> list[tuple[object, ...]]:
    """The step_runs rows as the database holds them (text, not converted back: cast,
    for PostgreSQL's driver converts JSON and timestamps itself)."""
    with cat.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT id, run_id, node_id, step_name, status, "
                    "CAST(details AS TEXT), CAST(created_at AS TEXT) "
                    "FROM step_runs ORDER BY id"
                )
            )
        ]


def test_rows_are_stored_as_a_plain_insert_stores_them(catalog: SqlCatalog) -> None:
    details = {"k": [1, "two"]}
    with catalog.write() as conn:
        insert_many(
            conn,
            step_runs,
            ("id", "node_id", "step_name"),
            [("a_1", "a", "A"), ("b_1", "b", "B")],
            _shared(details),
        )
        conn.execute(
            step_runs.insert(),
            [{"id": "c_1", "node_id": "c", "step_name": "C", **_shared(details)}],
        )

    raw = _raw(catalog)
    assert [r[:5] for r in raw] == [
        ("a_1", "r1", "a", "A", "NotStarted"),
        ("b_1", "r1", "b", "B", "NotStarted"),
        ("c_1", "r1", "c", "C", "NotStarted"),
    ]
    assert {r[5:] for r in raw} == {raw[2][5:]}  # details and time: the same text
    with catalog.read() as conn:
        read = conn.execute(
            select(step_runs.c.details, step_runs.c.created_at).where(
                step_runs.c.id == "a_1"
            )
        ).one()
    assert (read.details, read.created_at) == (details, STAMP)


def test_no_rows_inserts_nothing(catalog: SqlCatalog) -> None:
    with catalog.write() as conn:
        insert_many(conn, step_runs, ("id", "node_id", "step_name"), [], _shared({}))

    assert _raw(catalog) == []


def test_a_row_breaking_a_constraint_inserts_none(catalog: SqlCatalog) -> None:
    with (
        pytest.raises(
            IntegrityError,
            # SQLite's words, or PostgreSQL's
            match=r"UNIQUE constraint failed: step_runs\.id|"
            r'duplicate key value violates unique constraint "pk_step_runs"',
        ),
        catalog.write() as conn,
    ):
        insert_many(
            conn,
            step_runs,
            ("id", "node_id", "step_name"),
            [("a_1", "a", "A"), ("a_1", "b", "B")],
            _shared({}),
        )

    assert _raw(catalog) == []
