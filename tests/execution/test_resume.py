"""Resuming a run whose driver died, and rerunning a run from one of its steps.

The pipeline is a chain ``a -> b -> c``. Every attempt of a step appends its name to an
attempts log, so a test can tell exactly which steps ran how often. In the kill tests,
``b``'s first attempt writes part of its output, tells the test (a marker file with its
pid) and waits; later attempts go straight through. Other tests stop the driver at an
exact point with a driver that SIGKILLs itself there.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import (
    WAIT_S,
    ScriptedDriver,
    is_alive,
    run_pipeline,
    step,
    wait_gone,
    wait_until,
    write_script,
)

from dataferry import (
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog import now
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import TERMINAL, RunStatus, StepStatus
from dataferry.errors import RunNotFoundError, RunStateError, StepNotFoundError
from dataferry.execution import views
from dataferry.execution.commit import STAGING_DIR
from dataferry.execution.input_places import mount_records
from dataferry.execution.pipeline_run import PipelineRun
from dataferry.execution.processes import step_processes
from dataferry.execution.resume import is_orphaned, resume_run
from dataferry.execution.run_layout import run_dir, step_dir
from dataferry.storage.fuse_mount import clean_recorded_mounts

if TYPE_CHECKING:
    from collections.abc import Iterator


STEP = """
import json, os, sys, time
src, dst, marker, attempts, name = sys.argv[1:6]
with open(attempts, "a") as fh:
    fh.write(name + "\\n")
os.makedirs(dst, exist_ok=True)
with open(os.path.join(dst, "part-0.bin"), "wb") as fh:
    fh.write(b"x" * 65536)
if marker != "-" and not os.path.exists(marker):  # first attempt: signal, then wait
    with open(marker + ".tmp", "w") as fh:
        json.dump({"pid": os.getpid(), "out": dst}, fh)
    os.replace(marker + ".tmp", marker)
    deadline = time.monotonic() + 120  # a forgotten step ends on its own
    while time.monotonic() < deadline:
        time.sleep(0.02)
    sys.exit(3)
with open(os.path.join(dst, "part-1.bin"), "wb") as fh:
    fh.write(b"y" * 2000)
"""

# A driver that SIGKILLs itself as it records step `b` as Running: before the write
# ("before-running") or right after it, before it starts b's process ("after-running").
CRASHING_DRIVER = """
import os, signal, sys
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import StepStatus
from dataferry.execution import driver

workspace, run_id, point = sys.argv[1:4]
assert point in ("before-running", "after-running")
real = RunStore.move_step

def move_step(self, step_run_id, to, **kwargs):
    crash = step_run_id.startswith("b_") and to == StepStatus.RUNNING
    if crash and point == "before-running":
        os.kill(os.getpid(), signal.SIGKILL)
    moved = real(self, step_run_id, to, **kwargs)
    if crash:
        os.kill(os.getpid(), signal.SIGKILL)
    return moved

RunStore.move_step = move_step
sys.exit(driver.main([workspace, run_id]))
"""
DATASET = "resume_second"


@dataclass
class Chain:
    """The pipeline and the files its steps talk through."""

    pipeline: Pipeline
    marker: Path
    attempts: Path

    def attempts_made(self) -> list[str]:
        return self.attempts.read_text().split() if self.attempts.exists() else []


def chain(ws: Workspace, tmp_path: Path, *, wait_in_b: bool) -> Chain:
    code = write_script(tmp_path / "code", "step.py", STEP)
    marker, attempts = tmp_path / "b-ready.json", tmp_path / "attempts.txt"
    first = OutputFileDatasetConfig("first")
    second = OutputFileDatasetConfig("second").as_upload().register_on_complete(DATASET)
    third = OutputFileDatasetConfig("third")

    def make(name: str, src: Any, out: Any, waits: bool = False) -> PythonScriptStep:
        return PythonScriptStep(
            "step.py",
            name=name,
            source_directory=str(code),
            arguments=[src, out, str(marker) if waits else "-", str(attempts), name],
        )

    make("a", "-", first)
    make("b", first.as_input("first"), second, waits=wait_in_b)
    last = make("c", second.as_input("second"), third)
    return Chain(Pipeline(ws, steps=[last]), marker, attempts)


def _wait_ready(run: PipelineRun, marker: Path) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while not marker.exists():
        if run.get_status() in TERMINAL or time.monotonic() > deadline:
            pytest.fail(f"b never signalled; run {run.get_details()}")
        time.sleep(0.02)
    ready: dict[str, Any] = json.loads(marker.read_text())
    return ready


def _finish(run: PipelineRun) -> str:
    return run.wait_for_completion(
        show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
    )


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def _expected_files(run: PipelineRun) -> list[str]:
    """Each step's output, committed once, at ``dataset/<step run>/<output>``."""
    outputs = {"a": "first", "b": "second", "c": "third"}
    return sorted(
        f"dataset/{step(run, name).id}/{out}/{part}"
        for name, out in outputs.items()
        for part in ("part-0.bin", "part-1.bin")
    )


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


