"""Who runs mini-batches: the small interface the job uses, and local processes.

``WorkerPool`` takes one mini-batch per idle worker and reports each try's outcome;
the job keeps the account and the retries, so another pool (Ray workers) only has
to implement these four calls. ``ProcessPool`` runs ``worker.serve`` in spawned
processes: a worker that dies or overruns ``run_invocation_timeout`` is killed and
replaced, and its mini-batch reported failed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any, Protocol

from dataferry.errors import ParallelRunError
from dataferry.execution.parallel.worker import WorkerSpec, serve

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from dataferry.execution.parallel.batches import MiniBatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOutcome:
    """One try of one mini-batch: its output rows, or why it failed."""

    index: int
    is_ok: bool
    rows: list[str] = field(default_factory=list)
    error: str = ""


class WorkerPool(Protocol):
    """Runs mini-batches on workers that each called ``init()`` once."""

    def idle(self) -> int:
        """How many workers can take a mini-batch now."""
        ...

    def submit(self, batch: MiniBatch) -> None:
        """Give ``batch`` to an idle worker."""
        ...

    def collect(self, timeout_s: float) -> list[BatchOutcome]:
        """The tries that ended, waiting up to ``timeout_s`` for one."""
        ...

    def close(self) -> None:
        """Stop every worker."""
        ...


@dataclass
class _Worker:
    agent: str
    process: BaseProcess
    conn: Connection
    is_ready: bool = False
    batch: int | None = None
    deadline: float = 0.0


class ProcessPool:
    """``count`` local worker processes (``WorkerPool``).

    A worker whose ``init()`` failed exits and is replaced. Azure ML fails the job
    after ``2 * node_count * process_count_per_node`` init failures once it has run
    2 minutes, or after ``3 * run_invocation_timeout + 30`` s without progress; here
    the job gives the count (``max_init_failures``) without the 2-minute wait, as
    a local retry costs a process start rather than a node, and keeps the
    no-progress rule (``stall_s``: no worker became ready and no try ended).

    Raises (from ``collect``):
        ParallelRunError: ``init()`` failed ``max_init_failures`` times, or nothing
            progressed for ``stall_s`` seconds (an ``init()`` that hangs).
    """

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        count: int,
        timeout_s: float,
        max_init_failures: int,
        stall_s: float,
    ) -> None:
        self._spec = spec
        self._timeout_s = timeout_s
        self._max_init_failures = max_init_failures
        self._stall_s = stall_s
        self._progress_at = time.monotonic()
        self._init_failures: list[str] = []
        self._context = multiprocessing.get_context("spawn")
        self._started = 0
        self._workers = [self._start() for _ in range(count)]

    def _start(self) -> _Worker:
        agent = f"process{self._started:03d}"
        self._started += 1
        ours, theirs = self._context.Pipe()
        process = self._context.Process(
            target=serve, args=(self._spec, agent, theirs), name=agent, daemon=True
        )
        process.start()
        theirs.close()
        return _Worker(agent, process, ours)

    def idle(self) -> int:
        """Ready workers without a mini-batch."""
        return sum(1 for w in self._workers if w.is_ready and w.batch is None)

    def submit(self, batch: MiniBatch) -> None:
        """Send ``batch`` to the first idle worker; its deadline starts now."""
        worker = next(w for w in self._workers if w.is_ready and w.batch is None)
        worker.batch = batch.index
        worker.deadline = time.monotonic() + self._timeout_s
        worker.conn.send(
            (batch.index, batch.payload, batch.partition, batch.dataset_id)
        )

    def collect(self, timeout_s: float) -> list[BatchOutcome]:
        """Outcomes of ended tries; dead or overdue workers are replaced."""
        busy = [w.deadline for w in self._workers if w.batch is not None]
        now = time.monotonic()
        wait_s = max(0.0, min([timeout_s, *(d - now for d in busy)]))
        handles: list[Any] = [w.conn for w in self._workers]
        handles += [w.process.sentinel for w in self._workers]
        wait(handles, wait_s)
        outcomes: list[BatchOutcome] = []
        for i, worker in enumerate(self._workers):
            outcome = self._check(worker)
            if outcome is not None:
                outcomes.append(outcome)
            if not worker.process.is_alive() and worker.batch is None:
                self._workers[i] = self._replace(worker)
        if outcomes:
            self._progress_at = time.monotonic()
        self._check_stall()
        return outcomes

    def _check_stall(self) -> None:
        """Fail when no worker is busy and nothing progressed for ``stall_s``."""
        if any(w.batch is not None for w in self._workers):
            return  # a busy worker is bounded by run_invocation_timeout
        idle_s = time.monotonic() - self._progress_at
        if idle_s > self._stall_s:
            raise stall_error(idle_s, self._stall_s, len(self._init_failures))

    def _check(self, worker: _Worker) -> BatchOutcome | None:
        """The outcome of a worker's message, death or overrun, if any."""
        if worker.conn.poll():
            try:
                return self._message(worker, worker.conn.recv())
            except EOFError:
                pass  # died after its last message: handled as a death below
        if not worker.process.is_alive() or (
            worker.batch is not None and time.monotonic() > worker.deadline
        ):
            overdue = worker.process.is_alive()
            worker.process.kill()
            worker.process.join()
            if worker.batch is None:
                return None
            why = (
                f"run() did not return within run_invocation_timeout "
                f"({self._timeout_s:g}s); the worker was stopped"
                if overdue
                else f"worker {worker.agent} died (exit code {worker.process.exitcode})"
            )
            index, worker.batch = worker.batch, None
            return BatchOutcome(index, False, error=why)
        return None

    def _message(
        self, worker: _Worker, message: tuple[Any, ...]
    ) -> BatchOutcome | None:
        if message[0] == "ready":
            worker.is_ready = True
            self._progress_at = time.monotonic()
            return None
        if message[0] == "init_failed":
            self._init_failures.append(message[1])
            failures = len(self._init_failures)
            log.warning(
                "init() failed in %s (failure %d of %d allowed):\n%s",
                worker.agent,
                failures,
                self._max_init_failures,
                message[1],
            )
            if failures >= self._max_init_failures:
                raise init_error(failures, self._max_init_failures, message[1])
            return None
        worker.batch = None
        if message[0] == "done":
            return BatchOutcome(message[1], True, rows=message[2])
        return BatchOutcome(message[1], False, error=message[2])

    def _replace(self, worker: _Worker) -> _Worker:
        worker.conn.close()
        log.info("worker %s ended; starting a new one", worker.agent)
        return self._start()

    def close(self) -> None:
        """Ask each worker to stop, then kill any that is still running."""
        for worker in self._workers:
            with contextlib.suppress(OSError):  # already gone
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()


def stall_error(idle_s: float, stall_s: float, init_failures: int) -> ParallelRunError:
    """The error of a pool in which nothing progressed for ``stall_s`` seconds."""
    return ParallelRunError(
        f"no worker became ready and no mini-batch ended for {idle_s:.0f}s "
        f"(limit 3 * run_invocation_timeout + 30 = {stall_s:g}s); "
        f"init() of the entry script hangs or its workers cannot start "
        f"({init_failures} init() failures). See logs/user/ and the step's log"
    )


def init_error(failures: int, limit: int, last: str) -> ParallelRunError:
    """The error of a pool whose workers' ``init()`` failed ``limit`` times."""
    return ParallelRunError(
        f"init() of the entry script failed {failures} times "
        f"(limit 2 * node_count * process_count_per_node = {limit}); fix init() "
        f"and resubmit. The last error:\n{last}"
    )
