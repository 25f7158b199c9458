"""The local executor stops steps without blocking, and the loop's sleep ends on events.

Real processes throughout: ``cancel`` returns at once, ``poll`` reports the end and
kills what ignores SIGTERM after the grace period, ``stop`` waits, and the pidfd a
handle carries becomes readable when the process ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import socket
import sys
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import psutil
import pytest

from dataferry.execution.executors import LocalExecutor, PreparedStep
from dataferry.execution.executors import local as local_module
from dataferry.execution.executors.local import LocalStart
from dataferry.execution.processes import nudge_driver
from dataferry.execution.wakeup import Wakeup

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.execution.executors.local import LocalHandle

pytestmark = pytest.mark.skipif(
    not hasattr(os, "pidfd_open"), reason="needs Linux pidfds"
)

STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)


def start(tmp_path: Path, code: str) -> tuple[LocalExecutor, LocalHandle]:
    executor = LocalExecutor()
    step = PreparedStep(
        step_run_id="s1",
        name="s",
        argv=[sys.executable, "-c", code],
        cwd=str(tmp_path),
        env=dict(os.environ),
        stdout_path=str(tmp_path / "logs" / "stdout.txt"),
        stderr_path=str(tmp_path / "logs" / "stderr.txt"),
    )
    executor.prepare(step)
    return executor, executor.start(step, before_run=lambda handle: None)


def wait_for_line(path: Path, line: str) -> None:
    deadline = time.monotonic() + 30
    while line not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{line!r} never appeared in {path}"
        time.sleep(0.01)


def poll_until_ended(executor: LocalExecutor, handle: LocalHandle) -> int:
    deadline = time.monotonic() + 30
    while (code := executor.poll(handle)) is None:
        assert time.monotonic() < deadline, "the step never ended"
        time.sleep(0.01)
    return code


class TestCancel:
    def test_cancel_returns_at_once_and_poll_reports_the_end(
        self, tmp_path: Path
    ) -> None:
        executor, handle = start(tmp_path, "import time; time.sleep(60)")
        asked = time.monotonic()
        executor.cancel(handle)
        assert time.monotonic() - asked < 0.5
        assert poll_until_ended(executor, handle) == -15
        assert handle.exit_fd is None  # closed once the end was reported

    def test_a_step_ignoring_sigterm_is_killed_after_the_grace_period(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(local_module, "_GRACE_S", 0.5)
        executor, handle = start(tmp_path, STUBBORN)
        wait_for_line(tmp_path / "logs" / "stdout.txt", "ready")
        asked = time.monotonic()
        executor.cancel(handle)
        assert time.monotonic() - asked < 0.3  # the cancel itself never waits
        assert executor.poll(handle) is None  # still in its grace period
        assert poll_until_ended(executor, handle) == -9
        assert time.monotonic() - asked >= 0.5

    def test_stop_waits_for_the_end(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(local_module, "_GRACE_S", 0.5)
        executor, handle = start(tmp_path, STUBBORN)
        wait_for_line(tmp_path / "logs" / "stdout.txt", "ready")
        assert executor.stop(handle) == -9
        assert handle.process.returncode == -9
        assert handle.exit_fd is None

    def test_a_step_past_its_time_limit_is_stopped_through_poll(
        self, tmp_path: Path
    ) -> None:
        executor, handle = start(tmp_path, "import time; time.sleep(60)")
        handle.deadline = time.monotonic()  # its time is up
        assert executor.poll(handle) is None  # asked to stop, not waited for
        assert poll_until_ended(executor, handle) == -15


class TestWaking:
    def test_the_exit_fd_is_readable_once_the_process_ends(
        self, tmp_path: Path
    ) -> None:
        executor, handle = start(tmp_path, "import time; time.sleep(0.3)")
        fd = executor.exit_fd(handle)
        assert fd is not None
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        assert poller.poll(0) == []  # still running
        assert poller.poll(30_000) != []
        assert executor.poll(handle) == 0

    def test_wait_ends_on_a_process_exit(self, tmp_path: Path) -> None:
        executor, handle = start(tmp_path, "import time; time.sleep(0.2)")
        wakeup = Wakeup()
        try:
            fd = executor.exit_fd(handle)
            assert fd is not None
            began = time.monotonic()
            wakeup.wait([fd], 30.0)
            assert time.monotonic() - began < 10
            assert handle.process.poll() == 0
        finally:
            wakeup.close()

    def test_wait_ends_on_a_wake_from_another_thread(self) -> None:
        wakeup = Wakeup()
        try:
            waker = threading.Timer(0.1, wakeup.wake)
            began = time.monotonic()
            waker.start()
            wakeup.wait([], 30.0)
            assert time.monotonic() - began < 10
            waker.join()
            began = time.monotonic()
            wakeup.wait([], 0.05)  # the wake was taken: this one times out
            assert time.monotonic() - began >= 0.04
        finally:
            wakeup.close()

    def test_many_wakes_never_block_the_waker(self) -> None:
        wakeup = Wakeup()
        # one byte a wake: just past what this pipe holds is enough to fill it
        capacity = fcntl.fcntl(wakeup._write, fcntl.F_GETPIPE_SZ)
        try:
            for _ in range(capacity + 1_000):
                wakeup.wake()
            wakeup.wait([], 1.0)
        finally:
            wakeup.close()


class TestNudge:
    def test_only_a_driver_of_the_run_on_this_host_is_nudged(
        self, tmp_path: Path
    ) -> None:
        here = socket.gethostname()
        assert nudge_driver("run-1", here, None, tmp_path) is False
        assert nudge_driver("run-1", "another-host", os.getpid(), tmp_path) is False
        # this test process is alive but is no driver of run-1
        assert nudge_driver("run-1", here, os.getpid(), tmp_path) is False


MARKS = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text('ran')\n"


def marking_step(tmp_path: Path, code: str = MARKS) -> PreparedStep:
    """A step that writes ``ran`` into ``tmp_path/ran.txt``."""
    return PreparedStep(
        step_run_id="s1",
        name="s",
        argv=[sys.executable, "-c", code, str(tmp_path / "ran.txt")],
        cwd=str(tmp_path),
        env=dict(os.environ),
        stdout_path=str(tmp_path / "logs" / "stdout.txt"),
        stderr_path=str(tmp_path / "logs" / "stderr.txt"),
    )


def children_in(folder: Path) -> list[int]:
    """This process's children working in ``folder`` (a session may have others)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # ended meanwhile
            if child.cwd() == str(folder):
                found.append(child.pid)
    return found


