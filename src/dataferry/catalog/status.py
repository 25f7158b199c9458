"""Run and step run statuses, which of them are final, and which moves between them.

One definition for the catalog, the driver, the read model and the CLI. The values are
the status strings of the Azure ML SDK v1 (a pipeline run and its step runs end as
``Finished``). ``Queued`` is not used: a step whose upstream has not finished, or that
waits for a free slot, is ``NotStarted``; ``Preparing`` means its inputs are being
hashed, linked or downloaded. Every change of status goes through ``RunStore``'s
transition calls, which check it against the maps here and append an event.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import TypeVar

from dataferry.errors import StatusTransitionError, UnknownStatusError


class RunStatus(StrEnum):
    """The status of a pipeline run."""

    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    CANCEL_REQUESTED = "CancelRequested"
    FINISHED = "Finished"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_terminal(self) -> bool:
        """True for a status the run never leaves."""
        return self in TERMINAL_RUN


class StepStatus(StrEnum):
    """The status of one step run."""

    NOT_STARTED = "NotStarted"
    PREPARING = "Preparing"
    RUNNING = "Running"
    FINISHED = "Finished"
    FAILED = "Failed"
    CANCELED = "Canceled"

    @property
    def is_terminal(self) -> bool:
        """True for a status the step run never leaves."""
        return self in TERMINAL_STEP


class EventKind(StrEnum):
    """What an ``events`` row records; its payload's keys are listed per kind."""

    RUN_STATUS = "run_status"  # from, to
    STEP_STATUS = "step_status"  # from, to (+ doing, for Preparing)
    PREPARING = "preparing"  # doing: what the step's preparation does now
    REUSE = "reuse"  # reuse (bool), explanation, reused_from
    OUTPUT_COMMITTED = "output_committed"  # output, datastore, path
    REGISTERED = "registered"  # dataset, version, output
    METRICS = "metrics"  # metric: the first name of a burst (coalesced: metric_events)
    STEP_RETRY = "step_retry"  # attempt, reason: run again after its node was lost


TERMINAL_RUN = frozenset({RunStatus.FINISHED, RunStatus.FAILED, RunStatus.CANCELED})
TERMINAL_STEP = frozenset({StepStatus.FINISHED, StepStatus.FAILED, StepStatus.CANCELED})
# the status strings no run or step run leaves (the two sets spell the same three)
TERMINAL: frozenset[str] = frozenset(str(s) for s in TERMINAL_RUN)

_R = RunStatus
RUN_TRANSITIONS: MappingProxyType[RunStatus, frozenset[RunStatus]] = MappingProxyType(
    {
        # a driver that could not start fails the run; a cancel may come before it starts
        _R.NOT_STARTED: frozenset({_R.RUNNING, _R.CANCEL_REQUESTED, _R.FAILED}),
        _R.RUNNING: frozenset(
            {_R.CANCEL_REQUESTED, _R.FINISHED, _R.FAILED, _R.CANCELED}
        ),
        # a run whose last step ended before the driver saw the request ends as it ended
        _R.CANCEL_REQUESTED: frozenset({_R.CANCELED, _R.FINISHED, _R.FAILED}),
        _R.FINISHED: frozenset(),
        _R.FAILED: frozenset(),
        _R.CANCELED: frozenset(),
    }
)

_S = StepStatus
STEP_TRANSITIONS: MappingProxyType[StepStatus, frozenset[StepStatus]] = (
    MappingProxyType(
        {
            # Finished straight away: reused; Canceled: skipped; Failed: could not start
            _S.NOT_STARTED: frozenset(
                {_S.PREPARING, _S.RUNNING, _S.FINISHED, _S.FAILED, _S.CANCELED}
            ),
            # NotStarted again: resume restarts a step its dead driver had begun
            _S.PREPARING: frozenset(
                {_S.RUNNING, _S.FINISHED, _S.FAILED, _S.CANCELED, _S.NOT_STARTED}
            ),
            _S.RUNNING: frozenset(
                {_S.FINISHED, _S.FAILED, _S.CANCELED, _S.NOT_STARTED}
            ),
            _S.FINISHED: frozenset(),
            _S.FAILED: frozenset(),
            _S.CANCELED: frozenset(),
        }
    )
)


def check_run_transition(run_id: str, current: str, to: RunStatus) -> None:
    """Accept a run's move from ``current`` to ``to``.

    Raises:
        StatusTransitionError: the map does not allow it (the message names both).
        UnknownStatusError: ``current`` is no ``RunStatus``.
    """
    allowed = RUN_TRANSITIONS[_known(RunStatus, f"run {run_id}", current)]
    if to not in allowed:
        raise StatusTransitionError(_refusal(f"run {run_id}", current, to, allowed))


def check_step_transition(step_run_id: str, current: str, to: StepStatus) -> None:
    """Accept a step run's move from ``current`` to ``to``.

    Raises:
        StatusTransitionError: the map does not allow it (the message names both).
        UnknownStatusError: ``current`` is no ``StepStatus``.
    """
    allowed = STEP_TRANSITIONS[_known(StepStatus, f"step run {step_run_id}", current)]
    if to not in allowed:
        raise StatusTransitionError(
            _refusal(f"step run {step_run_id}", current, to, allowed)
        )


AnyStatus = TypeVar("AnyStatus", RunStatus, StepStatus)


def _known(kind: type[AnyStatus], who: str, current: str) -> AnyStatus:
    """``current`` as a status of ``kind``.

    Raises:
        UnknownStatusError: it is none (a catalog changed by hand or by another program).
    """
    try:
        return kind(current)
    except ValueError:
        known = ", ".join(kind)
        raise UnknownStatusError(
            f"{who} has the status {current!r}, which this dataferry does not know (it "
            f"knows {known}); the catalog was changed by hand or by another program: "
            "cancel the run's row by hand or delete the run."
        ) from None


def _refusal(who: str, current: str, to: str, allowed: frozenset[str]) -> str:
    after = ", ".join(sorted(allowed)) if allowed else "nowhere: it has ended"
    return (
        f"{who} cannot go from {current} to {to}; from {current} it may go to {after}. "
        "Read its status again: another process may have changed it meanwhile."
    )
