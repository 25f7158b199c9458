"""The catalog under real concurrent processes, on SQLite and on PostgreSQL.

Each row of issue 12's table: two processes at once, many tries; every outcome is
"refused" or "ok", never both granted and never a raw database exception. The
benchmark-sized runs (1,000 tries) are benchmarks/catalog_concurrency.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import races
from sqlalchemy import func, select

from dataferry.catalog import SqlCatalog
from dataferry.catalog.schema import (
    content_hashes,
    experiments,
    leases,
    runs,
    settings,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.postgres import Postgres

TRIES = 200


@pytest.fixture(autouse=True)
def _close_catalogs() -> Iterator[None]:
    yield
    races.close_all()


def _count(url: str, query: object) -> int:
    with races.catalog(url).read() as conn:
        return int(conn.execute(query).scalar_one())  # type: ignore[call-overload]


@pytest.mark.slow
def test_overlapping_leases_of_two_live_runs_are_never_both_granted(
    catalog_url: str,
) -> None:
    races.make_runs(catalog_url, TRIES)

    outcomes = races.race([catalog_url], races.lease, processes=2, tries=TRIES)

    assert outcomes == {"granted": TRIES, "refused": TRIES}
    with races.catalog(catalog_url).read() as conn:
        per_store = conn.execute(
            select(leases.c.datastore, func.count()).group_by(leases.c.datastore)
        ).all()
    assert sorted(n for _, n in per_store) == [1] * TRIES


@pytest.mark.slow
def test_remembering_one_path_at_once_keeps_one_row(catalog_url: str) -> None:
    outcomes = races.race([catalog_url], races.remember_hash, processes=2, tries=TRIES)

    assert outcomes == {"ok": 2 * TRIES}
    assert (
        _count(catalog_url, select(func.count()).select_from(content_hashes)) == TRIES
    )


@pytest.mark.slow
def test_two_submits_create_one_new_experiment(catalog_url: str) -> None:
    outcomes = races.race(
        [catalog_url], races.submit_to_new_experiment, processes=2, tries=TRIES
    )

    assert outcomes == {"ok": 2 * TRIES}
    assert _count(catalog_url, select(func.count()).select_from(experiments)) == TRIES
    assert _count(catalog_url, select(func.count()).select_from(runs)) == 2 * TRIES


@pytest.mark.slow
def test_one_setting_written_twice_at_once(catalog_url: str) -> None:
    outcomes = races.race([catalog_url], races.write_setting, processes=2, tries=TRIES)

    assert outcomes == {"ok": 2 * TRIES}
    assert _count(catalog_url, select(func.count()).select_from(settings)) == TRIES
    assert races.catalog(catalog_url).get_setting("k0") in {0, 1}


@pytest.mark.slow
def test_concurrent_registrations_get_exactly_consecutive_versions(
    catalog_url: str,
) -> None:
    outcomes = races.race([catalog_url], races.register, processes=8, tries=25)

    assert outcomes == {"ok": 200}
    versions = races.catalog(catalog_url).list_versions("shared")
    assert [v.version for v in versions] == list(range(1, 201))
    assert len({v.dataset_id for v in versions}) == 200


@pytest.mark.slow
@pytest.mark.server
def test_processes_opening_a_fresh_postgresql_catalog_all_proceed(
    postgres: Postgres,
) -> None:
    urls = [postgres.create_database() for _ in range(3)]

    outcomes = races.race(urls, races.open_fresh, processes=4, tries=3)

    assert outcomes == {"ok": 12}
    for url in urls:
        catalog = SqlCatalog(url)
        assert catalog.get_setting("missing", "default") == "default"
        catalog.close()


def test_processes_opening_a_fresh_sqlite_catalog_all_proceed(tmp_path: Path) -> None:
    urls = [f"sqlite:///{tmp_path / f'c{i}.db'}" for i in range(2)]

    outcomes = races.race(urls, races.open_fresh, processes=3, tries=2)

    assert outcomes == {"ok": 6}
