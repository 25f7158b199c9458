"""Metric values come back with the type they were logged with (``run.log('x', 1.0)``
reads back as the float 1.0, an int as an int), also in a catalog migrated from 0007,
whose numeric-affinity column had turned 1.0 into 1."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from dataferry.catalog import SqlCatalog, migrate
from dataferry.catalog.run_store import RunStore

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

VALUES: list[Any] = [1.0, 1, -0.0, 2.5, 10**18, True, None, "1.0", [1.0, 2], {"a": 1.0}]


def _logged(store: RunStore, values: list[Any]) -> list[Any]:
    for i, value in enumerate(values):
        store.log_metric("r1", f"m{i}", "scalar", value)
    return [m.value for m in store.metrics_of(["r1"])]


def test_values_keep_their_types(
    tmp_path: Path, new_catalog: Callable[[Path], str]
) -> None:
    catalog = SqlCatalog(new_catalog(tmp_path / "catalog.db"))

    read = _logged(RunStore(catalog), VALUES)

    assert read == VALUES
    assert [type(v) for v in read] == [type(v) for v in VALUES]
    catalog.close()


def test_a_0007_catalog_keeps_its_metrics_and_then_keeps_floats(
    tmp_path: Path,
) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(migrate.MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")
    engine.dispose()
    stamp = "2026-12-01 10:00:00.000000"
    with sqlite3.connect(tmp_path / "catalog.db") as raw:
        for i, text in enumerate(["1.0", '"s"', "[1.0, 2]", '{"c": [1]}', "null"]):
            raw.execute(
                "INSERT INTO metrics (run_id, name, kind, value, created_at) "
                "VALUES ('old', ?, 'scalar', ?, ?)",
                (f"o{i}", text, stamp),
            )

    catalog = SqlCatalog(url)
    store = RunStore(catalog)

    with catalog.read() as conn:
        assert migrate.current_revision(conn) == migrate.HEAD_REVISION
    # what the old column had made of 1.0 (the integer 1) stays 1: it cannot be told
    assert [m.value for m in store.metrics_of(["old"])] == [
        1,
        "s",
        [1.0, 2],
        {"c": [1]},
        None,
    ]
    assert _logged(store, [1.0, 3]) == [1.0, 3]
    catalog.close()


@pytest.mark.parametrize("value", [1.0, 0.0, 1e20])
def test_an_integral_float_is_a_float(
    tmp_path: Path, new_catalog: Callable[[Path], str], value: float
) -> None:
    catalog = SqlCatalog(new_catalog(tmp_path / "catalog.db"))

    (read,) = _logged(RunStore(catalog), [value])

    assert (read, type(read)) == (value, float)
    catalog.close()
