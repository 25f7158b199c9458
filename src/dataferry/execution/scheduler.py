"""What runs next: a state machine over the plan's node ids, with no I/O and no clock.

The driver tells it what happened (a step began preparing, started, finished, failed,
stopped; the run was canceled) and asks it what to do (which steps to begin, which to
end without running, which running ones to stop). Everything else (processes, catalog
rows, messages) is the driver's.

A node goes ``WAITING -> PREPARING -> RUNNING -> FINISHED | FAILED``; a node that is
reused or fails before its process starts ends straight from ``PREPARING``. A node whose
upstream did not finish is ``SKIPPED``; a cancel (of the run, or by a failure when the
run does not continue on step failure) ends the nodes not yet running as ``CANCELLED``
and asks for the running ones to be stopped (``STOPPING``, then ``CANCELLED``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from dataferry.catalog.status import RunStatus
from dataferry.errors import SchedulerStateError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence


class Phase(Enum):
    """Where one node is, as the scheduler sees it."""

    WAITING = "waiting"
    PREPARING = "preparing"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "canceled"
    SKIPPED = "skipped"


ACTIVE = frozenset({Phase.PREPARING, Phase.RUNNING, Phase.STOPPING})
ENDED = frozenset({Phase.FINISHED, Phase.FAILED, Phase.CANCELLED, Phase.SKIPPED})


@dataclass(frozen=True, slots=True)
class Skip:
    """``node_id`` will not run because its upstream ``because`` did not finish."""

    node_id: str
    because: str


@dataclass(frozen=True, slots=True)
class Change:
    """What follows from one event: nodes that end without running, nodes to stop.

    ``skipped``: ended because an upstream did not finish (in plan order).
    ``cancelled``: ended by a cancel before their process started (waiting or
    preparing; a preparing one must not start its process).
    ``to_stop``: running nodes whose process the driver must stop, then report
    ``stopped``.
    """

    skipped: tuple[Skip, ...] = ()
    cancelled: tuple[str, ...] = ()
    to_stop: tuple[str, ...] = ()


class Scheduler:
    """The phases of a run's nodes and what may happen next.

    Args:
        upstream: every node id, in plan order (a topological order), with the ids of
            the nodes it depends on.
        continue_on_failure: a failed node ends only the nodes that depend on it;
            without it a failure cancels every node that has not ended.
        max_active: at most this many nodes prepare or run at once (at least 1).
        phases: where nodes already are (a resumed run's finished nodes); the rest wait.

    Raises:
        SchedulerStateError: an upstream id is not a node, ``max_active`` is below 1, or
            a given phase is an active one (only waiting or ended nodes can be given).
    """

    def __init__(
        self,
        upstream: Mapping[str, Sequence[str]],
        *,
        continue_on_failure: bool = False,
        max_active: int = 1,
        phases: Mapping[str, Phase] | None = None,
    ) -> None:
        if max_active < 1:
            raise SchedulerStateError(
                f"max_active must be at least 1, not {max_active}"
            )
        self.continue_on_failure = continue_on_failure
        self.max_active = max_active
        self.cancelled = False
        self._upstream = {n: tuple(ups) for n, ups in upstream.items()}
        self._order = {n: i for i, n in enumerate(self._upstream)}
        self._dependants: dict[str, list[str]] = {n: [] for n in self._upstream}
        for node, ups in self._upstream.items():
            for up in ups:
                if up not in self._dependants:
                    raise SchedulerStateError(
                        f"node '{node}' depends on '{up}', which is not in the plan"
                    )
                self._dependants[up].append(node)
        self._phase = dict.fromkeys(self._upstream, Phase.WAITING)
        for node, phase in (phases or {}).items():
            if phase in ACTIVE:
                raise SchedulerStateError(
                    f"node '{node}' cannot begin {phase.value}: only waiting or "
                    "ended nodes can be given"
                )
            self._phase[self._known(node)] = phase
        self._active = 0
        self._waiting = sum(1 for p in self._phase.values() if p is Phase.WAITING)
        self._unfinished_upstream = {
            n: sum(1 for u in ups if self._phase[u] is not Phase.FINISHED)
            for n, ups in self._upstream.items()
        }
        self._ready: list[tuple[int, str]] = [
            (self._order[n], n)
            for n, count in self._unfinished_upstream.items()
            if count == 0 and self._phase[n] is Phase.WAITING
        ]
        heapq.heapify(self._ready)
        # nodes given as ended without finishing end what depends on them
        self._pending_skips = self._skip_after(
            n for n in self._upstream if self._phase[n] in ENDED - {Phase.FINISHED}
        )

    # -- reading ----------------------------------------------------------------------

    def phase(self, node_id: str) -> Phase:
        """Where ``node_id`` is.

        Raises:
            SchedulerStateError: no such node.
        """
        return self._phase[self._known(node_id)]

    def nodes_in(self, *phases: Phase) -> list[str]:
        """The nodes in any of ``phases``, in plan order."""
        return [n for n, p in self._phase.items() if p in phases]

    @property
    def done(self) -> bool:
        """True once every node has ended (nothing waits, prepares, runs or stops)."""
        return self._active == 0 and self._waiting == 0

    def final_status(self) -> RunStatus:
        """The run's status once done: Canceled if the run was canceled, Finished if
        every node finished, else Failed.

        Raises:
            SchedulerStateError: a node has not ended yet.
        """
        if not self.done:
            raise SchedulerStateError("the run has nodes that have not ended")
        if self.cancelled:
            return RunStatus.CANCELED
        if all(p is Phase.FINISHED for p in self._phase.values()):
            return RunStatus.FINISHED
        return RunStatus.FAILED

    # -- deciding ---------------------------------------------------------------------

    def take_skips(self) -> tuple[Skip, ...]:
        """Skips decided when the scheduler was made (from nodes given as ended without
        finishing); each is returned once."""
        skips, self._pending_skips = self._pending_skips, ()
        return skips

    def next_to_prepare(self) -> list[str]:
        """The ready nodes that may begin now (all upstream finished, a free slot), in
        plan order; each moves to ``PREPARING``. Nothing begins after a cancel."""
        begun: list[str] = []
        while self._ready and self._active < self.max_active and not self.cancelled:
            _, node = heapq.heappop(self._ready)
            if self._phase[node] is not Phase.WAITING:
                continue  # ended by a cancel or a skip while it was queued
            self._phase[node] = Phase.PREPARING
            self._waiting -= 1
            self._active += 1
            begun.append(node)
        return begun

    # -- events -----------------------------------------------------------------------

    def started(self, node_id: str) -> None:
        """A preparing node's process started.

        Raises:
            SchedulerStateError: the node is not preparing.
        """
        self._move(node_id, {Phase.PREPARING}, Phase.RUNNING)

    def finished(self, node_id: str) -> None:
        """A node finished (its process succeeded, or it was reused while preparing);
        the nodes waiting only on it become ready.

        Raises:
            SchedulerStateError: the node is neither preparing nor running.
        """
        self._move(node_id, {Phase.PREPARING, Phase.RUNNING}, Phase.FINISHED)
        self._active -= 1
        for dependant in self._dependants[node_id]:
            self._unfinished_upstream[dependant] -= 1
            if (
                self._unfinished_upstream[dependant] == 0
                and self._phase[dependant] is Phase.WAITING
            ):
                heapq.heappush(self._ready, (self._order[dependant], dependant))

    def failed(self, node_id: str) -> Change:
        """A node failed (before or after its process started).

        With ``continue_on_failure`` the nodes depending on it are skipped; without it
        every node that has not ended is cancelled (running ones are to be stopped).

        Raises:
            SchedulerStateError: the node is neither preparing nor running.
        """
        self._move(node_id, {Phase.PREPARING, Phase.RUNNING}, Phase.FAILED)
        self._active -= 1
        if self.continue_on_failure:
            return Change(skipped=self._skip_after([node_id]))
        return self._cancel_rest()

    def cancel(self) -> Change:
        """The run is cancelled: nothing more begins, the nodes not yet running end
        cancelled, the running ones are to be stopped. Cancelling twice changes nothing
        more."""
        self.cancelled = True
        return self._cancel_rest()

    def stopped(self, node_id: str) -> None:
        """A node being stopped has ended; it counts as cancelled.

        Raises:
            SchedulerStateError: the node is not being stopped.
        """
        self._move(node_id, {Phase.STOPPING}, Phase.CANCELLED)
        self._active -= 1

    # -- internals --------------------------------------------------------------------

    def _known(self, node_id: str) -> str:
        if node_id not in self._phase:
            raise SchedulerStateError(f"no node '{node_id}' in the plan")
        return node_id

    def _move(self, node_id: str, sources: set[Phase], target: Phase) -> None:
        phase = self._phase[self._known(node_id)]
        if phase not in sources:
            names = " or ".join(sorted(p.value for p in sources))
            raise SchedulerStateError(
                f"node '{node_id}' cannot become {target.value}: it is {phase.value}, "
                f"not {names}"
            )
        self._phase[node_id] = target

    def _cancel_rest(self) -> Change:
        cancelled, to_stop = [], []
        for node, phase in self._phase.items():
            if phase is Phase.WAITING:
                self._phase[node] = Phase.CANCELLED
                self._waiting -= 1
                cancelled.append(node)
            elif phase is Phase.PREPARING:
                self._phase[node] = Phase.CANCELLED
                self._active -= 1
                cancelled.append(node)
            elif phase is Phase.RUNNING:
                self._phase[node] = Phase.STOPPING
                to_stop.append(node)
        self._ready.clear()
        return Change(cancelled=tuple(cancelled), to_stop=tuple(to_stop))

    def _skip_after(self, ended: Iterable[str]) -> tuple[Skip, ...]:
        """Skip every waiting node downstream of ``ended``; each names the upstream
        node that ended it. Iterative: a long chain never recurses."""
        skips: list[Skip] = []
        stack = list(ended)
        while stack:
            node = stack.pop()
            for dependant in self._dependants[node]:
                if self._phase[dependant] is Phase.WAITING:
                    self._phase[dependant] = Phase.SKIPPED
                    self._waiting -= 1
                    skips.append(Skip(dependant, node))
                    stack.append(dependant)
        return tuple(sorted(skips, key=lambda s: self._order[s.node_id]))
