"""Each step as its own process on this machine, in its own process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry.execution.executors.base import PreparedStep

_GRACE_S = 5.0


@dataclass(frozen=True)
class LocalStart:
    """A step about to be started: what ``before_run`` is given, before its process
    exists (its pid is not known yet)."""

    step_run_id: str


@dataclass
class LocalHandle:
    """A running local step.

    ``exit_fd``: a pidfd of the process (readable once it has ended), where the system
    has them; ``kill_at``: when a step asked to stop is killed if still running.
    """

    step_run_id: str
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None
    exit_fd: int | None = None
    kill_at: float | None = None
    timed_out: bool = False  # stopped because it ran past its time limit


def _pidfd(pid: int) -> int | None:
    """A pidfd of ``pid`` (Linux 5.3+), or None where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class LocalExecutor:
    """Runs steps as child processes; ``cancel`` stops the step's whole process group."""

    name = "local"

    def prepare(self, step: PreparedStep) -> None:
        """Make sure the log folder exists."""
        os.makedirs(os.path.dirname(step.stdout_path), exist_ok=True)

    def start(
        self, step: PreparedStep, *, before_run: Callable[[LocalStart], None]
    ) -> LocalHandle:
        """Record the step (``before_run``), then start its process, stdout and stderr
        going to its log files, stdin on ``/dev/null``; return at once.

        Recording first is what keeps a step from running off the record: a driver
        that dies before ``before_run`` has returned started nothing, and one that dies
        after it left a row saying Running, whose process resume finds by its folder
        (``processes.step_processes``). No process is held waiting for the record, so
        a step costs one ``exec``, its own.

        Raises:
            Exception: whatever ``before_run`` raised; no process was started.
            OSError: the process could not be started (after ``before_run``: the
                caller ends the recorded step).
        """
        before_run(LocalStart(step.step_run_id))
        with (
            open(step.stdout_path, "ab") as out,
            open(step.stderr_path, "ab") as err,
        ):
            process = subprocess.Popen(
                list(step.argv),
                cwd=step.cwd,
                env=dict(step.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own group: cancel reaches its children
            )
        deadline = time.monotonic() + step.timeout_s if step.timeout_s else None
        return LocalHandle(
            step.step_run_id, process, deadline=deadline, exit_fd=_pidfd(process.pid)
        )

    def poll(self, handle: LocalHandle) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs.

        A step past its time limit is asked to stop; one still running a grace period
        after it was asked is killed.
        """
        code = handle.process.poll()
        if code is not None:
            _close_exit_fd(handle)
            return code
        moment = time.monotonic()
        if handle.deadline is not None and moment > handle.deadline:
            handle.deadline = None
            handle.timed_out = True
            self.cancel(handle)
        elif handle.kill_at is not None and moment > handle.kill_at:
            handle.kill_at = None
            _signal_group(handle, signal.SIGKILL)
        return None

    def cancel(self, handle: LocalHandle) -> None:
        """SIGTERM the process group and return; ``poll`` SIGKILLs what is left after
        a grace period. Asking again changes nothing."""
        if handle.process.poll() is not None or handle.kill_at is not None:
            return
        handle.kill_at = time.monotonic() + _GRACE_S
        _signal_group(handle, signal.SIGTERM)

    def stop(self, handle: LocalHandle) -> int:
        """SIGTERM the process group (unless asked already), SIGKILL what is left after
        the grace period, and wait for the process to end; return its exit code."""
        self.cancel(handle)
        if handle.process.poll() is None:
            left = (handle.kill_at or time.monotonic()) - time.monotonic()
            try:
                handle.process.wait(timeout=max(left, 0.0))
            except subprocess.TimeoutExpired:
                _signal_group(handle, signal.SIGKILL)
        code = handle.process.wait()
        _close_exit_fd(handle)
        return code

    def exit_fd(self, handle: LocalHandle) -> int | None:
        """The process's pidfd while it runs (None where the system has none)."""
        return handle.exit_fd

    def pid(self, handle: LocalHandle | LocalStart) -> int | None:
        """The step's process id (None before its process is started)."""
        return handle.process.pid if isinstance(handle, LocalHandle) else None


def _signal_group(handle: LocalHandle, sig: signal.Signals) -> None:
    """Signal the step's process group (it runs in its own): its children too."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(handle.process.pid, sig)


def _close_exit_fd(handle: LocalHandle) -> None:
    if handle.exit_fd is not None:
        os.close(handle.exit_fd)
        handle.exit_fd = None
