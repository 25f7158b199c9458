"""``RayPool``: a ParallelRunStep's workers as Ray actors on the step's cluster.

Used when the step runs on a Ray compute target (the Ray executor gives the step
``DATAFERRY_RAY_ADDRESS``). One actor per worker, ``node_count *
process_count_per_node`` of them, ``process_count_per_node`` on each of ``node_count``
nodes (``ray_nodes``), each relaying to
a worker process on its node (``ray_relay``) that calls ``init()`` once and
``run(mini_batch)`` per call. Actors have ``max_restarts=0`` and
``max_task_retries=0``: the job owns the tries, so a lost actor is replaced and its
mini-batch reported failed (the job retries it up to ``run_max_try``). Only specs
and rows travel as Ray objects; workers read their data from the datastores.
Actors are owned by the job's process: if it is stopped (cancel), Ray ends them and
their workers with it.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.execution.parallel import ray_relay
from dataferry.execution.parallel.pool import BatchOutcome, init_error, stall_error
from dataferry.execution.parallel.ray_nodes import chosen_nodes, node_of

if TYPE_CHECKING:
    from dataferry.execution.parallel.batches import MiniBatch
    from dataferry.execution.parallel.worker import WorkerSpec

ADDRESS_VARIABLE = "DATAFERRY_RAY_ADDRESS"
OPTIONS_VARIABLE = "DATAFERRY_RAY_OPTIONS"  # JSON: the target's label_selector
_STOP_WAIT_S = 10.0
log = logging.getLogger(__name__)


def ray_address() -> str | None:
    """The cluster this step runs on (set by the Ray executor), or None (local)."""
    return os.environ.get(ADDRESS_VARIABLE) or None


@dataclass
class _Actor:
    agent: str
    handle: Any
    pending: Any  # the ref of its ``ready()`` or current ``run()`` call
    is_ready: bool = False
    batch: int | None = None
    deadline: float = 0.0


class RayPool:
    """``count`` Ray actors (``WorkerPool``), with ``ProcessPool``'s rules for
    ``init()`` failures and stalls.

    Raises (from ``collect``):
        ParallelRunError: ``init()`` failed ``max_init_failures`` times, or nothing
            progressed for ``stall_s`` seconds.
    """

    def __init__(
        self,
        ray: Any,
        spec: WorkerSpec,
        *,
        count: int,
        timeout_s: float,
        max_init_failures: int,
        stall_s: float,
        node_count: int = 1,
        per_node: int = 1,
    ) -> None:
        self._ray = ray
        self._spec = spec
        self._timeout_s = timeout_s
        self._max_init_failures = max_init_failures
        self._stall_s = stall_s
        self._progress_at = time.monotonic()
        self._init_failures = 0
        self._started = 0
        self._logs = Path(spec.log_dir, "sys", "worker")
        self._logs.mkdir(parents=True, exist_ok=True)
        ray.cloudpickle.register_pickle_by_value(ray_relay)  # no dataferry needed
        options = json.loads(os.environ.get(OPTIONS_VARIABLE) or "{}")
        self._relay = ray.remote(max_restarts=0, max_task_retries=0)(
            ray_relay.WorkerRelay
        )
        self._options = {"num_cpus": 0, **options}
        self._per_node = per_node
        labels = options.get("label_selector") or {}
        self._nodes = chosen_nodes(ray.nodes(), node_count, labels)
        log.info(
            "%d actors, %d a node, on nodes %s",
            count,
            per_node,
            ", ".join(self._nodes) or "Ray chooses",
        )
        self._actors = [self._start(slot) for slot in range(count)]

    def _placed(self, slot: int) -> Any:
        """The actor class with its options, pinned (softly) to its slot's node."""
        node = node_of(slot, self._per_node, self._nodes)
        if node is None:
            return self._relay.options(scheduling_strategy="SPREAD", **self._options)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        pinned = NodeAffinitySchedulingStrategy(node, soft=True)
        return self._relay.options(scheduling_strategy=pinned, **self._options)

    def _start(self, slot: int) -> _Actor:
        agent = f"process{self._started:03d}"
        self._started += 1
        spec = {
            "interpreter": sys.executable,
            "cwd": self._spec.source_dir,
            "env": dict(os.environ),
            "log_path": str(self._logs / f"{agent}.txt"),
            "worker_spec": pickle.dumps((self._spec, agent)),
        }
        handle = self._placed(slot).remote(spec)
        return _Actor(agent, handle, handle.ready.remote())

    def idle(self) -> int:
        """Ready actors without a mini-batch."""
        return sum(1 for a in self._actors if a.is_ready and a.batch is None)

    def submit(self, batch: MiniBatch) -> None:
        """Send ``batch`` to the first idle actor; its deadline starts now."""
        actor = next(a for a in self._actors if a.is_ready and a.batch is None)
        actor.batch = batch.index
        actor.deadline = time.monotonic() + self._timeout_s
        task = (batch.index, batch.payload, batch.partition, batch.dataset_id)
        actor.pending = actor.handle.run.remote(pickle.dumps(task))

    def collect(self, timeout_s: float) -> list[BatchOutcome]:
        """Outcomes of ended calls; lost or overdue actors are replaced."""
        self._wait(timeout_s)
        outcomes: list[BatchOutcome] = []
        for i, actor in enumerate(self._actors):
            outcome, is_lost = self._check(actor)
            if outcome is not None:
                outcomes.append(outcome)
            if is_lost:
                self._ray.kill(actor.handle, no_restart=True)
                log.info("worker %s ended; starting a new one", actor.agent)
                self._actors[i] = self._start(i)
        if outcomes:
            self._progress_at = time.monotonic()
        if not any(a.batch is not None for a in self._actors):
            idle_s = time.monotonic() - self._progress_at
            if idle_s > self._stall_s:
                raise stall_error(idle_s, self._stall_s, self._init_failures)
        return outcomes

    def _wait(self, timeout_s: float) -> None:
        """Until a call ends, ``timeout_s`` passes, or a deadline is reached."""
        now = time.monotonic()
        busy = [a.deadline - now for a in self._actors if a.batch is not None]
        wait_s = max(0.0, min([timeout_s, *busy]))
        refs = [a.pending for a in self._actors if a.pending is not None]
        if refs:
            self._ray.wait(refs, num_returns=1, timeout=wait_s)
        else:
            time.sleep(wait_s)

    def _check(self, actor: _Actor) -> tuple[BatchOutcome | None, bool]:
        """The outcome of an actor's ended call, if any, and whether it must go."""
        ray = self._ray
        overdue = actor.batch is not None and time.monotonic() > actor.deadline
        if actor.pending is None:
            return None, False
        ready, _ = ray.wait([actor.pending], timeout=0)
        if not ready:
            if not overdue:
                return None, False
            why = (
                f"run() did not return within run_invocation_timeout "
                f"({self._timeout_s:g}s); the worker was stopped"
            )
            return self._failed(actor, why), True
        ref, actor.pending = actor.pending, None
        try:
            # our own worker's answer, relayed unopened by our own actor
            message = pickle.loads(ray.get(ref))  # noqa: S301
        except ray.exceptions.RayError as exc:
            why = f"worker {actor.agent} was lost: {_first_line(exc)}"
            if actor.batch is None:
                self._init_failed(actor, why)
                return None, True
            return self._failed(actor, why), True
        return self._message(actor, message)

    def _message(
        self, actor: _Actor, message: tuple[Any, ...]
    ) -> tuple[BatchOutcome | None, bool]:
        if message[0] == "ready":
            actor.is_ready = True
            self._progress_at = time.monotonic()
            return None, False
        if message[0] == "init_failed":
            self._init_failed(actor, message[1])
            return None, True
        actor.batch = None
        if message[0] == "done":
            return BatchOutcome(message[1], True, rows=message[2]), False
        return BatchOutcome(message[1], False, error=message[2]), False

    def _failed(self, actor: _Actor, why: str) -> BatchOutcome:
        index, actor.batch = actor.batch, None
        return BatchOutcome(int(index or 0), False, error=why)

    def _init_failed(self, actor: _Actor, text: str) -> None:
        self._init_failures += 1
        log.warning(
            "init() failed in %s (failure %d of %d allowed):\n%s",
            actor.agent,
            self._init_failures,
            self._max_init_failures,
            text,
        )
        if self._init_failures >= self._max_init_failures:
            raise init_error(self._init_failures, self._max_init_failures, text)

    def close(self) -> None:
        """Ask each actor's worker to stop, then end every actor."""
        ray = self._ray
        stops = []
        for actor in self._actors:
            try:
                stops.append(actor.handle.stop.remote())
            except ray.exceptions.RayError:
                continue  # already gone
        if stops:
            ray.wait(stops, num_returns=len(stops), timeout=_STOP_WAIT_S)
        for actor in self._actors:
            ray.kill(actor.handle, no_restart=True)


def _first_line(exc: BaseException) -> str:
    """The first line of what went wrong: a failed actor call's own exception (a
    ``RayTaskError``'s first line only names the call)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        exc = cause
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
