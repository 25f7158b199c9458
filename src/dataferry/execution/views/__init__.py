"""The read model: frozen views of runs and the functions that read them.

Everything that shows runs (``dataferry runs ...``, ``dataferry run``, ``PipelineRun``
and ``StepRun``, a web page) reads them through this package: run summaries, a run's
detail with its steps, outputs, lineage, registrations and metrics; log chunks since a
byte offset; waiting until a status. Change detection is status-based (``StatusChanges``)
until runs record their transitions as events.
"""

from dataferry.execution.views.formatting import format_duration
from dataferry.execution.views.logs import (
    LogTail,
    read_log_chunk,
    read_whole_log,
)
from dataferry.execution.views.model import (
    TERMINAL,
    LineageView,
    LogChunk,
    MetricView,
    OutputView,
    RegistrationView,
    RunDetail,
    RunSummary,
    StepView,
)
from dataferry.execution.views.runs import (
    StatusChanges,
    get_step,
    lineage,
    list_runs,
    metrics,
    outputs,
    registrations,
    run_detail,
    run_status,
    step_view,
    wait_for_status,
)
from dataferry.execution.views.waiting import Every, wait_until

__all__ = [
    "TERMINAL",
    "Every",
    "LineageView",
    "LogChunk",
    "LogTail",
    "MetricView",
    "OutputView",
    "RegistrationView",
    "RunDetail",
    "RunSummary",
    "StatusChanges",
    "StepView",
    "format_duration",
    "get_step",
    "lineage",
    "list_runs",
    "metrics",
    "outputs",
    "read_log_chunk",
    "read_whole_log",
    "registrations",
    "run_detail",
    "run_status",
    "step_view",
    "wait_for_status",
    "wait_until",
]
