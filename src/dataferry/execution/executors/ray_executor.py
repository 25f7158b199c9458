"""Each step as one Ray task on a cluster (``ray_task.run_step`` runs its command).

Ray is imported only here, when a run has a step on a Ray target. Tasks have
``max_retries=0``: attempts are dataferry's. A task whose worker or node was lost
(``WorkerCrashedError``, ``NodeDiedError``, ``ObjectLostError``) is told apart from a
script that failed (an exit code) and is submitted again, up to the target's
``lost_node_retries``; each retry is a fresh attempt: ``on_lost`` (the driver's) discards
what the lost attempt staged before the task is submitted again. A step that no live
node can run (pinned by label to a node that is gone) fails with
``ComputeNodeUnavailableError`` rather than waiting; one lost too often with
``ComputeNodeLostError``, on the handle's ``failure``. Cancel is Ray's soft cancel (the
task stops the step's process group), then ``force=True`` after a grace.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dataferry._extras import import_extra
from dataferry.errors import (
    ComputeNodeLostError,
    ComputeNodeUnavailableError,
    ComputeUnreachableError,
)
from dataferry.execution.executors import ray_logs, ray_task
from dataferry.execution.executors.ray_fit import check_fits
from dataferry.execution.parallel.ray_pool import ADDRESS_VARIABLE, OPTIONS_VARIABLE

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from dataferry.execution.executors.base import PreparedStep
    from dataferry.execution.node_spec import NodeResult

# a soft cancel stops the child within ray_task's grace; force only after that
_FORCE_AFTER_S = ray_task.GRACE_S + 2.0
_STOP_WAIT_S = 30.0
# how often a waiting task's cluster is asked whether a node can still run it: a GCS
# call, so not on every turn of the driver's loop
_FIT_CHECK_S = 2.0
# a node may still be joining (or restarting): no live node must fit for this long
# before the step is failed
UNFIT_GRACE_S = 10.0
_CANCELLED = -int(signal.SIGTERM)
# a step whose node was lost more often than its retries allow ends with this code
LOST_EXIT_CODE = 1
_LOCAL_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # bind on 127.0.0.1 only
    "RAY_AUTH_MODE": "disabled",  # a Ray of the driver's own, on loopback
}
_LOCAL_OBJECT_STORE_BYTES = (
    256 * 2**20
)  # only small specs and results travel as objects
_connect_lock = threading.Lock()
_connected: list[str] = []  # the address this process is connected to


@dataclass
class RayHandle:
    """A step running as a Ray task: its current task, and what its loop must do."""

    step_run_id: str
    step: PreparedStep
    ref: Any = None
    lost: int = 0  # attempts lost with their worker or node
    deadline: float | None = None
    force_at: float | None = None
    cancelled: bool = False
    timed_out: bool = False
    failure: Exception | None = None  # why it failed, when not its script's exit code
    fit_checked: float = 0.0
    unfit_since: float | None = None
    read_fd: int | None = None
    waiter: threading.Thread | None = field(default=None, repr=False)
    # what the step runner handed back (a step with a ``node_spec``), once it ended
    node_result: NodeResult | None = None
    logs_pulled: float = 0.0  # when its node's logs were last taken from the relay


class RayExecutor:
    """Runs steps as Ray tasks on the cluster at ``address``.

    Args:
        address: ``ray://host:port``, a GCS ``host:port``, or ``local`` (start a Ray of
            this process's own).
        options: Ray task options every step asks for (``num_cpus``, ``memory``...);
            a step's own ``resources`` go on top (``step_options``).
        lost_node_retries: how often a step whose worker or node was lost runs again.
        on_lost: called as ``on_lost(step_run_id, attempt, reason)`` before a retry;
            it discards what the lost attempt staged (a fresh attempt).
    """

    name = "ray"

    def __init__(
        self,
        address: str,
        options: Mapping[str, Any],
        lost_node_retries: int,
        on_lost: Callable[[str, int, str], None] | None = None,
    ) -> None:
        self.address = address
        self.options = dict(options)
        self.lost_node_retries = lost_node_retries
        self.on_lost = on_lost
        self._remote: Any = None
        self._runner: Any = None
        self._relay: Any = None  # the LogRelay actor, made for the first runner step

    # -- connecting ----------------------------------------------------------------------

    def connect(self) -> Any:
        """Connect this process to the cluster (once); return the ``ray`` module.

        Raises:
            ExtraNotInstalledError: Ray is not installed.
            ComputeUnreachableError: the cluster cannot be reached, or this process is
                connected to another one already.
        """
        ray = import_extra("ray", "ray", f"running steps on Ray ({self.address})")
        with _connect_lock:
            if not _connected:
                _init(ray, self.address)
                _connected.append(self.address)
            elif _connected[0] != self.address:
                raise ComputeUnreachableError(
                    f"this driver is connected to the Ray cluster at {_connected[0]} "
                    f"and cannot also use {self.address}: one run uses one Ray "
                    "cluster; give its Ray steps targets with the same address."
                )
        if self._remote is None:
            ray.cloudpickle.register_pickle_by_value(ray_task)  # no dataferry on nodes
            self._remote = ray.remote(max_retries=0, retry_exceptions=False)(
                ray_task.run_step
            )
            # by reference: the nodes import dataferry (the runner needs storage)
            from dataferry.execution.step_runner import run_on_node

            self._runner = ray.remote(max_retries=0, retry_exceptions=False)(
                run_on_node
            )
        return ray

    def node_count(self) -> int:
        """How many nodes of the cluster are alive.

        Raises:
            ComputeUnreachableError: the cluster cannot be reached.
        """
        ray = self.connect()
        return sum(1 for node in ray.nodes() if node.get("Alive"))

    # -- the Executor protocol -----------------------------------------------------------

    def prepare(self, step: PreparedStep) -> None:
        """Connect to the cluster; make the step's log folder (shared with the nodes).

        Raises:
            ComputeUnreachableError: the cluster cannot be reached.
        """
        self.connect()
        os.makedirs(os.path.dirname(step.stdout_path), exist_ok=True)

    def start(
        self, step: PreparedStep, *, before_run: Callable[[RayHandle], None]
    ) -> RayHandle:
        """Record the step (``before_run``), then submit its task; return at once.

        Raises:
            Exception: whatever ``before_run`` raised; nothing was submitted.
        """
        deadline = time.monotonic() + step.timeout_s if step.timeout_s else None
        handle = RayHandle(step.step_run_id, step, deadline=deadline)
        before_run(handle)
        self._submit(handle)
        return handle

    def poll(self, handle: RayHandle) -> int | None:
        """The step's exit code once its task has ended, else None.

        A lost worker or node submits the task again while retries are left; a step
        past its time limit is cancelled; a cancel not done after the grace is forced.
        """
        ray = self.connect()
        ready, _ = ray.wait([handle.ref], timeout=0)
        if not ready:
            self._pull_logs(handle, at_end=False)
            self._enforce(ray, handle)
            return self._unfit(ray, handle)
        self._end_waiter(handle)
        self._pull_logs(handle, at_end=True)  # the node sent the last before ending
        try:
            return self._ended(handle, ray.get(handle.ref))
        except ray.exceptions.TaskCancelledError:
            return _CANCELLED
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
        ) as exc:
            return self._lost(handle, exc)
        except ray.exceptions.RayError as exc:
            if handle.cancelled:
                return _CANCELLED
            cause = getattr(exc, "cause", None)  # what the step runner raised
            if isinstance(cause, Exception) and not isinstance(
                cause, KeyboardInterrupt
            ):
                handle.failure = cause
                exc = cause
            _note(handle.step, f"the step's Ray task failed: {_first_line(exc)}")
            return LOST_EXIT_CODE

    def _ended(self, handle: RayHandle, value: Any) -> int:
        """The exit code a task returned (a step runner's ``NodeResult`` is kept on
        the handle for the commit)."""
        if handle.step.node_spec is None:
            return int(value)
        handle.node_result = value
        return int(value.exit_code)

    def cancel(self, handle: RayHandle) -> None:
        """Ask the task to stop its step (soft cancel); ``poll`` forces it after the
        grace period. Asking again changes nothing."""
        if handle.cancelled:
            return
        handle.cancelled = True
        handle.force_at = time.monotonic() + _FORCE_AFTER_S
        ray = self.connect()
        with contextlib.suppress(ray.exceptions.RayError, ValueError):
            ray.cancel(handle.ref, force=False)

    def stop(self, handle: RayHandle) -> int:
        """Cancel the step and wait until its task has ended; return its exit code."""
        self.cancel(handle)
        until = time.monotonic() + _STOP_WAIT_S
        while (code := self.poll(handle)) is None and time.monotonic() < until:
            time.sleep(0.05)
        return _CANCELLED if code is None else code

    def exit_fd(self, handle: RayHandle) -> int | None:
        """A pipe that becomes readable when the current task has ended."""
        return handle.read_fd

    def pid(self, handle: RayHandle) -> str:
        """``ray:<task id>`` of the current task (``ray:pending`` before submission)."""
        if handle.ref is None:
            return "ray:pending"
        return f"ray:{handle.ref.task_id().hex()}"

    # -- inside ------------------------------------------------------------------------

    def _submit(self, handle: RayHandle) -> None:
        step = handle.step
        options = step_options(self.options, step.resources)
        relay = None
        if step.node_spec is not None:  # the step runner binds, runs and stages there
            spec: Any = replace(step.node_spec, env=self._cluster_env())
            task, relay = self._runner, self._log_relay(ray_module=self.connect())
        else:
            spec = {
                "argv": list(step.argv),
                "cwd": step.cwd,
                "env": {**step.env, **self._cluster_env()},
                "stdout_path": step.stdout_path,
                "stderr_path": step.stderr_path,
            }
            task = self._remote
        remote = task.options(name=f"dataferry:{step.name}", **options)
        handle.node_result = None
        handle.ref = (
            remote.remote(spec, relay) if relay is not None else remote.remote(spec)
        )
        # the first look at the cluster comes a check period after submission: a
        # short step never pays for a GCS call
        handle.fit_checked = time.monotonic()
        self._watch(handle)

    def _log_relay(self, ray_module: Any) -> Any:
        """The run's ``LogRelay`` actor (made once, on the driver's node when it is
        one of the cluster's, so a lost worker node does not take it along)."""
        if self._relay is None:
            strategy = ray_module.util.scheduling_strategies
            here = ray_module.get_runtime_context().get_node_id()
            actor = ray_module.remote(num_cpus=0, max_restarts=0)(ray_logs.LogRelay)
            self._relay = actor.options(
                scheduling_strategy=strategy.NodeAffinitySchedulingStrategy(
                    here, soft=True
                ),
            ).remote()
        return self._relay

    def _pull_logs(self, handle: RayHandle, *, at_end: bool) -> None:
        """Append what the step's node sent since the last pull to its log files
        (at most every ``PULL_EVERY_S`` while it runs; always at its end)."""
        if handle.step.node_spec is None or self._relay is None:
            return
        moment = time.monotonic()
        if not at_end and moment - handle.logs_pulled < ray_logs.PULL_EVERY_S:
            return
        handle.logs_pulled = moment
        paths = {"stdout": handle.step.stdout_path, "stderr": handle.step.stderr_path}
        ray_logs.append_taken(self._relay, handle.step_run_id, paths)

    def _cluster_env(self) -> dict[str, str]:
        """What a step needs to start Ray work of its own on this cluster (a
        ParallelRunStep's actors): the GCS address, and the node labels its work
        must stay on."""
        ray = self.connect()
        try:
            address = str(ray.get_runtime_context().gcs_address)
        except (AttributeError, RuntimeError):  # a Ray Client driver has none
            address = self.address
        labels = self.options.get("label_selector")
        options = {"label_selector": labels} if labels else {}
        return {ADDRESS_VARIABLE: address, OPTIONS_VARIABLE: json.dumps(options)}

    def _watch(self, handle: RayHandle) -> None:
        """A thread that makes ``exit_fd`` readable when the task ends, so the
        driver's loop wakes at once rather than on its timeout."""
        read_fd, write_fd = os.pipe()
        ray = self.connect()
        ref = handle.ref

        def wait() -> None:
            try:
                with contextlib.suppress(Exception):
                    ray.wait([ref], timeout=None)
                os.write(write_fd, b"x")
            finally:
                os.close(write_fd)

        handle.read_fd = read_fd
        handle.waiter = threading.Thread(target=wait, daemon=True, name="ray-wait")
        handle.waiter.start()

    def _end_waiter(self, handle: RayHandle) -> None:
        if handle.waiter is not None:
            handle.waiter.join(timeout=5.0)
            handle.waiter = None
        if handle.read_fd is not None:
            os.close(handle.read_fd)
            handle.read_fd = None

    def _enforce(self, ray: Any, handle: RayHandle) -> None:
        moment = time.monotonic()
        if handle.deadline is not None and moment > handle.deadline:
            handle.deadline = None
            handle.timed_out = True
            self.cancel(handle)
        elif handle.force_at is not None and moment > handle.force_at:
            handle.force_at = None
            with contextlib.suppress(ray.exceptions.RayError, ValueError):
                ray.cancel(handle.ref, force=True)

    def _unfit(self, ray: Any, handle: RayHandle) -> int | None:
        """Fail a task that no live node has been able to run for ``UNFIT_GRACE_S``
        (its pinned node is gone): cancel it and return ``LOST_EXIT_CODE`` with
        ``failure`` set."""
        moment = time.monotonic()
        if handle.cancelled or moment - handle.fit_checked < _FIT_CHECK_S:
            return None
        handle.fit_checked = moment
        try:
            check_fits(
                ray.nodes(),
                step_options(self.options, handle.step.resources),
                _where(handle.step, self.address),
            )
        except ComputeNodeUnavailableError as exc:
            handle.unfit_since = handle.unfit_since or moment
            if moment - handle.unfit_since >= UNFIT_GRACE_S:
                return self._give_up(ray, handle, exc)
            return None
        handle.unfit_since = None
        return None

    def _give_up(self, ray: Any, handle: RayHandle, exc: Exception) -> int:
        handle.failure = exc
        _note(handle.step, str(exc))
        with contextlib.suppress(ray.exceptions.RayError, ValueError):
            ray.cancel(handle.ref, force=True)
        self._end_waiter(handle)
        return LOST_EXIT_CODE

    def _lost(self, handle: RayHandle, exc: BaseException) -> int | None:
        reason = f"{type(exc).__name__}: {_first_line(exc)}"
        if handle.cancelled:
            return _CANCELLED
        if handle.lost >= self.lost_node_retries:
            handle.failure = ComputeNodeLostError(
                f"{_where(handle.step, self.address)}: its Ray worker or node was "
                f"lost ({reason}); it was run {handle.lost + 1} time(s), as the "
                f"target's lost_node_retries={self.lost_node_retries} allows. Nothing "
                f"of it was committed: rerun the run from step '{handle.step.name}' "
                "once the cluster has its nodes, or raise lost_node_retries."
            )
            _note(handle.step, str(handle.failure))
            return LOST_EXIT_CODE
        handle.lost += 1
        _note(
            handle.step,
            f"the step's Ray worker or node was lost ({reason}); running it again "
            f"(attempt {handle.lost + 1} of {self.lost_node_retries + 1})",
        )
        # a node pinned by label may be the one lost: then the new task waits, and
        # ``_unfit`` fails it once no live node can run it
        if self.on_lost is not None:  # a fresh attempt: the lost one's outputs go
            self.on_lost(handle.step_run_id, handle.lost + 1, reason)
        self._submit(handle)
        return None


