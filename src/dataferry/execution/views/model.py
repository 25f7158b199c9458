"""Frozen views of runs, as every reader sees them: the CLI, PipelineRun and a web page.

They are read from the catalog by ``dataferry.execution.views.runs``; a view is a
snapshot taken when it was read (a running step's ``duration_s`` counts up to then).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataferry.catalog.status import TERMINAL
from dataferry.execution import run_layout

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime
    from pathlib import Path

__all__ = [
    "TERMINAL",
    "EventView",
    "LineageView",
    "LogChunk",
    "MetricView",
    "OutputView",
    "RegistrationView",
    "RunDetail",
    "RunSummary",
    "StepView",
]


@dataclass(frozen=True, slots=True)
class RegistrationView:
    """A dataset version a step registered from one of its outputs."""

    step_run_id: str
    step_name: str
    dataset: str
    version: int | None
    output: str | None


@dataclass(frozen=True, slots=True)
class StepView:
    """One step run: status, times, reuse explanation, error and where its logs are.

    ``compute_target`` names the compute target that ran it (``local`` when the step
    named none). ``source_id`` is the step run whose outputs, lineage and metrics this one shows:
    itself, or the step run it reused. ``stage`` says what a ``Preparing`` step is
    doing (``"hashing input 'raw'"``); None in any other status.
    """

    id: str
    run_id: str
    name: str
    node_id: str
    status: str
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    exit_code: int | None
    reused_from: str | None
    explanation: str | None
    error: str | None
    log_dir: Path | None
    registrations: tuple[RegistrationView, ...]
    stage: str | None = None
    compute_target: str = "local"  # the target that ran it (the step's, or local)

    @property
    def source_id(self) -> str:
        """The step run that produced what this one shows (itself, or the reused one)."""
        return self.reused_from or self.id

    @property
    def is_terminal(self) -> bool:
        """True once the step run has finished, failed or been canceled."""
        return self.status in TERMINAL

    def log_files(self) -> tuple[tuple[str, Path], ...]:
        """``(("stdout", path), ("stderr", path))``; empty before the step has a folder."""
        if self.log_dir is None:
            return ()
        return (
            ("stdout", run_layout.stdout_path(self.log_dir)),
            ("stderr", run_layout.stderr_path(self.log_dir)),
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One line of a run listing: status, times and its steps' statuses."""

    id: str
    experiment: str
    status: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    error: str | None
    step_statuses: tuple[str, ...]
    # the SDK's run type: azureml.PipelineRun, azureml.scriptrun or experiment
    run_type: str = "azureml.PipelineRun"


@dataclass(frozen=True, slots=True)
class RunDetail:
    """A run with its settings, driver, log folder and its steps in run order (see ``in_run_order``)."""

    id: str
    experiment: str
    status: str
    description: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_s: float | None
    driver_host: str | None
    driver_pid: int | None
    error: str | None
    parameters: Mapping[str, Any]
    options: Mapping[str, Any]
    tags: Mapping[str, str]
    log_dir: Path
    driver_log: Path
    steps: tuple[StepView, ...]

    @property
    def is_terminal(self) -> bool:
        """True once the run has finished, failed or been canceled."""
        return self.status in TERMINAL


@dataclass(frozen=True, slots=True)
class OutputView:
    """A committed output shown for a step run (``producer_id`` wrote it)."""

    step_run_id: str
    producer_id: str
    step_name: str
    name: str
    datastore: str
    path: str
    mode: str
    size_bytes: int | None
    file_count: int | None
    committed_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class LineageView:
    """One thing a step run read (``role='input'``) or wrote (``role='output'``)."""

    step_run_id: str
    role: str
    name: str
    dataset_id: str | None
    datastore: str | None
    path: str | None


@dataclass(frozen=True, slots=True)
class MetricView:
    """One logged metric value."""

    run_id: str
    name: str
    kind: str
    value: Any
    step: int | None
    description: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EventView:
    """One event of a run: a status change of the run or a step, a reuse decision, a
    preparation stage, a committed output or a registered dataset version.

    ``id`` grows with every event of the workspace: read on with ``after_id=id``.
    ``payload`` holds what the kind records (``from``/``to`` for a status change).
    """

    id: int
    run_id: str
    step_run_id: str | None
    step_name: str | None
    time: datetime
    kind: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LogChunk:
    """Text a log file holds from byte ``offset`` up to byte ``end``.

    Read the next chunk from ``end``. ``restarted`` is True when the file had become
    shorter than the offset asked for (it was written anew, as a resumed step's log is)
    and the chunk was read from its start. ``more`` is True when a size limit stopped
    the read before the end of the file: read again from ``end`` at once.
    """

    path: Path
    offset: int
    end: int
    text: str
    restarted: bool
    more: bool

    @property
    def lines(self) -> list[str]:
        """The chunk's text split into lines, without their line breaks."""
        return self.text.splitlines()
