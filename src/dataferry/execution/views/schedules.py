"""Read model of pipeline schedules, for the CLI and the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataferry.catalog.schedule_store import ScheduleRecord, ScheduleStore

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from dataferry.data.workspace import Workspace


@dataclass(frozen=True, slots=True)
class ScheduleView:
    """One schedule as shown, with the ids of the runs it started (newest first)."""

    id: str
    name: str
    status: str
    kind: str
    description: str | None
    pipeline_id: str | None
    pipeline_endpoint_id: str | None
    experiment_name: str
    recurrence: Mapping[str, Any] | None
    datastore_name: str | None
    path_on_datastore: str | None
    polling_interval: int | None
    data_path_parameter_name: str | None
    pipeline_parameters: Mapping[str, Any]
    created_at: datetime | None
    runs: tuple[str, ...] = field(default=())


def _view(store: ScheduleStore, r: ScheduleRecord) -> ScheduleView:
    return ScheduleView(
        id=r.id,
        name=r.name,
        status=r.status,
        kind=r.kind,
        description=r.description,
        pipeline_id=r.pipeline_id,
        pipeline_endpoint_id=r.pipeline_endpoint_id,
        experiment_name=r.experiment_name,
        recurrence=None if r.recurrence is None else dict(r.recurrence),
        datastore_name=r.datastore_name,
        path_on_datastore=r.path_on_datastore,
        polling_interval=r.polling_interval,
        data_path_parameter_name=r.data_path_parameter_name,
        pipeline_parameters=dict(r.pipeline_parameters),
        created_at=r.created_at,
        runs=tuple(run for _, run in store.fired_runs(r.id)),
    )


def list_schedules(
    workspace: Workspace, *, include_disabled: bool = False
) -> list[ScheduleView]:
    """Schedules, oldest first; Active ones only unless ``include_disabled``."""
    store = ScheduleStore(workspace.catalog)
    records = store.list_schedules(active_only=not include_disabled)
    return [_view(store, r) for r in records]


def get_schedule(workspace: Workspace, schedule_id: str) -> ScheduleView:
    """The schedule ``schedule_id``.

    Raises:
        ScheduleNotFoundError: no schedule has that id.
    """
    store = ScheduleStore(workspace.catalog)
    return _view(store, store.get(schedule_id))