@pytest.fixture
def stray_pids() -> Iterator[list[int]]:
    """Pids to SIGKILL at teardown if a failing test left them running."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)


@dataclass
class Orphan:
    """A run whose driver was SIGKILLed while ``b`` was writing."""

    run: PipelineRun
    chain: Chain
    step_pid: int  # b's first attempt, still running
    driver_pid: int


@pytest.fixture
def orphan(
    workspace: Workspace, tmp_path: Path, stray_pids: list[int]
) -> Iterator[Orphan]:
    setup = chain(workspace, tmp_path, wait_in_b=True)
    run = setup.pipeline.submit("resume")
    ready = _wait_ready(run, setup.marker)
    stray_pids.append(ready["pid"])
    store = RunStore(workspace.catalog)
    driver_pid = store.get_run(run.id).driver_pid
    assert driver_pid is not None
    stray_pids.append(driver_pid)
    # a live run cannot be resumed
    with pytest.raises(
        RunStateError,
        match=rf"^run {run.id} is still running \(its driver \(pid {driver_pid} on this "
        r"host\) is alive, last heartbeat \d+\.\d s ago\); wait for it, or cancel it",
    ):
        run.resume()

    os.kill(driver_pid, signal.SIGKILL)
    wait_gone(driver_pid)

    assert is_orphaned(store.get_run(run.id), workspace)
    assert step(run, "a").get_status() == "Finished"
    assert step(run, "b").get_status() == "Running"
    yield Orphan(run, setup, ready["pid"], driver_pid)
    # a test that does not resume leaves the dead driver's mounts: resume's job
    for s in run.get_steps():
        clean_recorded_mounts(mount_records(step_dir(workspace, run.id, s.id)))


@pytest.mark.slow
class TestResume:
    def test_kill_9_of_the_driver_then_resume(
        self, workspace: Workspace, store_root: Path, orphan: Orphan
    ) -> None:
        store = RunStore(workspace.catalog)
        run = orphan.run
        a_before = store.get_step_run(step(run, "a").id)
        b_id = step(run, "b").id
        assert store.leases_of_run(run.id) != []
        assert (store_root / STAGING_DIR / b_id).is_dir()

        assert run.resume() is run
        status = _finish(run)

        assert status == "Finished", run.get_details()
        assert not is_alive(orphan.step_pid)  # b's first attempt was stopped
        # a was kept as it was; b was restarted once; c ran once
        assert store.get_step_run(a_before.id) == a_before
        assert orphan.chain.attempts_made() == ["a", "b", "b", "c"]
        # every output committed exactly once, nothing left in staging or leased
        for name in ("a", "b", "c"):
            (record,) = store.outputs_of(step(run, name).id)
            assert record.deleted_at is None
        assert _files_under(store_root) == _expected_files(run)
        assert store.leases_of_run(run.id) == []
        (version,) = workspace.catalog.list_versions(DATASET)
        assert version.producer_step_run_id == b_id
        assert not is_orphaned(store.get_run(run.id), workspace)

    def test_cancel_asked_before_resume_is_carried_out(
        self, workspace: Workspace, store_root: Path, orphan: Orphan
    ) -> None:
        # asked where the run's processes are out of reach (another host): only recorded
        RunStore(workspace.catalog).move_run(orphan.run.id, RunStatus.CANCEL_REQUESTED)

        orphan.run.resume()
        status = _finish(orphan.run)

        assert status == "Canceled"
        store = RunStore(workspace.catalog)
        assert store.outputs_of(step(orphan.run, "b").id) == []
        assert orphan.chain.attempts_made() == ["a", "b"]
        assert workspace.catalog.list_versions(DATASET) == []
        assert [f.split("/")[1] for f in _files_under(store_root)] == [
            step(orphan.run, "a").id
        ] * 2

    def test_cancel_of_an_orphan_resumes_it_to_carry_the_cancel_out(
        self, workspace: Workspace, orphan: Orphan
    ) -> None:
        orphan.run.cancel()

        assert _finish(orphan.run) == "Canceled"
        assert step(orphan.run, "b").get_status() == "Canceled"
        assert RunStore(workspace.catalog).outputs_of(step(orphan.run, "b").id) == []
        assert orphan.chain.attempts_made() == ["a", "b"]  # b did not run again
        with pytest.raises(
            RunStateError, match=rf"run {orphan.run.id} has ended \(Canceled\)"
        ):
            orphan.run.resume()

    def test_resume_twice(self, workspace: Workspace, orphan: Orphan) -> None:
        """Of two processes resuming the same run, the second is refused."""
        store = RunStore(workspace.catalog)
        record = store.get_run(orphan.run.id)
        claim = {"status": "Running", "heartbeat_at": now(), "driver_pid": None}

        assert store.claim_run(record.id, seen_heartbeat=record.heartbeat_at, **claim)
        assert not store.claim_run(
            record.id, seen_heartbeat=record.heartbeat_at, **claim
        )
        # the claim's fresh heartbeat makes the run look alive to a later resume
        with pytest.raises(RunStateError, match=r"is still running"):
            orphan.run.resume()
        # un-claim
        store.update_run(
            record.id, heartbeat_at=record.heartbeat_at, driver_pid=record.driver_pid
        )

        orphan.run.resume()
        assert _finish(orphan.run) == "Finished"


@pytest.fixture
def crashing_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[ScriptedDriver]:
    """``submit`` starts a driver that SIGKILLs itself at ``args[0]`` (test's choice)."""
    script = tmp_path / "crashing_driver.py"
    script.write_text(CRASHING_DRIVER)
    driver = ScriptedDriver(script)
    driver.install(monkeypatch)
    yield driver
    driver.reap()


class TestResumeRefused:
    @pytest.mark.slow
    def test_finished_run(self, workspace: Workspace, tmp_path: Path) -> None:
        run = run_pipeline(chain(workspace, tmp_path, wait_in_b=False).pipeline)
        assert run.get_status() == "Finished"

        with pytest.raises(
            RunStateError,
            match=rf"run {run.id} has ended \(Finished\) and cannot be resumed; "
            r"to run its steps again, use run.rerun\(from_step='STEP'\)",
        ):
            run.resume()

    def test_unknown_run(self, workspace: Workspace) -> None:
        with pytest.raises(RunNotFoundError, match=r"no run with id 'nope'"):
            resume_run(workspace, "nope")
        with pytest.raises(RunNotFoundError, match=r"no run with id 'nope'"):
            PipelineRun(Experiment(workspace, "resume"), "nope")


@pytest.mark.slow
class TestRerunFrom:
    def test_rerun_from_a_middle_step(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        setup = chain(workspace, tmp_path, wait_in_b=False)
        first = run_pipeline(setup.pipeline)
        assert first.get_status() == "Finished"

        second = first.rerun(from_step="b")
        assert _finish(second) == "Finished"

        assert second.id != first.id
        assert second.get_details()["options"]["rerun_of"] == first.id
        assert {s.name: s.get_details()["explanation"] for s in second.get_steps()} == {
            "a": f"reused from run {first.id} (step run {step(first, 'a').id})",
            "b": "rerun: asked to rerun from this step",
            "c": "rerun: downstream of step 'b', which was asked to rerun",
        }
        assert setup.attempts_made() == ["a", "b", "c", "b", "c"]
        assert len(workspace.catalog.list_versions(DATASET)) == 2

    def test_rerun_of_an_unknown_step(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        first = run_pipeline(chain(workspace, tmp_path, wait_in_b=False).pipeline)

        with pytest.raises(
            StepNotFoundError,
            match=rf"run {first.id} has no step named 'train'; its steps are: a, b, c\.$",
        ):
            first.rerun(from_step="train")

    def test_rerun_of_a_run_that_has_not_ended(self, orphan: Orphan) -> None:
        with pytest.raises(
            RunStateError,
            match=rf"run {orphan.run.id} has not ended \(Running\); resume or cancel",
        ):
            orphan.run.rerun(from_step="b")


# A step that starts two children writing into its output, then waits: one child left
# the step's folder, the other also dropped its environment. Later attempts go through.
CHILDREN_STEP = """
import json, os, subprocess, sys, time
dst, marker = sys.argv[1:3]
os.makedirs(dst, exist_ok=True)
if os.path.exists(marker):
    with open(os.path.join(dst, "done.txt"), "w") as fh:
        fh.write("ok")
    sys.exit(0)
writer = '''
import os, sys, time
while True:  # a folder removed under it is made again: it writes on, whatever happens
    os.makedirs(sys.argv[1], exist_ok=True)
    with open(os.path.join(sys.argv[1], "late-%d.txt" % os.getpid()), "a") as fh:
        fh.write("x")
    time.sleep(0.02)
'''
kept = subprocess.Popen([sys.executable, "-c", writer, dst], cwd="/")
cleared = subprocess.Popen([sys.executable, "-c", writer, dst], cwd="/", env={})
with open(marker + ".tmp", "w") as fh:
    json.dump({"pid": os.getpid(), "children": [kept.pid, cleared.pid]}, fh)
os.replace(marker + ".tmp", marker)
time.sleep(120)
"""


@pytest.mark.slow
class TestEveryStepProcessIsStopped:
    """Resume stops every process the run's steps started, whatever their rows say."""

    def test_driver_killed_between_starting_a_step_and_recording_it(
        self,
        workspace: Workspace,
        store_root: Path,
        tmp_path: Path,
        crashing_driver: ScriptedDriver,
    ) -> None:
        """A step's process is started only once the driver has recorded it: the
        driver died first, so the step never ran (its row says it has not begun,
        truly: its process was never started), and runs once."""
        crashing_driver.args = ["before-running"]
        setup = chain(workspace, tmp_path, wait_in_b=False)
        run = setup.pipeline.submit("resume")
        (driver,) = crashing_driver.started
        assert driver.wait(timeout=WAIT_S) == -signal.SIGKILL
        store = RunStore(workspace.catalog)
        b = store.get_step_run(step(run, "b").id)
        # a step whose preparation ends within 0.1 s is recorded as begun only with its
        # move to Running: NotStarted; a slower one was shown Preparing meanwhile
        assert b.status in ("NotStarted", "Preparing")
        assert (store_root / STAGING_DIR / b.id).is_dir()  # prepared, never released
        folder = run_dir(workspace, run.id)
        wait_until(lambda: step_processes(folder) == [], "the held step's exit")
        assert setup.attempts_made() == ["a"]

        resume_run(workspace, run.id)

        assert _finish(run) == "Finished", run.get_details()
        assert setup.attempts_made() == ["a", "b", "c"]
        assert _files_under(store_root) == _expected_files(run)
        assert store.leases_of_run(run.id) == []

    def test_driver_killed_between_recording_a_step_and_starting_it(
        self,
        workspace: Workspace,
        store_root: Path,
        tmp_path: Path,
        crashing_driver: ScriptedDriver,
    ) -> None:
        """The step is on record as Running, with its output commits, but its process
        was never started: resume finds nothing to stop, settles the commits and runs
        the step once."""
        crashing_driver.args = ["after-running"]
        setup = chain(workspace, tmp_path, wait_in_b=False)
        run = setup.pipeline.submit("resume")
        (driver,) = crashing_driver.started
        assert driver.wait(timeout=WAIT_S) == -signal.SIGKILL
        store = RunStore(workspace.catalog)
        b = store.get_step_run(step(run, "b").id)
        assert b.status == "Running"
        last = views.events_since(workspace, run.id)[-1]  # b's move, its last word
        assert (last.step_name, last.kind, last.payload["to"]) == (
            "b",
            "step_status",
            "Running",
        )
        assert step_processes(run_dir(workspace, run.id)) == []
        assert setup.attempts_made() == ["a"]

        resume_run(workspace, run.id)

        assert _finish(run) == "Finished", run.get_details()
        assert setup.attempts_made() == ["a", "b", "c"]
        assert _files_under(store_root) == _expected_files(run)
        assert store.leases_of_run(run.id) == []

    def test_a_step_recorded_as_not_started_is_stopped(
        self, workspace: Workspace, store_root: Path, orphan: Orphan
    ) -> None:
        """A row that says NotStarted (as a driver that died before recording leaves it)
        does not hide the step's process: it is found by its folder and stopped."""
        store = RunStore(workspace.catalog)
        b_id = step(orphan.run, "b").id
        store.move_step(b_id, StepStatus.NOT_STARTED, started_at=None, details={})

        orphan.run.resume()

        assert _finish(orphan.run) == "Finished", orphan.run.get_details()
        assert not is_alive(orphan.step_pid)
        assert orphan.chain.attempts_made() == ["a", "b", "b", "c"]
        assert _files_under(store_root) == _expected_files(orphan.run)
        assert store.leases_of_run(orphan.run.id) == []

    def test_children_that_left_the_step_are_stopped(
        self,
        workspace: Workspace,
        store_root: Path,
        tmp_path: Path,
        stray_pids: list[int],
    ) -> None:
        """The step's own process is gone too; its children, one without the step's
        environment, keep writing into the output until resume stops them."""
        code = write_script(tmp_path / "code", "children.py", CHILDREN_STEP)
        marker = tmp_path / "ready.json"
        out = OutputFileDatasetConfig("out")
        writer = PythonScriptStep(
            "children.py",
            name="writer",
            source_directory=str(code),
            arguments=[out, str(marker)],
        )
        run = Pipeline(workspace, steps=[writer]).submit("resume")
        ready = _wait_ready(run, marker)
        stray_pids.extend([ready["pid"], *ready["children"]])
        store = RunStore(workspace.catalog)
        driver_pid = store.get_run(run.id).driver_pid
        assert driver_pid is not None
        for pid in (driver_pid, ready["pid"]):
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid)
        assert all(is_alive(pid) for pid in ready["children"])

        run.resume()

        assert _finish(run) == "Finished", run.get_details()
        assert not any(is_alive(pid) for pid in ready["children"])
        writer_id = step(run, "writer").id
        assert _files_under(store_root) == [f"dataset/{writer_id}/out/done.txt"]


@pytest.mark.slow
class TestCancelOfAnOrphan:
    """``runs cancel`` of a run whose driver died: nothing else would carry it out."""

    @pytest.mark.parametrize("times", [1, 2])
    def test_the_cli_carries_it_out_at_once(
        self, workspace: Workspace, tmp_path: Path, orphan: Orphan, times: int
    ) -> None:
        import subprocess
        import sys

        src = str(Path(__file__).resolve().parents[2] / "src")
        command = [sys.executable, "-m", "dataferry.cli", "-w", str(workspace.path)]
        started = time.monotonic()
        done = [
            subprocess.run(
                [*command, "runs", "cancel", "--timeout", "20", orphan.run.id],
                cwd=tmp_path,  # another working directory than the submitter's
                env={**os.environ, "PYTHONPATH": src},
                capture_output=True,
                text=True,
                timeout=WAIT_S,
                check=False,
            )
            for _ in range(times)
        ]

        assert done[0].returncode == 0, done[0].stderr
        assert f"Canceled run {orphan.run.id}." in done[0].stdout
        assert time.monotonic() - started < 15 * times  # not the 20 s timeout
        if times == 2:  # the second finds it canceled, and says so
            assert done[1].returncode == 0, done[1].stderr
            assert f"run {orphan.run.id} is already Canceled" in done[1].stdout
        assert orphan.run.get_status() == "Canceled"
        assert not is_alive(orphan.step_pid)  # b's process was stopped
        assert orphan.chain.attempts_made() == ["a", "b"]
        store = RunStore(workspace.catalog)
        assert [s.status for s in store.step_runs(orphan.run.id)] == [
            "Finished",
            "Canceled",
            "Canceled",
        ]
        assert store.leases_of_run(orphan.run.id) == []
