"""Each step as its own process on this machine, in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataferry.execution.executors.base import PreparedStep

_GRACE_S = 5.0


@dataclass
class LocalHandle:
    """A running local step."""

    step_run_id: str
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None


class LocalExecutor:
    """Runs steps as child processes; ``cancel`` stops the step's whole process group."""

    name = "local"

    def prepare(self, step: PreparedStep) -> None:
        """Make sure the log folder exists."""
        os.makedirs(os.path.dirname(step.stdout_path), exist_ok=True)

    def start(self, step: PreparedStep) -> LocalHandle:
        """Start the step's process, stdout and stderr going to its log files."""
        with open(step.stdout_path, "ab") as out, open(step.stderr_path, "ab") as err:
            process = subprocess.Popen(
                list(step.argv),
                cwd=step.cwd,
                env=dict(step.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own group, so cancel reaches its children too
            )
        deadline = time.monotonic() + step.timeout_s if step.timeout_s else None
        return LocalHandle(step.step_run_id, process, deadline=deadline)

    def poll(self, handle: LocalHandle) -> int | None:
        """The exit code (negative: killed by that signal), or None while it runs."""
        code = handle.process.poll()
        if (
            code is None
            and handle.deadline is not None
            and time.monotonic() > handle.deadline
        ):
            self.cancel(handle)
            return handle.process.wait()
        return code

    def cancel(self, handle: LocalHandle) -> None:
        """SIGTERM the process group, then SIGKILL what is left after a grace period."""
        if handle.process.poll() is not None:
            return
        try:
            os.killpg(handle.process.pid, signal.SIGTERM)
            handle.process.wait(timeout=_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(handle.process.pid, signal.SIGKILL)
            handle.process.wait()
        except ProcessLookupError:
            pass

    def pid(self, handle: LocalHandle) -> int:
        """The step's process id."""
        return handle.process.pid
