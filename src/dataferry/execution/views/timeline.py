"""A run's timeline (a Gantt chart of its steps), rebuilt from its events.

Each step status event opens a segment (``Queued``, ``Preparing``, ``Running``...)
that the step's next status event closes; a terminal status closes the last one.
The ``Preparing`` stage is therefore a segment of its own, and a reused step shows
as the short preparation that decided the reuse, flagged ``reused``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataferry.catalog.status import TERMINAL, EventKind
from dataferry.execution.views.events import events_since

if TYPE_CHECKING:
    from datetime import datetime

    from dataferry.data.workspace import Workspace
    from dataferry.execution.views.model import EventView

_PAGE = 1000  # events read per catalog query


@dataclass(frozen=True, slots=True)
class Segment:
    """One status a step held from ``start`` to ``end`` (None: it still holds it)."""

    status: str
    start: datetime
    end: datetime | None


@dataclass(slots=True)
class StepTimeline:
    """One step run's segments in time order, whether it was reused (and why), and
    what its preparation did (the ``preparing`` events' ``doing``)."""

    step_run_id: str
    name: str
    segments: list[Segment] = field(default_factory=list)
    reused: bool = False
    explanation: str | None = None
    stages: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunTimeline:
    """The steps of run ``run_id`` in the order they were first seen, and the id of
    the last event read (a live page follows the feed after it)."""

    run_id: str
    steps: tuple[StepTimeline, ...]
    last_event_id: int


def run_timeline(workspace: Workspace, run_id: str) -> RunTimeline:
    """The timeline of run ``run_id``, from every one of its events.

    Raises:
        RunNotFoundError: no run has that id.
    """
    steps: dict[str, StepTimeline] = {}
    after = 0
    while batch := events_since(workspace, run_id, after, limit=_PAGE):
        for event in batch:
            if event.step_run_id is not None:
                _apply(steps, event)
        after = batch[-1].id
    return RunTimeline(run_id, tuple(steps.values()), after)


def _apply(steps: dict[str, StepTimeline], event: EventView) -> None:
    key = event.step_run_id or ""
    step = steps.setdefault(key, StepTimeline(key, event.step_name or key))
    payload = event.payload
    if event.kind == EventKind.REUSE:
        step.reused = bool(payload.get("reuse"))
        step.explanation = payload.get("explanation")
    elif event.kind == EventKind.PREPARING and payload.get("doing"):
        step.stages.append(str(payload["doing"]))
    elif event.kind == EventKind.STEP_STATUS and event.time is not None:
        _close(step, event.time)
        to = str(payload.get("to"))
        # a terminal status is an instant, not a span: shown as the bar's end
        step.segments.append(
            Segment(to, event.time, event.time if to in TERMINAL else None)
        )


def _close(step: StepTimeline, at: datetime) -> None:
    if step.segments and step.segments[-1].end is None:
        last = step.segments[-1]
        step.segments[-1] = Segment(last.status, last.start, at)
