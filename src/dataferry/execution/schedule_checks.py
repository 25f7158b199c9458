"""The checks ``Schedule.create`` and ``update`` make before anything is written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.errors import ScheduleValidationError
from dataferry.execution.published_params import parameter_values

if TYPE_CHECKING:
    from collections.abc import Mapping


def check_datastore(
    recurrence: Any,
    datastore: Any,
    args: Mapping[str, Any],
    defaults: Mapping[str, Any],
) -> None:
    """A recurrence (validated) or a datastore, with its arguments only with it.

    Raises:
        ScheduleValidationError: the first problem, as the SDK words it.
    """
    from dataferry.data.datastore import Datastore
    from dataferry.pipeline.schedule_recurrence import ScheduleRecurrence

    if recurrence is not None and datastore is not None:
        raise ScheduleValidationError(
            "Can not specify both a Recurrence and a Datastore"
        )
    if recurrence is not None:
        if not isinstance(recurrence, ScheduleRecurrence):
            raise ScheduleValidationError(
                f"recurrence must be a ScheduleRecurrence, not {type(recurrence).__name__}"
            )
        for key in ("data_path_parameter_name", "path_on_datastore"):
            if args.get(key) is not None:
                raise ScheduleValidationError(
                    f"{key} can only be given for a Datastore schedule, not with a "
                    "recurrence"
                )
        recurrence.validate()
        return
    if not isinstance(datastore, Datastore):
        raise ScheduleValidationError(
            "a schedule needs a recurrence=ScheduleRecurrence(...) or a "
            f"datastore=Datastore to watch, not datastore={datastore!r}"
        )
    interval = args.get("polling_interval")
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < 1:
        raise ScheduleValidationError(
            f"polling_interval must be a whole number of minutes >= 1, not {interval!r}"
        )
    name = args.get("data_path_parameter_name")
    default = defaults.get(name) if name is not None else None
    if name is not None and not (isinstance(default, dict) and "datapath" in default):
        raise ScheduleValidationError(
            f"data_path_parameter_name {name!r} is not a DataPath parameter of the "
            f"pipeline (its parameters: {sorted(defaults) or 'none'})"
        )


def checked_parameters(
    defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The schedule's parameter values to store: str, int, float or bool, each a
    parameter of the pipeline and readable as its kind.

    Raises:
        ScheduleValidationError: ``overrides`` is not a dict, or a value is not a
            scalar (DataPath and dataset values are set by a datastore schedule or
            the pipeline's defaults).
        PipelineValidationError, ParameterTypeError: as a submit.
    """
    if overrides is not None and not isinstance(overrides, dict):
        # dict() would read a list of pairs, or fail with a bare ValueError
        raise ScheduleValidationError(
            "pipeline_parameters must be a dict of name: value, not "
            f"{type(overrides).__name__}; pass e.g. {{'count': 3}}."
        )
    overrides = dict(overrides or {})
    for name, value in overrides.items():
        if not isinstance(value, str | int | float | bool):
            raise ScheduleValidationError(
                f"pipeline_parameters[{name!r}]: a schedule stores str, int, float or "
                f"bool values, not {type(value).__name__}"
            )
    parameter_values(defaults, overrides)  # raises on an unknown or unreadable one
    return overrides
