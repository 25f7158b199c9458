"""A step whose inputs take a while to prepare shows ``Preparing`` with what it is
doing, while the driver's loop goes on: other steps run and finish, and a cancel ends
the run at once (the preparing step never starts its process).

The slowness is real and under the test's control: a small fsspec filesystem over a
local folder (``gated://``, registered in the test and in the driver process) whose
reads wait while a ``hold-read`` file exists and whose downloads wait while a
``hold-get`` file exists, so each stage lasts exactly as long as the test wants.
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import TYPE_CHECKING

import fsspec
import pytest
from click.testing import CliRunner
from pipeline.kit import WAIT_S, ScriptedDriver, step, wait_until, write_script

from dataferry import (
    Datastore,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog.run_store import RunStore
from dataferry.cli import app
from dataferry.execution import views
from dataferry.execution.processes import is_running, step_processes
from dataferry.execution.run_layout import run_dir

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dataferry import PipelineRun

pytestmark = pytest.mark.slow

GATED_FS = '''
"""A local folder served as a remote store whose reads and downloads wait at gates."""
import os
import time

from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractFileSystem


class GatedFileSystem(AbstractFileSystem):
    protocol = "gated"
    root_marker = "/"

    def __init__(self, gates="", **kwargs):
        super().__init__(**kwargs)
        self.gates = gates
        self.local = LocalFileSystem(auto_mkdir=True)

    def _wait(self, gate):
        deadline = time.monotonic() + 120  # a test that dies leaves no driver hanging
        while os.path.exists(os.path.join(self.gates, gate)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} stayed closed")
            time.sleep(0.01)

    def ls(self, path, detail=True, **kwargs):
        return self.local.ls(path, detail=detail, **kwargs)

    def info(self, path, **kwargs):
        return self.local.info(path, **kwargs)

    def _open(self, path, mode="rb", **kwargs):
        if "r" in mode:
            self._wait("hold-read")
        return self.local._open(path, mode, **kwargs)

    def get_file(self, rpath, lpath, callback=None, **kwargs):
        # copies half a file, tells the callback, waits at hold-half, copies the rest
        self._wait("hold-get")
        with open(rpath, "rb") as fh:
            data = fh.read()
        half = len(data) // 2
        with open(lpath, "wb") as out:
            out.write(data[:half])
            if callback is not None:
                callback.set_size(len(data))
                callback.relative_update(half)
            self._wait("hold-half")
            out.write(data[half:])
        if callback is not None:
            callback.relative_update(len(data) - half)

    def rm_file(self, path):
        self.local.rm_file(path)
'''
GATED_DRIVER = """
import sys
sys.path.insert(0, sys.argv[3])
import fsspec, gatedfs
fsspec.register_implementation("gated", gatedfs.GatedFileSystem, clobber=True)
from dataferry.execution import driver
sys.exit(driver.main(sys.argv[1:3]))
"""
# Each step notes that it ran, then writes its output.
STEP = """
import os, sys
name, ran, out = sys.argv[1:4]
with open(ran, "a") as fh:
    fh.write(name + "\\n")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "done.txt"), "w") as fh:
    fh.write(name)
