"""Finding and stopping a run's processes on this host by where they work.

Real processes: each stand-in is a ``sleep`` in Python started with the environment or
working folder a step process has.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import WAIT_S, is_alive, wait_gone, wait_until

from dataferry.execution import run_layout
from dataferry.execution.processes import (
    RUN_CONTEXT_ENV,
    find_driver,
    is_running,
    mark_driver,
    marked_driver,
    pid_is_driver,
    step_processes,
    stop_processes,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

SLEEP = "import time; time.sleep(300)"  # longer than any wait here


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start a sleeping process (cwd, env, session as asked); all are killed at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start(
        *, cwd: Path, env: dict[str, str] | None = None, argv: list[str] | None = None
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            argv or [sys.executable, "-c", SLEEP],
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """``runs/<run>`` with one step folder and its ``wd``."""
    folder = tmp_path / "runs" / "exp_1_0123abcd"
    (folder / "b_00000000" / "wd" / "sub").mkdir(parents=True)
    return folder


def _context_env(step_dir: Path) -> dict[str, str]:
    return {**os.environ, RUN_CONTEXT_ENV: str(step_dir / "context.json")}


class TestStepProcesses:
    def test_found_by_environment_wherever_it_works(
        self, run_folder: Path, tmp_path: Path, spawn: Callable[..., Any]
    ) -> None:
        """A step's child that left the step's folder still carries its context."""
        moved = spawn(cwd=tmp_path, env=_context_env(run_folder / "b_00000000"))

        assert step_processes(run_folder) == [moved.pid]

    @pytest.mark.parametrize("where", ["wd", "wd/sub"])
    def test_found_by_working_folder(
        self, run_folder: Path, spawn: Callable[..., Any], where: str
    ) -> None:
        """A step process whose environment was cleared still works in the step's wd."""
        cleared = spawn(cwd=run_folder / "b_00000000" / where, env={})

        assert step_processes(run_folder) == [cleared.pid]

    def test_not_found_outside_the_steps(
        self, run_folder: Path, tmp_path: Path, spawn: Callable[..., Any]
    ) -> None:
        """A reader of the run's logs, or another run's step, is left alone."""
        other_run = tmp_path / "runs" / "exp_2_89abcdef" / "b_11111111"
        (other_run / "wd").mkdir(parents=True)
        spawn(cwd=run_folder, env={})  # e.g. `tail -f driver.log`
        spawn(cwd=run_folder / "b_00000000", env={})  # e.g. `less stdout.txt`
        spawn(cwd=other_run / "wd", env=_context_env(other_run))

        assert step_processes(run_folder) == []

    def test_the_asking_process_and_its_ancestors_are_spared(
        self, run_folder: Path, spawn: Callable[..., Any], tmp_path: Path
    ) -> None:
        """Resuming from a shell inside a step's folder stops neither the shell nor itself."""
        wd = run_folder / "b_00000000" / "wd"
        found = tmp_path / "found.json"
        ask = (
            "import json, sys; from pathlib import Path; "
            "from dataferry.execution.processes import step_processes; "
            "json.dump(step_processes(Path(sys.argv[1])), open(sys.argv[2], 'w'))"
        )
        # the shell waits for its child (no exec of the last command): an ancestor in wd
        script = f'"{sys.executable}" -c "$0" "$1" "$2"; exit $?'
        shell = spawn(
            cwd=wd,
            env=_context_env(wd.parent),
            argv=["/bin/sh", "-c", script, ask, str(run_folder), str(found)],
        )

        assert shell.wait(timeout=WAIT_S) == 0
        assert json.loads(found.read_text()) == []


class TestStopProcesses:
    def test_stops_the_process_and_its_group(
        self, run_folder: Path, spawn: Callable[..., Any], tmp_path: Path
    ) -> None:
        """A child that cleared its environment and left the folder is in the step's
        process group: stopping the step's process found reaches it too."""
        pids = tmp_path / "pids.json"
        leader = spawn(
            cwd=run_folder / "b_00000000" / "wd",
            argv=[
                sys.executable,
                "-c",
                "import json, os, subprocess, sys, time\n"
                f"c = subprocess.Popen([sys.executable, '-c', {SLEEP!r}], cwd='/', env={{}})\n"
                "with open(sys.argv[1] + '.tmp', 'w') as fh:\n"
                "    json.dump([c.pid], fh)\n"
                "os.replace(sys.argv[1] + '.tmp', sys.argv[1])\n"
                "time.sleep(60)\n",
                str(pids),
            ],
        )
        wait_until(pids.exists, "the step writing its children's pids")
        (child,) = json.loads(pids.read_text())

        assert stop_processes(step_processes(run_folder), wait_s=10) == []
        assert leader.wait(timeout=WAIT_S) == -signal.SIGKILL
        wait_gone(child)

    def test_gone_already(self) -> None:
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()

        assert stop_processes([gone.pid], wait_s=WAIT_S) == []


class TestFindDriver:
    def test_found_by_its_command_line(
        self, spawn: Callable[..., Any], tmp_path: Path
    ) -> None:
        stand_in = spawn(
            cwd=tmp_path,
            argv=[
                sys.executable,
                "-c",
                SLEEP,
                "dataferry.execution.driver",
                "ws",
                "r_1",
            ],
        )

        # seen once under load: the first look missed a process just started, so the
        # test waits (bounded) for the process table to show it
        wait_until(
            lambda: find_driver("r_1", tmp_path) == stand_in.pid, "the stand-in found"
        )
        assert find_driver("r_2", tmp_path) is None
        stand_in.kill()
        stand_in.wait()
        assert find_driver("r_1", tmp_path) is None
        assert not is_alive(stand_in.pid)


class TestDriverMark:
    """``driver.pid`` names one process by pid and start time (psutil, any platform)."""

    def test_this_process_marked_is_the_runs_driver(self, run_folder: Path) -> None:
        mark_driver(run_folder)
        assert marked_driver(run_folder) == os.getpid()
        assert pid_is_driver(os.getpid(), "exp_1_0123abcd", run_folder)

    def test_a_pid_with_another_start_time_is_not_the_driver(
        self, run_folder: Path
    ) -> None:
        mark_driver(run_folder)
        pid, started = run_layout.driver_mark(run_folder).read_text().split()
        later = f"{pid} {float(started) + 60:.3f}\n"
        run_layout.driver_mark(run_folder).write_text(later)
        assert marked_driver(run_folder) is None

    def test_a_process_that_ended_is_not_running(
        self, spawn: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
    ) -> None:
        process = spawn(cwd=tmp_path)
        assert is_running(process.pid)
        process.kill()
        process.wait()
        assert not is_running(process.pid)
