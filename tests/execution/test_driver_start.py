"""How a run's driver starts: forked from a single-threaded submitter (it outlives it,
is nobody's zombie, never runs the submitter's ``atexit`` handlers, and writes to the
run's ``driver.out``), or spawned as ``python -m dataferry.execution.driver`` when
another thread runs. Real processes and a real catalog throughout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import WAIT_S, wait_until, write_script

from dataferry import Pipeline, PythonScriptStep
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import TERMINAL
from dataferry.execution.driver_start import can_fork
from dataferry.execution.processes import DRIVER_MODULE, marked_driver
from dataferry.execution.run_layout import driver_out, run_dir

if TYPE_CHECKING:
    from dataferry import Workspace

SRC = str(Path(__file__).resolve().parents[2] / "src")
# holds the step (and so the driver) until the test has looked at the driver
STEP = """
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
print("step ran")
"""
# a user's script: an atexit handler, a submit, no wait; prints what it saw
SUBMITTER = """
import atexit, json, os, sys
from pathlib import Path
from dataferry import Pipeline, PythonScriptStep, Workspace

ws_dir, code, release, said = sys.argv[1:5]
atexit.register(lambda: open(said, "a").write(f"atexit in {os.getpid()}\\n"))
ws = Workspace(path=Path(ws_dir))
step = PythonScriptStep("step.py", name="hold", source_directory=code,
                        arguments=[release])
run = Pipeline(ws, steps=[step]).submit("start")
def parent(pid):  # None for a process that ended since /proc was listed
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
    except (FileNotFoundError, ProcessLookupError):
        return None
children = [int(p) for p in os.listdir("/proc")
            if p.isdigit() and parent(p) == str(os.getpid())]
print(json.dumps({"run": run.id, "pid": os.getpid(), "children": children}))
"""


@pytest.fixture(autouse=True)
def _without_the_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about a driver started by the submitting process itself."""
    monkeypatch.setenv("DATAFERRY_AGENT", "0")


def _link(pid: int, fd: int) -> str:
    return os.readlink(f"/proc/{pid}/fd/{fd}")


