"""Benchmark: issue 12's table, re-measured with real concurrent processes.

Each row is an operation two processes (eight for registrations) do at once, ``--tries``
times each (1,000 by default), on PostgreSQL 15 (started here on loopback, as the tests
start it) and on SQLite. Every outcome must be "refused" or "ok": never both leases
granted, never a raw database exception. The registrations must give exactly versions
1..N. Printed per row: the outcomes, the wall time and the operations per second.

Usage::

    .venv/bin/python benchmarks/catalog_concurrency.py [--tries 1000] [--only sqlite]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [
    str(Path(__file__).resolve().parents[1] / "tests" / p) for p in ("catalog", "")
]

import races  # noqa: E402
from servers.postgres import running_postgres  # noqa: E402

from dataferry.catalog import SqlCatalog  # noqa: E402


def _rows(new_url, tries: int) -> list[tuple[str, bool]]:
    """(row, passed) for every row of the table on one database."""
    checks = []
    url = new_url()
    races.make_runs(url, tries)
    checks.append(
        _row(
            "leases on out and out/sub",
            url,
            races.lease,
            2,
            tries,
            {"granted": tries, "refused": tries},
        )
    )
    checks.append(
        _row(
            "hash-cache remember",
            new_url(),
            races.remember_hash,
            2,
            tries,
            {"ok": 2 * tries},
        )
    )
    checks.append(
        _row(
            "two submits, one new experiment",
            new_url(),
            races.submit_to_new_experiment,
            2,
            tries,
            {"ok": 2 * tries},
        )
    )
    checks.append(
        _row(
            "one setting written twice",
            new_url(),
            races.write_setting,
            2,
            tries,
            {"ok": 2 * tries},
        )
    )
    url = new_url()
    per = max(1, tries // 8)
    passed = _row(
        f"{8 * per} registrations, 8 processes",
        url,
        races.register,
        8,
        per,
        {"ok": 8 * per},
    )
    versions = [v.version for v in races.catalog(url).list_versions("shared")]
    exact = versions == list(range(1, 8 * per + 1))
    print(f"    versions exactly 1..{8 * per}: {exact}")
    checks.append(passed and exact)
    races.close_all()
    return checks


def _row(name: str, url: str, worker, processes: int, tries: int, expected) -> bool:
    start = time.perf_counter()
    outcomes = races.race([url], worker, processes=processes, tries=tries)
    took = time.perf_counter() - start
    ops = processes * tries / took
    print(f"  {name}: {dict(outcomes)} in {took:.1f} s ({ops:.0f} ops/s)")
    return outcomes == expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=1000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    ok = True
    if args.only != "postgresql":
        print("SQLite")
        with tempfile.TemporaryDirectory() as folder:
            count = iter(range(1_000_000))

            def sqlite_url() -> str:
                url = f"sqlite:///{folder}/c{next(count)}.db"
                SqlCatalog(url).close()
                return url

            ok &= all(_rows(sqlite_url, args.tries))
    if args.only != "sqlite":
        print("PostgreSQL 15")
        with running_postgres() as server:
            server.execute('CREATE DATABASE "migrated"')
            SqlCatalog(server.url("migrated")).close()
            ok &= all(_rows(lambda: server.create_database("migrated"), args.tries))
            fresh = [server.create_database() for _ in range(6)]
            start = time.perf_counter()
            opened = races.race(fresh, races.open_fresh, processes=2, tries=6)
            print(
                f"  two processes opening a fresh catalog (6): {dict(opened)} "
                f"in {time.perf_counter() - start:.1f} s"
            )
            ok &= opened == {"ok": 12}
    print("all rows refused or ok" if ok else "SOME ROW FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
