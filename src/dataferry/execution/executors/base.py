"""The small interface every executor implements: prepare, start, poll, cancel, stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from dataferry.execution.node_spec import NodeSpec


@dataclass(frozen=True)
class PreparedStep:
    """A step ready to run: its command line, folder, environment and log files.

    ``compute_target``: the target the step names (None: none), which chooses its
    executor when a run has steps on more than one kind (``executors.per_step``);
    ``resources``: what the step asks its nodes for on top of the target's;
    ``node_spec``: the step runs through its step runner on a node (only a Ray
    executor takes such a step)."""

    step_run_id: str
    name: str
    argv: Sequence[str]
    cwd: str
    env: Mapping[str, str]
    stdout_path: str
    stderr_path: str
    timeout_s: float | None = None
    compute_target: str | None = None
    # runconfig.step_resources: what the step asks of its target's nodes
    resources: Mapping[str, Any] | None = None
    # set: a step runner on the step's node runs it from this (``argv`` is empty)
    node_spec: NodeSpec | None = None


class StepHandle(Protocol):
    """What ``start`` returns; the executor alone knows what is inside."""

    step_run_id: str


class Executor(Protocol):
    """Runs prepared steps. The driver's loop is the same whatever the executor."""

    name: str

    def prepare(self, step: PreparedStep) -> None:
        """Anything needed before ``start`` (ship code, create folders)."""

    def start(
        self, step: PreparedStep, *, before_run: Callable[[Any], None]
    ) -> StepHandle:
        """Start the step; return at once.

        ``before_run(handle)`` is called before the step's own code runs, which waits
        for it to return: whoever started the step records it there, so no step writes
        anything that is not on record. If it raises, the step never runs.
        """

    def poll(self, handle: Any) -> int | None:
        """The exit code once the step has ended, else None.

        Also where a step past its time limit, or asked to stop and still running
        after a grace period, is stopped harder: call it on every turn of the loop.
        """

    def cancel(self, handle: Any) -> None:
        """Ask the step and everything it started to stop; return at once.

        ``poll`` reports when it has ended and stops it harder after a grace period.
        """

    def stop(self, handle: Any) -> int:
        """Stop the step and everything it started, and wait until it has ended
        (for a driver that cannot go on looping); return its exit code."""

    def exit_fd(self, handle: Any) -> int | None:
        """A file descriptor that becomes readable when the step ends, to wake the
        loop; None if the executor has none (the loop then wakes on its timeout)."""

    def pid(self, handle: Any) -> Any:
        """An identifier of the running step, for logs (a pid, a task id)."""