@pytest.mark.slow
class TestForkedDriver:
    def test_outlives_its_submitter_as_a_fresh_detached_process(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        code = write_script(tmp_path / "code", "step.py", STEP)
        release, said = tmp_path / "release", tmp_path / "atexit.txt"
        script = tmp_path / "submit.py"
        script.write_text(SUBMITTER)
        done = subprocess.run(
            [
                sys.executable,
                str(script),
                str(workspace.path),
                str(code),
                str(release),
                str(said),
            ],
            env={**os.environ, "PYTHONPATH": SRC},
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout.splitlines()[-1])
        folder = run_dir(workspace, seen["run"])
        driver = marked_driver(folder)

        try:
            # the submitter has ended; its driver runs on, in a session of its own, and
            # the middle process of the double fork was reaped: the submitter had no child
            assert driver is not None
            assert seen["children"] == []
            assert os.getsid(driver) not in (os.getsid(0), seen["pid"])
            assert _link(driver, 0) == os.devnull
            out = str(driver_out(workspace, seen["run"]))
            assert _link(driver, 1) == _link(driver, 2) == out
        finally:  # a failed check must not leave the step waiting forever
            release.touch()
        store = RunStore(workspace.catalog)
        wait_until(
            lambda: store.get_run(seen["run"]).status == "Finished", "the run's end"
        )
        record = store.get_run(seen["run"])
        assert (record.driver_pid, record.error) == (driver, None)
        # the user's atexit handler ran once, in the submitter, never in the driver
        assert said.read_text() == f"atexit in {seen['pid']}\n"
        wait_until(lambda: marked_driver(folder) is None, "the driver's exit")


@pytest.mark.slow
class TestSpawnFallback:
    def test_a_second_thread_means_a_spawned_driver(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        code = write_script(tmp_path / "code", "step.py", STEP)
        release = tmp_path / "release"
        step = PythonScriptStep(
            "step.py", name="hold", source_directory=str(code), arguments=[release]
        )
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        try:
            assert not can_fork()
            run = Pipeline(workspace, steps=[step]).submit("start")
        finally:
            stop.set()
            other.join()
        store = RunStore(workspace.catalog)
        pid = store.get_run(run.id).driver_pid  # recorded by submit: a spawned driver
        assert pid is not None
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:5] == [
            b"-m",
            DRIVER_MODULE.encode(),
            os.fsencode(workspace.path),
            run.id.encode(),
        ]
        release.touch()
        assert run.wait_for_completion(show_output=False) == "Finished"
        assert marked_driver(run_dir(workspace, run.id)) in (None, pid)


# A submitter that ignores SIGCHLD (children are reaped by the kernel), or holds a
# file lock and a regular file open, or runs a second thread (a spawned driver). Its
# one step fails with exit code 7 unless it is told to wait for a file to appear.
UNUSUAL_SUBMITTER = """
import fcntl, json, os, signal, sys, threading
from pathlib import Path
from dataferry import Pipeline, PythonScriptStep, Workspace

ws_dir, code, release, lock, how = sys.argv[1:6]
if "sigchld" in how:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
if "blocked" in how:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGCHLD})
held = open(lock, "w")
fcntl.flock(held, fcntl.LOCK_EX)
if "thread" in how:
    threading.Thread(target=threading.Event().wait, daemon=True).start()
ws = Workspace(path=Path(ws_dir))
step = PythonScriptStep("step.py", name="hold", source_directory=code,
                        arguments=[release])
run = Pipeline(ws, steps=[step]).submit("start")
print(json.dumps({"run": run.id}))
"""
FAILING_STEP = """
import os, sys, time
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
sys.exit(7)
"""


def _submit_unusually(
    workspace: Workspace, tmp_path: Path, how: str
) -> tuple[str, Path, Path]:
    """Run ``UNUSUAL_SUBMITTER`` to its end; (run id, release file, lock file)."""
    code = write_script(tmp_path / "code", "step.py", FAILING_STEP)
    release, lock = tmp_path / "release", tmp_path / "user.lock"
    script = tmp_path / "submit.py"
    script.write_text(UNUSUAL_SUBMITTER)
    args = [str(workspace.path), str(code), str(release), str(lock), how]
    done = subprocess.run(
        [sys.executable, str(script), *args],
        env={**os.environ, "PYTHONPATH": SRC},
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])["run"], release, lock


def _lock_is_free(lock: Path) -> bool:
    import fcntl

    with lock.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@pytest.mark.slow
class TestUnusualSubmitters:
    @pytest.mark.parametrize(
        "how", ["sigchld", "sigchld+thread", "blocked", "blocked+thread"]
    )
    def test_signal_settings_of_the_submitter_do_not_reach_the_driver(
        self, workspace: Workspace, tmp_path: Path, how: str
    ) -> None:
        # an ignored SIGCHLD made the submit raise ChildProcessError (fork), or the
        # spawned driver unable to collect its step's exit code: a failed step Finished
        run_id, release, _ = _submit_unusually(workspace, tmp_path, how)
        release.touch()
        store = RunStore(workspace.catalog)
        wait_until(lambda: store.run_status(run_id) == "Failed", "the run's end")
        (step_run,) = store.step_runs(run_id)
        assert (step_run.status, step_run.exit_code) == ("Failed", 7)

    @pytest.mark.parametrize("how", ["fork", "thread"])
    def test_the_driver_holds_none_of_the_submitters_files(
        self, workspace: Workspace, tmp_path: Path, how: str
    ) -> None:
        run_id, release, lock = _submit_unusually(workspace, tmp_path, how)
        # the submitter has exited; its lock went with it, though the driver runs on
        assert marked_driver(run_dir(workspace, run_id)) is not None or how == "thread"
        assert RunStore(workspace.catalog).run_status(run_id) not in TERMINAL
        assert _lock_is_free(lock)
        release.touch()
        store = RunStore(workspace.catalog)
        wait_until(lambda: store.run_status(run_id) == "Failed", "the run's end")
