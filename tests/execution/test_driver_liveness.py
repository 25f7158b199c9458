"""Is a run's driver alive? On this host the process table answers at once, also for a
driver killed before it wrote a heartbeat; for a driver elsewhere its heartbeat answers.
Every answer says what it waits for, and never 'pid None on None'.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import (
    WAIT_S,
    ScriptedDriver,
    step,
    wait_gone,
    wait_until,
    write_script,
)

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog import now
from dataferry.catalog.run_store import RunRecord, RunStore
from dataferry.errors import RunStateError
from dataferry.execution.processes import marked_pid
from dataferry.execution.resume import driver_state, is_orphaned, resume_run
from dataferry.execution.run_layout import run_dir

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from dataferry import PipelineRun

# A driver stopped before it wrote anything (it never gets past its imports, as it were).
SLEEPY_DRIVER = "import time; time.sleep(120)\n"
STEP = """
import os, sys
with open(sys.argv[2], "a") as fh:
    fh.write("ran\\n")
os.makedirs(sys.argv[1], exist_ok=True)
with open(os.path.join(sys.argv[1], "rows.txt"), "w") as fh:
    fh.write("1\\n")
"""
HERE = socket.gethostname()
# what a fresh run's age looks like in messages
SECONDS = r"\d+\.\d s"
# a workspace without the run's folder: no driver has recorded itself in driver.pid
WS = Path("/nonexistent/workspace")


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


def one_step(ws: Workspace, tmp_path: Path) -> tuple[Pipeline, Path]:
    """A pipeline of one step that logs each attempt; (pipeline, attempts log)."""
    code = write_script(tmp_path / "code", "step.py", STEP)
    attempts = tmp_path / "attempts.txt"
    out = OutputFileDatasetConfig("rows")
    only = PythonScriptStep(
        "step.py",
        name="only",
        source_directory=str(code),
        arguments=[out, str(attempts)],
    )
    return Pipeline(ws, steps=[only]), attempts


def _finish(run: PipelineRun) -> str:
    return run.wait_for_completion(
        show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
    )


@pytest.fixture
def sleepy_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[ScriptedDriver]:
    """``submit`` starts a driver that stays where a real one is in its first second."""
    script = tmp_path / "sleepy_driver.py"
    script.write_text(SLEEPY_DRIVER)
    driver = ScriptedDriver(script)
    driver.install(monkeypatch)
    yield driver
    driver.reap()


@pytest.mark.slow
class TestDriverKilledEarly:
    def test_killed_before_its_first_heartbeat(
        self, workspace: Workspace, tmp_path: Path, sleepy_driver: ScriptedDriver
    ) -> None:
        """Submit records the driver's pid: alive, it is named while it has no heartbeat;
        killed, the run is resumable at once."""
        pipeline, attempts = one_step(workspace, tmp_path)
        run = pipeline.submit("liveness")
        (driver,) = sleepy_driver.started
        store = RunStore(workspace.catalog)
        record = store.get_run(run.id)
        assert (record.driver_pid, record.driver_host) == (driver.pid, HERE)
        assert record.heartbeat_at is None
        with pytest.raises(
            RunStateError,
            match=rf"^run {run.id} is still running \(its driver \(pid {driver.pid} on "
            rf"this host\) is starting: no heartbeat yet, {SECONDS} after it was "
            r"submitted\); wait for it, or cancel it first\.$",
        ):
            run.resume()

        os.kill(driver.pid, signal.SIGKILL)
        wait_gone(driver.pid)  # a zombie, not reaped yet: gone all the same

        assert driver_state(store.get_run(run.id), workspace) == (
            False,
            f"its driver (pid {driver.pid}) is gone",
        )
        resume_run(workspace, run.id)  # at once: no heartbeat to wait out
        assert _finish(run) == "Finished", run.get_details()
        assert attempts.read_text() == "ran\n"
        assert len(store.outputs_of(step(run, "only").id)) == 1

    @pytest.mark.parametrize("moment", ["at-spawn", "after-first-heartbeat"])
    def test_real_driver_killed_in_its_first_second(
        self, workspace: Workspace, tmp_path: Path, moment: str
    ) -> None:
        pipeline, _attempts = one_step(workspace, tmp_path)
        run = pipeline.submit("liveness")
        store = RunStore(workspace.catalog)
        if moment == "after-first-heartbeat":
            wait_until(
                lambda: store.get_run(run.id).heartbeat_at is not None,
                "the driver's first heartbeat",
            )
        # a forked driver is on record in driver.pid before it writes to the run's row;
        # a spawned one (the fallback while another thread runs in this process, as one
        # left by an earlier test may) is put on the row by submit
        marked = marked_pid(run_dir(workspace, run.id))
        pid = marked or store.get_run(run.id).driver_pid
        assert pid is not None
        assert store.get_run(run.id).driver_pid in (None, pid)
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid)

        assert is_orphaned(store.get_run(run.id), workspace)
        run.resume()

        assert _finish(run) == "Finished", run.get_details()
        (record,) = store.outputs_of(step(run, "only").id)
        assert record.name == "rows"


@pytest.fixture
def record() -> RunRecord:
    """A run submitted five minutes ago, with nothing recorded about its driver."""
    return RunRecord(
        id="exp_1_0123abcd",
        experiment="exp",
        status="Running",
        definition={},
        parameters={},
        options={},
        tags={},
        description=None,
        created_at=now() - timedelta(minutes=5),
        started_at=None,
        ended_at=None,
        heartbeat_at=None,
        driver_host=None,
        driver_pid=None,
        error=None,
    )


@pytest.fixture
def stand_in(record: RunRecord) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line makes it the driver of ``record``'s run."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; time.sleep(60)",
            "dataferry.execution.driver",
            record.id,
        ]
    )
    # until the child has exec'd, /proc shows the parent's command line
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 10
    while b"dataferry.execution.driver" not in cmdline.read_bytes():
        assert time.monotonic() < deadline, "the stand-in driver never started"
        time.sleep(0.01)
    yield process
    process.kill()
    process.wait()


def ago(seconds: float) -> datetime:
    return now() - timedelta(seconds=seconds)


class TestDriverState:
    """Orphan detection: the process table on this host, the heartbeat elsewhere."""

    def test_other_host_by_heartbeat(self, record: RunRecord) -> None:
        elsewhere = replace(record, driver_host="elsewhere", driver_pid=7)
        fresh = replace(elsewhere, heartbeat_at=ago(1))
        stale = replace(elsewhere, heartbeat_at=ago(60))

        alive, why = driver_state(fresh, WS)
        assert alive
        assert re.fullmatch(
            rf"waiting for the next heartbeat of its driver \(pid 7 on host 'elsewhere'\): "
            rf"the last was {SECONDS} ago; it counts as gone after 10 s without one",
            why,
        )
        assert not is_orphaned(fresh, WS)
        alive, why = driver_state(stale, WS)
        assert not alive
        assert why == "its driver's last heartbeat was 60 s ago"
        assert is_orphaned(stale, WS)
        assert not is_orphaned(replace(stale, status="Finished"), WS)

    def test_other_host_before_its_first_heartbeat(self, record: RunRecord) -> None:
        elsewhere = replace(record, driver_host="elsewhere", driver_pid=7)

        alive, why = driver_state(replace(elsewhere, created_at=ago(1)), WS)
        assert alive
        assert re.fullmatch(
            r"waiting for the first heartbeat of its driver \(pid 7 on host "
            rf"'elsewhere'\): {SECONDS} after the run was submitted; it counts as gone "
            r"after 10 s without one",
            why,
        )
        assert driver_state(replace(elsewhere, created_at=ago(60)), WS) == (
            False,
            "its driver (pid 7 on host 'elsewhere') never wrote a heartbeat in 60 s",
        )

    def test_this_host_by_process(self, record: RunRecord) -> None:
        here = replace(record, driver_host=HERE, heartbeat_at=ago(1))
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        not_a_driver = os.getpid()  # a live pid, reused by something else

        assert driver_state(replace(here, driver_pid=gone.pid), WS) == (
            False,
            f"its driver (pid {gone.pid}) is gone",
        )
        assert is_orphaned(replace(here, driver_pid=not_a_driver), WS)

    @pytest.mark.parametrize("log", ["driver.log", "driver.out"])
    @pytest.mark.parametrize("heartbeat_s", [1, 60], ids=["fresh", "stale"])
    def test_a_driver_of_another_workspace_folder_on_this_host_is_alive(
        self, record: RunRecord, tmp_path: Path, log: str, heartbeat_s: float
    ) -> None:
        """Two folders of one shared workspace on one host (two people on one machine):
        the driver started from the other folder is a forked submitter (no driver
        command line) with no ``driver.pid`` here, but it holds its run's log open."""
        other_run = tmp_path / "other" / ".dataferry" / "runs" / record.id
        with _holding(other_run / log) as holder:
            here = replace(
                record,
                driver_host=HERE,
                driver_pid=holder.pid,
                heartbeat_at=ago(heartbeat_s),
            )
            alive, why = driver_state(here, WS)
            orphaned = is_orphaned(here, WS)

        assert alive
        assert not orphaned
        assert why.startswith(f"its driver (pid {holder.pid} on this host) ")

    def test_a_process_holding_another_runs_log_is_not_the_driver(
        self, record: RunRecord, tmp_path: Path
    ) -> None:
        """Holding a file of some other run's folder (or a step's log of this run)
        does not make a process this run's driver."""
        other = tmp_path / ".dataferry" / "runs"
        for held in (
            other / "exp_2_9999ffff" / "driver.log",
            other / record.id / "only_1234abcd" / "stdout.txt",
        ):
            with _holding(held) as holder:
                here = replace(
                    record, driver_host=HERE, driver_pid=holder.pid, heartbeat_at=ago(1)
                )
                assert driver_state(here, WS) == (
                    False,
                    f"its driver (pid {holder.pid}) is gone",
                )

    def test_no_driver_recorded_yet_on_this_host(self, record: RunRecord) -> None:
        """Between submitting (or claiming) a run and recording its driver's pid."""
        here = replace(record, driver_host=HERE)

        alive, why = driver_state(replace(here, created_at=ago(1)), WS)
        assert alive
        assert re.fullmatch(
            r"waiting for its driver to start on this host: none runs or is recorded "
            rf"yet, {SECONDS} after the run was submitted or claimed; it counts as gone "
            r"after 10 s",
            why,
        )
        assert driver_state(replace(here, created_at=ago(60)), WS) == (
            False,
            "no driver runs it on this host, and none was recorded 60 s after it was "
            "submitted or claimed",
        )

    @pytest.mark.parametrize("host", [HERE, None], ids=["this-host", "no-host"])
    def test_an_unrecorded_driver_that_runs_is_found(
        self,
        record: RunRecord,
        stand_in: subprocess.Popen[bytes],
        host: str | None,
    ) -> None:
        alive, why = driver_state(
            replace(record, driver_host=host, created_at=ago(60)), WS
        )

        assert alive
        assert re.fullmatch(
            rf"its driver \(pid {stand_in.pid} on this host\) is starting: no heartbeat "
            r"yet, \d+\.\d s after it was submitted",
            why,
        )

    def test_no_host_and_no_driver_waits_for_a_heartbeat(
        self, record: RunRecord
    ) -> None:
        """A run row from before hosts were recorded at submit: nothing runs it here."""
        alive, why = driver_state(replace(record, created_at=ago(1)), WS)

        assert alive
        assert re.fullmatch(
            r"waiting for the first heartbeat of its driver \(no host recorded yet\): "
            rf"{SECONDS} after the run was submitted; it counts as gone after 10 s "
            r"without one",
            why,
        )

    def test_live_driver_with_a_stale_heartbeat_is_not_orphaned(
        self, record: RunRecord, stand_in: subprocess.Popen[bytes]
    ) -> None:
        """A stuck driver still runs: resuming beside it would make two drivers."""
        stale = replace(
            record, driver_host=HERE, driver_pid=stand_in.pid, heartbeat_at=ago(60)
        )

        assert driver_state(stale, WS) == (
            True,
            f"its driver (pid {stand_in.pid} on this host) still runs but its heartbeat "
            f"is 60 s old; if it is stuck, stop it (kill {stand_in.pid}) and resume",
        )


@contextlib.contextmanager
def _holding(path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process (not a driver by its command line) that keeps ``path`` open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ready = path.parent / f".{path.name}.ready"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; fh = open(sys.argv[1], 'a'); "
            "open(sys.argv[2], 'w').close(); time.sleep(60)",
            str(path),
            str(ready),
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():
            assert time.monotonic() < deadline, "the holding process never started"
            time.sleep(0.01)
        yield process
    finally:
        process.kill()
        process.wait()
