"""The read model: frozen views of runs and the functions that read them.

Everything that shows runs (``dataferry runs ...``, ``dataferry run``, ``PipelineRun``
and ``StepRun``, a web page) reads them through this package: run summaries, a run's
detail with its steps, outputs, lineage, registrations and metrics; log chunks since a
byte offset; a run's events since an id; waiting until a status. Statuses are the
``RunStatus``/``StepStatus`` enums of the catalog, re-exported here for readers.
"""

from dataferry.catalog.status import RunStatus, StepStatus
from dataferry.execution.views.events import events_since
from dataferry.execution.views.formatting import format_duration
from dataferry.execution.views.logs import (
    LogTail,
    read_log_chunk,
    read_whole_log,
)
from dataferry.execution.views.model import (
    TERMINAL,
    EventView,
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
    driver_gone,
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
    "EventView",
    "Every",
    "LineageView",
    "LogChunk",
    "LogTail",
    "MetricView",
    "OutputView",
    "RegistrationView",
    "RunDetail",
    "RunStatus",
    "RunSummary",
    "StatusChanges",
    "StepStatus",
    "StepView",
    "driver_gone",
    "events_since",
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