"""


@pytest.fixture
def gated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workspace: Workspace
) -> Iterator[Gates]:
    """The ``gated`` protocol known here and in drivers, and a datastore on it."""
    module_dir = tmp_path / "fsmodule"
    write_script(module_dir, "gatedfs.py", GATED_FS)
    monkeypatch.syspath_prepend(str(module_dir))
    sys.modules.pop("gatedfs", None)
    gatedfs = importlib.import_module("gatedfs")
    fsspec.register_implementation("gated", gatedfs.GatedFileSystem, clobber=True)
    script = tmp_path / "gated_driver.py"
    script.write_text(GATED_DRIVER)
    driver = ScriptedDriver(script, [str(module_dir)])
    driver.install(monkeypatch)
    gates = Gates(workspace, tmp_path, driver)
    try:
        yield gates
    finally:
        gates.open("hold-read", "hold-get", "hold-half")
        driver.reap()


class Gates:
    """The gates of the ``gated`` datastore, and a pipeline reading from it."""

    def __init__(self, ws: Workspace, tmp_path: Path, driver: ScriptedDriver) -> None:
        self.ws = ws
        self.folder = tmp_path / "gates"
        self.folder.mkdir()
        self.driver = driver
        root = tmp_path / "remote"
        (root / "raw").mkdir(parents=True)
        for i in range(3):
            (root / "raw" / f"part-{i}.csv").write_text(f"id\n{i}\n")
        Datastore.register_fsspec(
            ws, "gated", f"gated://{root}", gates=str(self.folder)
        )
        self.code = write_script(tmp_path / "code", "step.py", STEP)
        self.ran = tmp_path / "ran.txt"
        # both steps prepare or run at once, whatever the machine's CPU count
        ws.catalog.set_setting("max_concurrency", 4)

    def close(self, *gates: str) -> None:
        for gate in gates:
            (self.folder / gate).touch()

    def open(self, *gates: str) -> None:
        for gate in gates:
            (self.folder / gate).unlink(missing_ok=True)

    def submit(self, mode: str) -> PipelineRun:
        """``slow`` reads ``gated:/raw`` (in ``mode``); ``quick`` reads nothing."""
        raw = Datastore.get(self.ws, "gated").path("raw", data_reference_name="raw")

        def make(name: str, *inputs: object) -> PythonScriptStep:
            return PythonScriptStep(
                "step.py",
                name=name,
                source_directory=str(self.code),
                arguments=[name, str(self.ran), OutputFileDatasetConfig(f"{name}_out")],
                inputs=list(inputs),
                allow_reuse=False,
            )

        source = raw.as_download() if mode == "download" else raw.as_mount()
        slow = make("slow", source)
        quick = make("quick")
        return Pipeline(self.ws, steps=[slow, quick]).submit("gated")

    def steps_ran(self) -> list[str]:
        return self.ran.read_text().split() if self.ran.exists() else []


def shown(ws: Workspace, run_id: str) -> str:
    """What ``dataferry runs show RUN`` prints."""
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["-w", str(ws.path.parent), "runs", "show", run_id], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.output


def step_view(ws: Workspace, run_id: str, name: str) -> views.StepView:
    (found,) = [s for s in views.run_detail(ws, run_id).steps if s.name == name]
    return found


def preparing(ws: Workspace, run_id: str, stage: str) -> bool:
    view = step_view(ws, run_id, "slow")
    return view.status == "Preparing" and view.stage == stage


class TestPreparing:
    def test_stages_are_shown_while_another_step_finishes(
        self, workspace: Workspace, gated: Gates
    ) -> None:
        gated.close("hold-read", "hold-get")
        run = gated.submit("download")
        wait_until(
            lambda: preparing(workspace, run.id, "hashing input 'raw'"),
            "slow showing that it hashes its input",
        )
        # the loop is not held up by the hash: quick runs and finishes meanwhile
        wait_until(
            lambda: step_view(workspace, run.id, "quick").status == "Finished",
            "quick finishing while slow prepares",
        )
        assert gated.steps_ran() == ["quick"]
        output = shown(workspace, run.id)
        assert "Preparing: hashing input 'raw'" in output
        assert step(run, "slow").get_details()["stage"] == "hashing input 'raw'"
        held_since = time.monotonic()

        gated.open("hold-read")
        wait_until(
            lambda: preparing(workspace, run.id, "downloading input 'raw'"),
            "slow showing that it downloads its input",
        )
        assert "Preparing: downloading input 'raw'" in shown(workspace, run.id)
        time.sleep(0.5)
        gated.open("hold-get")
        assert (
            run.wait_for_completion(show_output=False, timeout_seconds=WAIT_S)
            == "Finished"
        )
        held_s = time.monotonic() - held_since
        slow = step_view(workspace, run.id, "slow")
        assert slow.stage is None
        assert "stage" not in step(run, "slow").get_details()
        # its time counts from the start of its preparation, not of its process
        assert slow.duration_s is not None and slow.duration_s >= held_s
        assert sorted(gated.steps_ran()) == ["quick", "slow"]

    def test_a_mount_without_fuse_shows_its_copy_as_a_download(
        self, workspace: Workspace, gated: Gates, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("DATAFERRY_FUSE", "off")  # the fallback: a download
        gated.close("hold-get")
        run = gated.submit("mount")
        wait_until(
            lambda: preparing(workspace, run.id, "downloading input 'raw'"),
            "slow showing that it copies its mounted input",
        )
        gated.open("hold-get")
        assert (
            run.wait_for_completion(show_output=False, timeout_seconds=WAIT_S)
            == "Finished"
        )

    def test_a_download_shows_bytes_and_files_as_they_move(
        self, workspace: Workspace, gated: Gates
    ) -> None:
        gated.close("hold-half")  # the first file stops half copied
        run = gated.submit("download")

        def half_way() -> bool:
            view = step_view(workspace, run.id, "slow")
            return view.status == "Preparing" and (view.stage or "").startswith(
                "downloading input 'raw': 2 B of 15 B, 0 of 3 files, "
            )

        wait_until(half_way, "slow showing the bytes of its download so far")
        assert "Preparing: downloading input 'raw': 2 B of 15 B" in shown(
            workspace, run.id
        )
        gated.open("hold-half")
        assert (
            run.wait_for_completion(show_output=False, timeout_seconds=WAIT_S)
            == "Finished"
        )


class TestCancelWhilePreparing:
    @pytest.mark.parametrize(
        ("gate", "stage"),
        [("hold-read", "hashing input 'raw'"), ("hold-get", "downloading input 'raw'")],
    )
    def test_the_run_ends_canceled_at_once_and_the_step_never_runs(
        self, workspace: Workspace, gated: Gates, gate: str, stage: str
    ) -> None:
        gated.close(gate)
        run = gated.submit("download")
        wait_until(
            lambda: preparing(workspace, run.id, stage), f"slow showing {stage!r}"
        )
        asked = time.monotonic()
        run.cancel()
        # the preparation is still held at its gate: the loop does not wait for it
        status = views.wait_for_status(workspace, run.id, timeout_s=WAIT_S, poll_s=0.02)
        took = time.monotonic() - asked
        assert status == "Canceled"
        assert took < 3.0, f"the cancel took {took:.1f} s"
        slow = step_view(workspace, run.id, "slow")
        assert slow.status == "Canceled"
        assert slow.error == "the run was canceled"
        assert slow.log_dir is None  # never recorded as started
        assert "pid" not in step(run, "slow").get_details()

        gated.open(gate)  # the preparation goes on to its next stage, and stops there
        (driver,) = gated.driver.started
        assert driver.wait(timeout=WAIT_S) == 1
        assert "slow" not in gated.steps_ran()
        assert RunStore(workspace.catalog).leases_of_run(run.id) == []
        assert step_processes(run_dir(workspace, run.id)) == []


class TestDriverFailure:
    def test_a_failing_driver_stops_its_step_processes_first(
        self, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An error escaping the loop while a step's process runs: the process (and
        its child) is gone before the run is marked Failed."""
        script = tmp_path / "broken_driver.py"
        script.write_text(BROKEN_DRIVER)
        pids = tmp_path / "pids.txt"
        driver = ScriptedDriver(script, [str(pids)])
        driver.install(monkeypatch)
        code = write_script(tmp_path / "code", "sleeper.py", SLEEPER)
        sleeper = PythonScriptStep(
            "sleeper.py",
            name="sleeper",
            source_directory=str(code),
            arguments=[str(pids)],
            allow_reuse=False,
        )
        try:
            run = Pipeline(workspace, steps=[sleeper]).submit("broken")
            (process,) = driver.started
            assert process.wait(timeout=WAIT_S) == 1
        finally:
            driver.reap()
        step_pid, child_pid = map(int, pids.read_text().split())
        assert not is_running(step_pid)
        assert not is_running(child_pid)
        assert run.get_status() == "Failed"
        assert RunStore(workspace.catalog).get_run(run.id).error == (
            "driver failed: the loop broke"
        )
        details = step(run, "sleeper").get_details()
        assert details["status"] == "Canceled"
        assert details["error"] == (
            "stopped: the driver failed (RuntimeError: the loop broke)"
        )


# A step that starts a child, says both pids, then sleeps far longer than the test.
SLEEPER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
with open(sys.argv[1] + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}")
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)
"""
# A driver whose loop breaks once its step has said its pids.
BROKEN_DRIVER = """
import os, sys
from dataferry.execution import driver

real = driver.Driver._poll_processes
def poll(self):
    if os.path.exists(sys.argv[3]):
        raise RuntimeError("the loop broke")
    return real(self)
driver.Driver._poll_processes = poll
sys.exit(driver.main(sys.argv[1:3]))
"""
