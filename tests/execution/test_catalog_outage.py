"""A PostgreSQL catalog that goes away for longer than the catalog's retries (a server
restart) while a step runs: the driver keeps the run going and finishes it once the
server is back, instead of dying and leaving the run Running with no driver. (A step
that ends while the server is down still stops the driver: resume the run.)"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import WAIT_S, wait_until, write_script
from servers.postgres import (
    _as_postgres,
    _stop,
    postgres_binaries,
    running_postgres,
)

from dataferry import Experiment, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog.run_store import RunStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.postgres import Postgres

pytestmark = [pytest.mark.server, pytest.mark.slow]

WAITING = """
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
print('released')
"""
# longer than the catalog's retries of a lost connection (about 3 s) and than a few
# cancel checks and heartbeats of the driver
OUTAGE_S = 8


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    """A PostgreSQL of this test's own, to stop and start again."""
    with running_postgres() as server:
        yield server


def _restart_after(server: Postgres, seconds: float) -> None:
    """Stop the server and start it again on its port after ``seconds``."""
    _stop(server.data_dir / "postmaster.pid")
    time.sleep(seconds)
    folder = server.data_dir.parent
    options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [str(postgres_binaries() / "pg_ctl"), "-D", str(server.data_dir)]
    pg_ctl += ["-l", str(folder / "log")]
    _as_postgres([*pg_ctl, "-w", "-o", options, "start"], "pg_ctl start")


def test_a_run_outlives_a_catalog_outage(
    own_postgres: Postgres, tmp_path: Path
) -> None:
    ws = Workspace.create(
        "outage", tmp_path / "p", show_output=False, catalog_url=own_postgres.url()
    )
    try:
        code = write_script(tmp_path / "code", "wait.py", WAITING)
        release = tmp_path / "release"
        step = PythonScriptStep(
            "wait.py",
            name="wait",
            source_directory=str(code),
            arguments=[str(release)],
        )
        run = Experiment(ws, "e").submit(Pipeline(ws, steps=[step]))
        store = RunStore(ws.catalog)
        wait_until(
            lambda: [s.status for s in store.step_runs(run.id)] == ["Running"],
            "the step running",
        )
        _restart_after(own_postgres, OUTAGE_S)
        release.touch()

        status = run.wait_for_completion(
            show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
        )
        assert status == "Finished", run.get_details()
        assert [s.status for s in store.step_runs(run.id)] == ["Finished"]
    finally:
        ws.close()
