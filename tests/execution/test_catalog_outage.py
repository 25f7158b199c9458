"""A PostgreSQL catalog that goes away for longer than the catalog's retries (a server
restart) while a step runs: the driver keeps the run going and finishes it once the
server is back, instead of dying and leaving the run Running with no driver. A step
that ends while the server is down waits for it (``catalog_patience``), its outputs
committed once; an outage longer than ``catalog_outage_window_s`` fails the driver,
which stops its steps and records nothing half done."""

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

from dataferry import (
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import EventKind
from dataferry.execution.catalog_patience import WINDOW_SETTING
from dataferry.execution.run_layout import driver_log
from dataferry.storage.process_identity import is_running

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
# waits for its release file, then writes its output and ends
WRITING = """
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
with open(os.path.join(sys.argv[2], 'data.txt'), 'w') as f:
    f.write('made')
"""
# writes its pid into a file, then waits for a release that never comes
HOLDING = """
import os, sys, time
with open(sys.argv[1], 'w') as f:
    f.write(str(os.getpid()))
while True:
    time.sleep(0.05)
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
    _start(server)


def _start(server: Postgres) -> None:
    """Start the stopped server again on its port."""
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


def _writing_step(
    ws: Workspace, tmp_path: Path, name: str
) -> tuple[PythonScriptStep, Path]:
    """A step that writes its output once its release file exists; (it, the file)."""
    code = write_script(tmp_path / f"code-{name}", "write.py", WRITING)
    release = tmp_path / f"release-{name}"
    out = OutputFileDatasetConfig(name=f"{name}_out")
    step = PythonScriptStep(
        "write.py",
        name=name,
        source_directory=str(code),
        arguments=[str(release), out],
        outputs=[out],
    )
    return step, release


def _statuses(store: RunStore, run_id: str) -> dict[str, str]:
    """Step name -> status, of the run's steps."""
    return {s.step_name: s.status for s in store.step_runs(run_id)}


def _committed(store: RunStore, run_id: str) -> list[tuple[str, str]]:
    """(step run id, output) of every output_committed event of the run."""
    return [
        (e.step_run_id or "", e.payload["output"])
        for e in store.events_since(run_id)
        if e.kind == EventKind.OUTPUT_COMMITTED
    ]


def _step_ends_while_down(own_postgres: Postgres, release: Path) -> None:
    """Stop the server, let a step end, and start the server after OUTAGE_S."""
    _stop(own_postgres.data_dir / "postmaster.pid")
    release.touch()
    time.sleep(OUTAGE_S)
    _start(own_postgres)


def test_a_step_that_ends_during_an_outage_is_committed_once_it_is_over(
    own_postgres: Postgres, tmp_path: Path
) -> None:
    ws = Workspace.create(
        "outage", tmp_path / "p", show_output=False, catalog_url=own_postgres.url()
    )
    try:
        first, release = _writing_step(ws, tmp_path, "first")
        # a second step, starting once the first has ended: its Running is written
        # right after the commit, still within the outage when the commit retried
        second, release2 = _writing_step(ws, tmp_path, "second")
        release2.touch()
        second.run_after(first)
        run = Experiment(ws, "e").submit(Pipeline(ws, steps=[first, second]))
        store = RunStore(ws.catalog)
        wait_until(
            lambda: _statuses(store, run.id).get("first") == "Running",
            "the first step running",
        )
        _step_ends_while_down(own_postgres, release)

        status = run.wait_for_completion(
            show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
        )
        assert status == "Finished", run.get_details()
        rows = store.step_runs(run.id)
        assert _statuses(store, run.id) == {"first": "Finished", "second": "Finished"}
        ids = {s.id for s in rows}
        committed = _committed(store, run.id)
        assert sorted(name for _, name in committed) == ["first_out", "second_out"]
        assert {sid for sid, _ in committed} == ids
        for row in rows:
            assert len(store.outputs_of(row.id)) == 1
        text = driver_log(ws, run.id).read_text()
        assert "the catalog is unreachable: cannot commit step yet" in text
        assert "the catalog is back: commit step went through" in text
    finally:
        ws.close()


def test_an_outage_longer_than_the_window_fails_the_driver_cleanly(
    own_postgres: Postgres, tmp_path: Path
) -> None:
    ws = Workspace.create(
        "outage", tmp_path / "p", show_output=False, catalog_url=own_postgres.url()
    )
    try:
        ws.catalog.set_setting(WINDOW_SETTING, 2)
        ending, release = _writing_step(ws, tmp_path, "ending")
        pid_file = tmp_path / "holding.pid"
        code = write_script(tmp_path / "code-hold", "hold.py", HOLDING)
        holding = PythonScriptStep(
            "hold.py",
            name="holding",
            source_directory=str(code),
            arguments=[str(pid_file)],
        )
        run = Experiment(ws, "e").submit(Pipeline(ws, steps=[ending, holding]))
        store = RunStore(ws.catalog)
        wait_until(
            lambda: (
                [s.status for s in store.step_runs(run.id)] == ["Running"] * 2
                and pid_file.exists()
                and pid_file.read_text() != ""
            ),
            "both steps running",
        )
        rows = {s.step_name: s for s in store.step_runs(run.id)}
        held = int(pid_file.read_text())
        log_file = driver_log(ws, run.id)
        _stop(own_postgres.data_dir / "postmaster.pid")
        release.touch()
        wait_until(
            lambda: "could not mark run" in log_file.read_text(),
            "the driver giving up",
        )
        text = log_file.read_text()
        assert "CatalogUnavailableError: cannot commit step" in text
        assert not is_running(held)  # the step it started was stopped
        _start(own_postgres)
        # nothing of the step whose end could not be recorded is on record
        ended = rows["ending"]
        assert store.outputs_of(ended.id) == []
        assert _committed(store, run.id) == []
        assert store.get_step_run(ended.id).status == "Running"
    finally:
        ws.close()
