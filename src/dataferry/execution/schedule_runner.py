"""Fire the workspace's due schedules: what ``dataferry serve`` does every tick.

Each firing is claimed in the catalog first (``ScheduleStore.claim``), so with two
servers a due time, a datastore poll or a changed file fires at most once. A
recurrence fires its latest due time not yet fired (missed ones are not caught up);
a datastore schedule polls its path every ``polling_interval`` minutes and starts one
run per file added or modified directly under it, its DataPath parameter set to it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dataferry.catalog.schedule_store import RECURRENCE, ScheduleRecord, ScheduleStore
from dataferry.errors import DataferryError
from dataferry.pipeline.schedule_recurrence import ScheduleRecurrence, latest_due

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace

log = logging.getLogger(__name__)
SCHEDULE_TAG = "ScheduleId"  # the SDK's PipelineSubmissionInfo field


def fire_due(workspace: Workspace, now: datetime) -> list[str]:
    """Start the runs of every Active schedule due at ``now`` (naive UTC); returns
    their run ids. A schedule whose submit is refused (its pipeline disabled, a
    parameter no longer valid) is logged and skipped, its claim kept: the other
    schedules still fire, and that due time is not retried."""
    store = ScheduleStore(workspace.catalog)
    started: list[str] = []
    for record in store.list_schedules(active_only=True):
        try:
            started += _fire(workspace, store, record, now)
        except DataferryError as exc:
            log.warning(
                "schedule %s (%s) did not fire: %s", record.name, record.id, exc
            )
    return started


def _fire(
    workspace: Workspace, store: ScheduleStore, record: ScheduleRecord, now: datetime
) -> list[str]:
    if record.kind == RECURRENCE:
        firings = _recurrence_firings(record, now)
    else:
        firings = _datastore_firings(workspace, store, record, now)
    started = []
    for key, overrides in firings:
        if store.claim(record.id, key):
            run_id = submit_for(workspace, record, overrides)
            store.record_run(record.id, key, run_id)
            started.append(run_id)
    return started


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _recurrence_firings(
    record: ScheduleRecord, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    recurrence = ScheduleRecurrence.from_json(dict(record.recurrence or {}))
    due = latest_due(recurrence, _naive(record.anchor), now)
    created = _naive(record.created_at or record.anchor).replace(microsecond=0)
    if due is None or due < created:  # a start_time in the past is not caught up
        return []
    return [(f"due:{due.isoformat()}", {})]


def _datastore_firings(
    workspace: Workspace, store: ScheduleStore, record: ScheduleRecord, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    from dataferry.data.datapath import DataPath
    from dataferry.data.datastore import Datastore

    step = timedelta(minutes=record.polling_interval or 5)
    poll = (now - _naive(record.anchor)) // step
    # one server polls each interval: the poll itself is claimed
    if poll < 1 or not store.claim(record.id, f"poll:{poll}"):
        return []
    datastore = Datastore.get(workspace, str(record.datastore_name))
    files = list_directly_under(datastore, record.path_on_datastore or "")
    changed = sorted(f for f, sig in files.items() if record.seen.get(f) != sig)
    store.update(record.id, seen=files)
    name = record.data_path_parameter_name
    return [
        (
            f"file:{f}@{files[f]}",
            {name: DataPath(datastore, f)} if name else {},
        )
        for f in changed
    ]


def list_directly_under(datastore: Any, path: str) -> dict[str, str]:
    """``relative path -> signature`` of the files directly under ``path``."""
    location = datastore.location
    full = location.full_path(path.strip("/"))
    try:
        entries = location.fs.ls(full, detail=True)
    except FileNotFoundError:
        return {}
    found = {}
    for info in entries:
        if info.get("type") == "file":
            sig = location.signature_from(info["name"], info)
            found[location.relative_path(info["name"])] = (
                f"{sig.size}:{sig.mtime_ns}:{sig.etag}"
            )
    return found


def submit_for(
    workspace: Workspace, record: ScheduleRecord, overrides: dict[str, Any]
) -> str:
    """Submit the schedule's pipeline (or endpoint default) with its parameters and
    ``overrides``; the run is tagged with the schedule's id. Returns the run id."""
    from dataferry.execution.pipeline_endpoint import submit_endpoint
    from dataferry.execution.published import submit_published

    parameters = {**record.pipeline_parameters, **overrides}
    tags = {SCHEDULE_TAG: record.id}
    flag = record.continue_on_step_failure
    if record.pipeline_endpoint_id:
        run = submit_endpoint(
            workspace,
            record.pipeline_endpoint_id,
            record.experiment_name,
            parameters,
            tags=tags,
            quiet=True,
        )
    else:
        run = submit_published(
            workspace,
            str(record.pipeline_id),
            record.experiment_name,
            parameters,
            continue_on_step_failure=None if flag is None else flag == "True",
            tags=tags,
            quiet=True,
        )
    return str(run.id)
