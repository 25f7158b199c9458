"""The read model: frozen views of runs and the functions that read them.

Everything that shows runs (``dataferry runs ...``, ``dataferry run``, ``PipelineRun``
and ``StepRun``, a web page) reads them through this package: run summaries, a run's
detail with its steps, outputs, lineage, registrations and metrics (grouped for a
page: ``run_metrics``), its timeline from its events and two runs compared; registered datasets (list, versions, schema, preview, profile,
lineage); log chunks since a
byte offset; a run's events since an id; waiting until a status (woken by the
catalog's pushed events on PostgreSQL, polling on SQLite). Statuses are the
``RunStatus``/``StepStatus`` enums of the catalog, re-exported here for readers.

Names load on first use (``_lazy``): a script that only submits and waits through
the local agent never loads the catalog stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry._lazy import lazy_exports

if TYPE_CHECKING:
    from dataferry.catalog.status import RunStatus as RunStatus
    from dataferry.catalog.status import StepStatus as StepStatus
    from dataferry.data.dataset_lineage import DatasetLineage as DatasetLineage
    from dataferry.data.dataset_lineage import dataset_lineage as dataset_lineage
    from dataferry.execution.views.dataset_profile import (
        dataset_profile as dataset_profile,
    )
    from dataferry.execution.views.datasets import MAX_PREVIEW_ROWS as MAX_PREVIEW_ROWS
    from dataferry.execution.views.datasets import DatasetSchema as DatasetSchema
    from dataferry.execution.views.datasets import DatasetSummary as DatasetSummary
    from dataferry.execution.views.datasets import (
        DatasetVersionView as DatasetVersionView,
    )
    from dataferry.execution.views.datasets import dataset_preview as dataset_preview
    from dataferry.execution.views.datasets import dataset_schema as dataset_schema
    from dataferry.execution.views.datasets import dataset_versions as dataset_versions
    from dataferry.execution.views.datasets import list_datasets as list_datasets
    from dataferry.execution.views.estimates import (
        expected_duration_s as expected_duration_s,
    )
    from dataferry.execution.views.events import (
        all_events_since as all_events_since,
    )
    from dataferry.execution.views.events import events_since as events_since
    from dataferry.execution.views.events import watch_events as watch_events
    from dataferry.execution.views.formatting import format_duration as format_duration
    from dataferry.execution.views.live_events import (
        newest_event_id as newest_event_id,
    )
    from dataferry.execution.views.live_events import (
        watch_all_events as watch_all_events,
    )
    from dataferry.execution.views.log_search import LogSearch as LogSearch
    from dataferry.execution.views.log_search import search_log as search_log
    from dataferry.execution.views.logs import LogTail as LogTail
    from dataferry.execution.views.logs import read_log_chunk as read_log_chunk
    from dataferry.execution.views.logs import read_whole_log as read_whole_log
    from dataferry.execution.views.metric_groups import metric_file as metric_file
    from dataferry.execution.views.metric_groups import run_metrics as run_metrics
    from dataferry.execution.views.model import TERMINAL as TERMINAL
    from dataferry.execution.views.model import EventView as EventView
    from dataferry.execution.views.model import LineageView as LineageView
    from dataferry.execution.views.model import LogChunk as LogChunk
    from dataferry.execution.views.model import MetricView as MetricView
    from dataferry.execution.views.model import OutputView as OutputView
    from dataferry.execution.views.model import RegistrationView as RegistrationView
    from dataferry.execution.views.model import RunDetail as RunDetail
    from dataferry.execution.views.model import RunSummary as RunSummary
    from dataferry.execution.views.model import StepView as StepView
    from dataferry.execution.views.published import PublishedView as PublishedView
    from dataferry.execution.views.published import get_published as get_published
    from dataferry.execution.views.published import list_published as list_published
    from dataferry.execution.views.refs import LATEST as LATEST
    from dataferry.execution.views.refs import check_experiment as check_experiment
    from dataferry.execution.views.refs import resolve_run as resolve_run
    from dataferry.execution.views.refs import run_ids as run_ids
    from dataferry.execution.views.run_compare import RunComparison as RunComparison
    from dataferry.execution.views.run_compare import compare_runs as compare_runs
    from dataferry.execution.views.run_graph import plan_graph as plan_graph
    from dataferry.execution.views.run_graph import run_graph as run_graph
    from dataferry.execution.views.run_graph_diff import GraphDiff as GraphDiff
    from dataferry.execution.views.run_graph_diff import graph_diff as graph_diff
    from dataferry.execution.views.run_list import list_runs as list_runs
    from dataferry.execution.views.run_search import search_runs as search_runs
    from dataferry.execution.views.runs import driver_gone as driver_gone
    from dataferry.execution.views.runs import get_step as get_step
    from dataferry.execution.views.runs import in_run_order as in_run_order
    from dataferry.execution.views.runs import lineage as lineage
    from dataferry.execution.views.runs import metrics as metrics
    from dataferry.execution.views.runs import outputs as outputs
    from dataferry.execution.views.runs import registrations as registrations
    from dataferry.execution.views.runs import run_detail as run_detail
    from dataferry.execution.views.runs import run_status as run_status
    from dataferry.execution.views.runs import step_view as step_view
    from dataferry.execution.views.runs import wait_for_status as wait_for_status
    from dataferry.execution.views.schedules import ScheduleView as ScheduleView
    from dataferry.execution.views.schedules import get_schedule as get_schedule
    from dataferry.execution.views.schedules import list_schedules as list_schedules
    from dataferry.execution.views.step_logs import LogRange as LogRange
    from dataferry.execution.views.step_logs import read_log_range as read_log_range
    from dataferry.execution.views.step_logs import step_log_file as step_log_file
    from dataferry.execution.views.timeline import RunTimeline as RunTimeline
    from dataferry.execution.views.timeline import run_timeline as run_timeline
    from dataferry.execution.views.waiting import Every as Every
    from dataferry.execution.views.waiting import wait_until as wait_until

_EXPORTS = {
    "DatasetLineage": "dataferry.data.dataset_lineage",
    "dataset_lineage": "dataferry.data.dataset_lineage",
    "DatasetSchema": "dataferry.execution.views.datasets",
    "DatasetSummary": "dataferry.execution.views.datasets",
    "DatasetVersionView": "dataferry.execution.views.datasets",
    "MAX_PREVIEW_ROWS": "dataferry.execution.views.datasets",
    "dataset_preview": "dataferry.execution.views.datasets",
    "dataset_schema": "dataferry.execution.views.datasets",
    "dataset_versions": "dataferry.execution.views.datasets",
    "list_datasets": "dataferry.execution.views.datasets",
    "dataset_profile": "dataferry.execution.views.dataset_profile",
    "metric_file": "dataferry.execution.views.metric_groups",
    "run_metrics": "dataferry.execution.views.metric_groups",
    "EventView": "dataferry.execution.views.model",
    "Every": "dataferry.execution.views.waiting",
    "LATEST": "dataferry.execution.views.refs",
    "LineageView": "dataferry.execution.views.model",
    "LogChunk": "dataferry.execution.views.model",
    "LogRange": "dataferry.execution.views.step_logs",
    "LogTail": "dataferry.execution.views.logs",
    "MetricView": "dataferry.execution.views.model",
    "OutputView": "dataferry.execution.views.model",
    "PublishedView": "dataferry.execution.views.published",
    "RegistrationView": "dataferry.execution.views.model",
    "RunDetail": "dataferry.execution.views.model",
    "RunStatus": "dataferry.catalog.status",
    "ScheduleView": "dataferry.execution.views.schedules",
    "RunSummary": "dataferry.execution.views.model",
    "StepStatus": "dataferry.catalog.status",
    "StepView": "dataferry.execution.views.model",
    "TERMINAL": "dataferry.execution.views.model",
    "check_experiment": "dataferry.execution.views.refs",
    "compare_runs": "dataferry.execution.views.run_compare",
    "newest_event_id": "dataferry.execution.views.live_events",
    "watch_all_events": "dataferry.execution.views.live_events",
    "search_runs": "dataferry.execution.views.run_search",
    "RunComparison": "dataferry.execution.views.run_compare",
    "RunTimeline": "dataferry.execution.views.timeline",
    "run_timeline": "dataferry.execution.views.timeline",
    "driver_gone": "dataferry.execution.views.runs",
    "events_since": "dataferry.execution.views.events",
    "all_events_since": "dataferry.execution.views.events",
    "expected_duration_s": "dataferry.execution.views.estimates",
    "format_duration": "dataferry.execution.views.formatting",
    "get_published": "dataferry.execution.views.published",
    "get_schedule": "dataferry.execution.views.schedules",
    "get_step": "dataferry.execution.views.runs",
    "in_run_order": "dataferry.execution.views.runs",
    "lineage": "dataferry.execution.views.runs",
    "list_published": "dataferry.execution.views.published",
    "list_runs": "dataferry.execution.views.run_list",
    "list_schedules": "dataferry.execution.views.schedules",
    "metrics": "dataferry.execution.views.runs",
    "outputs": "dataferry.execution.views.runs",
    "read_log_chunk": "dataferry.execution.views.logs",
    "read_whole_log": "dataferry.execution.views.logs",
    "read_log_range": "dataferry.execution.views.step_logs",
    "search_log": "dataferry.execution.views.log_search",
    "LogSearch": "dataferry.execution.views.log_search",
    "step_log_file": "dataferry.execution.views.step_logs",
    "plan_graph": "dataferry.execution.views.run_graph",
    "registrations": "dataferry.execution.views.runs",
    "resolve_run": "dataferry.execution.views.refs",
    "run_detail": "dataferry.execution.views.runs",
    "run_graph": "dataferry.execution.views.run_graph",
    "graph_diff": "dataferry.execution.views.run_graph_diff",
    "GraphDiff": "dataferry.execution.views.run_graph_diff",
    "run_ids": "dataferry.execution.views.refs",
    "run_status": "dataferry.execution.views.runs",
    "step_view": "dataferry.execution.views.runs",
    "wait_for_status": "dataferry.execution.views.runs",
    "wait_until": "dataferry.execution.views.waiting",
    "watch_events": "dataferry.execution.views.events",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = sorted(_EXPORTS)
