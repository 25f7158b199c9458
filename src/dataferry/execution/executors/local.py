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
# The step's process first waits for one line on stdin, then becomes the step's command
# (same pid, group and folder). The driver sends the line once it has recorded the pid;
# if the driver dies before that, the pipe closes, `read` fails and the step never runs.
_GATE = 'IFS= read -r go || exit 125; exec "$@" </dev/null'


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

    def start(
        self, step: PreparedStep, *, before_run: Callable[[LocalHandle], None]
    ) -> LocalHandle:
        """Start the step's process, stdout and stderr going to its log files.

        The process is held before the step's command runs until ``before_run(handle)``
        has returned, so whoever started it is on record first.

        Raises:
            OSError: the process could not be started.
            Exception: whatever ``before_run`` raised; the held process is stopped.
        """
        hold, release = os.pipe()
        try:
            with (
                open(step.stdout_path, "ab") as out,
                open(step.stderr_path, "ab") as err,
            ):
                process = subprocess.Popen(
                    ["/bin/sh", "-c", _GATE, "dataferry-step", *step.argv],
                    cwd=step.cwd,
                    env=dict(step.env),
                    stdin=hold,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,  # its own group: cancel reaches its children
                )
        except BaseException:
            os.close(release)
            raise
        finally:
            os.close(hold)
        deadline = time.monotonic() + step.timeout_s if step.timeout_s else None
        handle = LocalHandle(step.step_run_id, process, deadline=deadline)
        try:
            before_run(handle)
        except BaseException:
            os.close(release)  # end of input: the held process exits without running
            process.wait()
            raise
        try:
            with contextlib.suppress(BrokenPipeError):  # it died: poll reports how
                os.write(release, b"go\n")
        finally:
            os.close(release)
        return handle

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
