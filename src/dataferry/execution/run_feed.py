"""What happens in a run, as lines: status changes, reuse decisions, preparation
stages, committed outputs and what the steps print; and a one-line summary.

One reader for every display of a run as it goes (``dataferry run``,
``PipelineRun.wait_for_completion(show_output=True)``, ``StepRun`` and script runs):
each ``poll`` reads the run's events since the last one and the lines its steps wrote
since (through the read model), and returns them in order. How the lines are shown,
on a terminal or off it, is ``run_display``'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dataferry.catalog.status import EventKind, StepStatus
from dataferry.execution import views

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from dataferry.data.workspace import Workspace
    from dataferry.execution.views import EventView, RunDetail, StepView

_ENDED = frozenset({StepStatus.FINISHED, StepStatus.FAILED, StepStatus.CANCELED})


@dataclass(frozen=True, slots=True)
class FeedLine:
    """One thing that happened: at ``time`` (UTC), in step ``step`` (None: the run)."""

    time: datetime
    step: str | None
    text: str

    def plain(self) -> str:
        """``'10:00:01 [prep] Running'``, in local time."""
        clock = self.time.astimezone().strftime("%H:%M:%S")
        return f"{clock} [{self.step or 'run'}] {self.text}"


class RunFeed:
    """Follows one run (or, with ``only``, the step runs of it with those ids; a
    string is one id).

    Raises (from ``poll``):
        RunNotFoundError: no run has that id.
    """

    def __init__(
        self,
        workspace: Workspace,
        run_id: str,
        *,
        only: str | Collection[str] | None = None,
    ):
        self.workspace = workspace
        self.run_id = run_id
        self.only = frozenset([only] if isinstance(only, str) else only or ())
        self._cursor = 0
        self._tail = views.LogTail()
        self._expected: float | None = None
        self._expected_read = False
        self.detail: RunDetail | None = None

    def poll(self) -> list[FeedLine]:
        """The lines since the last poll, in the order things happened: the events,
        each step's new output placed just before the event that ended that step (so
        its last lines come before it ends; the run's end comes after every step's
        output), and the output of steps still going last."""
        events = self._new_events()
        # read after the events: every step they ended has its whole log written
        self.detail = views.run_detail(self.workspace, self.run_id)
        output = self._log_lines(self.detail)
        lines: list[FeedLine] = []
        for event in events:
            if _ends(event):
                ended = [event.step_run_id] if event.step_run_id else list(output)
                for step_id in ended:
                    lines += output.pop(step_id, [])
            lines.append(_line(event))
        lines += [line for step_lines in output.values() for line in step_lines]
        return [line for line in lines if line.text]

    def _new_events(self) -> list[EventView]:
        found: list[EventView] = []
        while batch := views.events_since(self.workspace, self.run_id, self._cursor):
            self._cursor = batch[-1].id
            found += [e for e in batch if not self.only or e.step_run_id in self.only]
        return found

    def _log_lines(self, run: RunDetail) -> dict[str, list[FeedLine]]:
        """Each followed step's new output lines, by step run id, in step order."""
        at = datetime.now(UTC)
        return {
            step.id: [
                FeedLine(at, step.name, line if stream == "stdout" else f"! {line}")
                for stream, line in self._tail.step_lines(step, final=step.is_terminal)
            ]
            for step in self._steps(run)
        }

    def _steps(self, run: RunDetail) -> list[StepView]:
        return [s for s in run.steps if not self.only or s.id in self.only]

    def ended(self) -> bool:
        """Whether what is followed has ended: the run, or every step in ``only``
        (False before a poll)."""
        run = self.detail
        if run is None:
            return False
        if run.is_terminal or not self.only:
            return run.is_terminal
        steps = self._steps(run)
        return bool(steps) and all(s.status in _ENDED for s in steps)

    def summary(self) -> str:
        """``'2 of 5 steps done · 1.2m elapsed · about 30.0s left'`` (the estimate from
        earlier runs of the same pipeline, when there are some); ``''`` before a poll."""
        run = self.detail
        if run is None:
            return ""
        steps = self._steps(run)
        done = sum(1 for s in steps if s.status in _ENDED)
        parts = [f"{done} of {len(steps)} steps done"]
        elapsed = run.duration_s
        if elapsed is not None:
            parts.append(f"{views.format_duration(elapsed)} elapsed")
        expected = self._expected_s(run)
        if expected is not None and not run.is_terminal:
            left = max(expected - (elapsed or 0.0), 0.0)
            parts.append(
                f"about {views.format_duration(left)} left"
                if left
                else "taking longer than earlier runs"
            )
        return " · ".join(parts)

    def headline(self) -> str:
        """``'train / train_17..._ab12: Finished · 3 of 3 steps done · 2.0s elapsed'``
        (following one step: ``'step prep / 5f2e...: Finished · 0.4s'``)."""
        run = self.detail
        if run is None:
            return ""
        if self.only:  # a step's wait: the steps are what ended
            return "; ".join(
                f"step {s.name} / {s.id}: {s.status} · "
                + views.format_duration(s.duration_s)
                for s in self._steps(run)
            )
        return f"{run.experiment} / {run.id}: {run.status} · {self.summary()}"

    def _expected_s(self, run: RunDetail) -> float | None:
        if not self._expected_read:  # earlier runs do not change: read them once
            self._expected = views.expected_duration_s(self.workspace, run)
            self._expected_read = True
        return self._expected


def _ends(event: EventView) -> bool:
    """True for the event that ends a step or the run (shown after the output)."""
    ending = event.kind in (EventKind.STEP_STATUS, EventKind.RUN_STATUS)
    return ending and event.payload.get("to") in _ENDED


def _line(event: EventView) -> FeedLine:
    text = _TEXTS.get(event.kind, _other)(event.payload)
    return FeedLine(event.time, event.step_name, text)


def _status(payload: Mapping[str, Any]) -> str:
    if payload.get("from") is None:  # a row made: NotStarted says nothing yet
        return ""
    doing = payload.get("doing")
    return f"{payload['to']}: {doing}" if doing else str(payload["to"])


def _reuse(payload: Mapping[str, Any]) -> str:
    why = payload.get("explanation") or ""
    if payload.get("reuse"):
        return f"Reused {payload.get('reused_from')} ({why})" if why else "Reused"
    return f"Runs ({why})" if why else ""


def _committed(payload: Mapping[str, Any]) -> str:
    where = f"{payload.get('datastore')}/{payload.get('path')}"
    return f"output '{payload.get('output')}' committed to {where}"


def _registered(payload: Mapping[str, Any]) -> str:
    name, version = payload.get("dataset"), payload.get("version")
    return f"registered dataset '{name}' version {version}"


def _other(payload: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(payload.items()))


_TEXTS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    EventKind.RUN_STATUS: _status,
    EventKind.STEP_STATUS: _status,
    EventKind.PREPARING: lambda p: f"Preparing: {p.get('doing')}",
    EventKind.REUSE: _reuse,
    EventKind.OUTPUT_COMMITTED: _committed,
    EventKind.REGISTERED: _registered,
    # a notice for live pages; the feed's reader sees the metrics at the run's end
    EventKind.METRICS: lambda p: "",
}
