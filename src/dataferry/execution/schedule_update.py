"""``Schedule.update``: check every change as ``create`` would, then write them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.catalog.published_store import ACTIVE, DISABLED, PublishedStore
from dataferry.catalog.schedule_store import RECURRENCE, ScheduleRecord, ScheduleStore
from dataferry.errors import ScheduleValidationError
from dataferry.execution.schedule_checks import check_datastore, checked_parameters
from dataferry.pipeline.schedule_recurrence import ScheduleRecurrence

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.data.workspace import Workspace

_ACCEPTED = {"wait_for_provisioning", "wait_timeout"}  # nothing here provisions
_FIELDS = {
    "name",
    "description",
    "recurrence",
    "pipeline_parameters",
    "status",
    "datastore",
    "polling_interval",
    "data_path_parameter_name",
    "continue_on_step_failure",
    "path_on_datastore",
}


def apply_update(
    workspace: Workspace, record: ScheduleRecord, changes: Mapping[str, Any]
) -> None:
    """Apply ``changes`` (None values leave a field as it is).

    Raises:
        ScheduleValidationError: an unknown argument, a change of type, a bad status,
            or anything ``create`` refuses.
    """
    unknown = sorted(set(changes) - _FIELDS - _ACCEPTED)
    if unknown:
        raise ScheduleValidationError(f"update() got unexpected arguments {unknown}")
    given = {k: v for k, v in changes.items() if v is not None and k in _FIELDS}
    is_recurrence = record.kind == RECURRENCE
    if ("recurrence" in given and not is_recurrence) or (
        "datastore" in given and is_recurrence
    ):
        raise ScheduleValidationError(
            f"update() cannot change the schedule type (it is a {record.kind} "
            "schedule); create a new schedule instead"
        )
    status = given.get("status")
    if status is not None and status not in (ACTIVE, DISABLED):
        raise ScheduleValidationError(
            f"status must be 'Active' or 'Disabled', not {status!r}"
        )
    ScheduleStore(workspace.catalog).update(
        record.id, **_columns(workspace, record, given)
    )


def _columns(
    workspace: Workspace, record: ScheduleRecord, given: dict[str, Any]
) -> dict[str, Any]:
    from dataferry.data.datastore import Datastore

    defaults = _defaults(workspace, record)
    recurrence = given.get("recurrence") or (
        ScheduleRecurrence.from_json(dict(record.recurrence))
        if record.recurrence
        else None
    )
    datastore = given.get("datastore") or (
        Datastore.get(workspace, record.datastore_name)
        if record.datastore_name
        else None
    )
    merged = {
        "polling_interval": record.polling_interval,
        "data_path_parameter_name": record.data_path_parameter_name,
        "path_on_datastore": record.path_on_datastore,
        **{k: v for k, v in given.items() if k not in ("recurrence", "datastore")},
    }
    if recurrence is not None:
        merged["data_path_parameter_name"] = merged["path_on_datastore"] = None
        merged["polling_interval"] = None
    check_datastore(recurrence, datastore, merged, defaults)
    columns = {k: v for k, v in given.items() if k in ("name", "description", "status")}
    for key in ("polling_interval", "data_path_parameter_name", "path_on_datastore"):
        if key in given:
            columns[key] = given[key]
    if "recurrence" in given:
        columns["recurrence"] = recurrence.to_json() if recurrence else None
    if "datastore" in given:
        columns["datastore_name"] = given["datastore"].name
    if "pipeline_parameters" in given:
        columns["pipeline_parameters"] = checked_parameters(
            defaults, given["pipeline_parameters"]
        )
    if "continue_on_step_failure" in given:
        columns["continue_on_step_failure"] = str(
            bool(given["continue_on_step_failure"])
        )
    return columns


def _defaults(workspace: Workspace, record: ScheduleRecord) -> Mapping[str, Any]:
    store = PublishedStore(workspace.catalog)
    if record.pipeline_endpoint_id:
        endpoint = store.get_endpoint(endpoint_id=record.pipeline_endpoint_id)
        return store.get(endpoint.versions[endpoint.default_version]).parameters
    return store.get(str(record.pipeline_id)).parameters