def join_cluster(address: str) -> Any:
    """Connect this process (a step on a node) to the cluster at ``address``; the
    ``ray`` module.

    Raises:
        ExtraNotInstalledError: Ray is not installed.
        ComputeUnreachableError: the cluster cannot be reached.
    """
    ray = import_extra("ray", "ray", f"running mini-batches on Ray ({address})")
    if not ray.is_initialized():
        _init(ray, address)
    return ray


def step_options(
    target: Mapping[str, Any], step: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A step's Ray task options: the target's, with the step's own ask on top (a
    ``num_cpus``/``num_gpus``/``memory`` it sets replaces the target's; its custom
    ``resources`` are merged into the target's, its amount winning)."""
    options = dict(target)
    for key, value in (step or {}).items():
        if key == "resources":
            options["resources"] = {**(target.get("resources") or {}), **value}
        else:
            options[key] = value
    return options


def _init(ray: Any, address: str) -> None:
    """``ray.init`` for ``address``, quiet and without a dashboard.

    Raises:
        ComputeUnreachableError: Ray could not connect (or start, for ``local``).
    """
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING"}
    try:
        if address == "local":
            for key, value in _LOCAL_ENV.items():
                os.environ.setdefault(key, value)
            ray.init(
                include_dashboard=False,
                object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
                _node_ip_address="127.0.0.1",
                **quiet,
            )
        else:
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(address=address, _node_ip_address=_own_ip(address), **quiet)
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
        raise ComputeUnreachableError(
            f"cannot connect to the Ray cluster at {address}: {_first_line(exc)}; "
            "check that it runs and that the address is its GCS host:port (or "
            "ray://host:port for Ray Client)."
        ) from exc


def _own_ip(address: str) -> str | None:
    """This machine's address on the route to the GCS at ``address`` (a UDP connect
    sends nothing), so the driver finds its node's raylet on a cluster whose head is
    not on loopback; None for a ``ray://`` client address or an unknown host."""
    if address.startswith("ray://"):
        return None
    host = address.rpartition(":")[0].strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 1))
            return str(probe.getsockname()[0])
    except OSError:
        return None


def _note(step: PreparedStep, message: str) -> None:
    """Append a line to the step's stderr log, where its reader looks first."""
    with contextlib.suppress(OSError), open(step.stderr_path, "a") as err:
        err.write(f"dataferry: {message}\n")


def _where(step: PreparedStep, address: str) -> str:
    return f"step '{step.name}' on the Ray cluster at {address}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