class TestRecordedFirst:
    """A step is on record before its process exists (issue 8, item 6: no shell is
    started in front of it to hold it until then)."""

    def test_before_run_is_called_before_the_process_exists(
        self, tmp_path: Path
    ) -> None:
        executor = LocalExecutor()
        step = marking_step(tmp_path)
        executor.prepare(step)
        seen: list[tuple[object, object, list[int]]] = []

        def record(pending: LocalStart) -> None:
            seen.append((pending, executor.pid(pending), children_in(tmp_path)))

        handle = executor.start(step, before_run=record)
        assert poll_until_ended(executor, handle) == 0
        assert seen == [(LocalStart("s1"), None, [])]
        assert (tmp_path / "ran.txt").read_text() == "ran"
        assert executor.pid(handle) == handle.process.pid

    def test_a_failing_record_starts_no_process(self, tmp_path: Path) -> None:
        executor = LocalExecutor()
        step = marking_step(tmp_path)
        executor.prepare(step)

        def refuse(_pending: LocalStart) -> None:
            raise RuntimeError("the catalog refused the Running row")

        with pytest.raises(
            RuntimeError, match=r"^the catalog refused the Running row$"
        ):
            executor.start(step, before_run=refuse)
        assert children_in(tmp_path) == []
        assert not (tmp_path / "ran.txt").exists()

    @pytest.mark.parametrize("code", [MARKS, "import time; time.sleep(60)"])
    def test_the_process_is_the_step_itself(self, tmp_path: Path, code: str) -> None:
        """The started pid runs the step's own program from the first instant, in its
        own session, reading ``/dev/null``: one ``exec`` a step."""
        executor = LocalExecutor()
        step = marking_step(tmp_path, code)
        executor.prepare(step)
        handle = executor.start(step, before_run=lambda _pending: None)
        try:
            process = psutil.Process(handle.process.pid)
            assert process.exe() == os.path.realpath(sys.executable)
            assert os.getsid(process.pid) == process.pid
            assert os.readlink(f"/proc/{process.pid}/fd/0") == os.devnull
        finally:
            executor.stop(handle)

    def test_a_program_that_cannot_start_raises_after_the_record(
        self, tmp_path: Path
    ) -> None:
        executor = LocalExecutor()
        step = replace(marking_step(tmp_path), argv=[str(tmp_path / "no-such-program")])
        executor.prepare(step)
        recorded: list[LocalStart] = []
        with pytest.raises(FileNotFoundError, match="no-such-program"):
            executor.start(step, before_run=recorded.append)
        assert recorded == [LocalStart("s1")]
