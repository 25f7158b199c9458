"""``Schedule``: submit a published pipeline (or an endpoint's default version) on a
recurrence, or when files are added or modified directly under a datastore path.

``dataferry serve`` fires due schedules (``schedule_runner``); creating one needs no
provisioning, so a schedule is Active as soon as ``create`` returns.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dataferry.catalog.published_store import ACTIVE, DISABLED, PublishedStore
from dataferry.catalog.schedule_store import (
    DATASTORE,
    RECURRENCE,
    ScheduleRecord,
    ScheduleStore,
)
from dataferry.errors import ScheduleValidationError
from dataferry.execution.schedule_checks import check_datastore, checked_parameters
from dataferry.pipeline.schedule_recurrence import ScheduleRecurrence

if TYPE_CHECKING:
    import builtins
    from collections.abc import Mapping

    from dataferry.data.workspace import Workspace
    from dataferry.execution.pipeline_run import PipelineRun


class Schedule:
    """A pipeline schedule: ``id``, ``name``, ``status``, ``recurrence`` or
    ``datastore_name``/``path_on_datastore``, and the runs it started."""

    def __init__(self, workspace: Workspace, record: ScheduleRecord) -> None:
        self.workspace = workspace
        self._id = record.id

    def _record(self) -> ScheduleRecord:
        return ScheduleStore(self.workspace.catalog).get(self._id)

    id = property(lambda self: self._id, doc="The schedule's id (a GUID).")
    name = property(lambda self: self._record().name)
    description = property(lambda self: self._record().description)
    pipeline_id = property(lambda self: self._record().pipeline_id)
    pipeline_endpoint_id = property(lambda self: self._record().pipeline_endpoint_id)
    status = property(lambda self: self._record().status, doc="'Active'/'Disabled'.")
    datastore_name = property(lambda self: self._record().datastore_name)
    polling_interval = property(lambda self: self._record().polling_interval)
    path_on_datastore = property(lambda self: self._record().path_on_datastore)
    data_path_parameter_name = property(
        lambda self: self._record().data_path_parameter_name
    )

    @property
    def recurrence(self) -> ScheduleRecurrence | None:
        """Its recurrence (None for a datastore schedule)."""
        data = self._record().recurrence
        return None if data is None else ScheduleRecurrence.from_json(dict(data))

    @property
    def continue_on_step_failure(self) -> bool | None:
        """What its runs are submitted with (None: the pipeline's own setting)."""
        flag = self._record().continue_on_step_failure
        return None if flag is None else flag == "True"

    @staticmethod
    def create(
        workspace: Workspace,
        name: str,
        pipeline_id: str,
        experiment_name: str,
        recurrence: ScheduleRecurrence | None = None,
        description: str | None = None,
        pipeline_parameters: Mapping[str, Any] | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Any = None,
        polling_interval: int = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
    ) -> Schedule:
        """A new Active schedule of published pipeline ``pipeline_id``.

        With ``recurrence`` it fires at each due time; with ``datastore`` it polls
        ``path_on_datastore`` every ``polling_interval`` minutes and fires per file
        added or modified directly under it, setting the DataPath parameter
        ``data_path_parameter_name`` to that file. ``wait_for_provisioning`` and
        ``wait_timeout`` are accepted for the SDK: nothing here provisions.

        Raises:
            ScheduleValidationError: as the SDK (both or neither of a recurrence and
                a datastore, datastore arguments with a recurrence, a recurrence that
                does not validate), a bad polling interval, or a data path parameter
                the pipeline does not have as a DataPath.
            PublishedPipelineNotFoundError: no published pipeline has that id.
            PipelineValidationError, ParameterTypeError: a pipeline parameter is
                unknown or of the wrong kind.
        """
        defaults = PublishedStore(workspace.catalog).get(pipeline_id).parameters
        return _create(workspace, locals(), defaults, endpoint=False)

    @staticmethod
    def create_for_pipeline_endpoint(
        workspace: Workspace,
        name: str,
        pipeline_endpoint_id: str,
        experiment_name: str,
        recurrence: ScheduleRecurrence | None = None,
        description: str | None = None,
        pipeline_parameters: Mapping[str, Any] | None = None,
        wait_for_provisioning: bool = False,
        wait_timeout: int = 3600,
        datastore: Any = None,
        polling_interval: int = 5,
        data_path_parameter_name: str | None = None,
        continue_on_step_failure: bool | None = None,
        path_on_datastore: str | None = None,
    ) -> Schedule:
        """As ``create``, for the default version of a pipeline endpoint (read when
        the schedule fires).

        Raises:
            PublishedPipelineNotFoundError: no endpoint has that id.
            ScheduleValidationError, PipelineValidationError, ParameterTypeError:
                as ``create``, checked against the current default version.
        """
        store = PublishedStore(workspace.catalog)
        endpoint = store.get_endpoint(endpoint_id=pipeline_endpoint_id)
        default = store.get(endpoint.versions[endpoint.default_version])
        return _create(workspace, locals(), default.parameters, endpoint=True)

    @staticmethod
    def get(workspace: Workspace, id: str) -> Schedule:
        """The schedule ``id``.

        Raises:
            ScheduleNotFoundError: no schedule has that id.
        """
        return Schedule(workspace, ScheduleStore(workspace.catalog).get(id))

    @staticmethod
    def list(
        workspace: Workspace,
        active_only: bool = True,
        pipeline_id: str | None = None,
        pipeline_endpoint_id: str | None = None,
    ) -> builtins.list[Schedule]:
        """Schedules, oldest first: Active ones unless not ``active_only``, of one
        pipeline or endpoint if given."""
        records = ScheduleStore(workspace.catalog).list_schedules(
            active_only=active_only
        )
        return [
            Schedule(workspace, r)
            for r in records
            if pipeline_id in (None, r.pipeline_id)
            and pipeline_endpoint_id in (None, r.pipeline_endpoint_id)
        ]

    @staticmethod
    def get_schedules_for_pipeline_id(
        workspace: Workspace, pipeline_id: str
    ) -> builtins.list[Schedule]:
        """Every schedule (Active or not) of the published pipeline."""
        return Schedule.list(workspace, active_only=False, pipeline_id=pipeline_id)

    @staticmethod
    def get_schedules_for_pipeline_endpoint_id(
        workspace: Workspace, pipeline_endpoint_id: str
    ) -> builtins.list[Schedule]:
        """Every schedule (Active or not) of the pipeline endpoint."""
        return Schedule.list(
            workspace, active_only=False, pipeline_endpoint_id=pipeline_endpoint_id
        )

    def enable(
        self, wait_for_provisioning: bool = False, wait_timeout: int = 3600
    ) -> None:
        """Set the status to 'Active' (nothing to wait for)."""
        ScheduleStore(self.workspace.catalog).update(self.id, status=ACTIVE)

    def disable(
        self, wait_for_provisioning: bool = False, wait_timeout: int = 3600
    ) -> None:
        """Set the status to 'Disabled': it does not fire until ``enable()``."""
        ScheduleStore(self.workspace.catalog).update(self.id, status=DISABLED)

    def update(self, **changes: Any) -> None:
        """Change ``name``, ``description``, ``recurrence``, ``pipeline_parameters``,
        ``status``, ``datastore``, ``polling_interval``, ``data_path_parameter_name``,
        ``continue_on_step_failure`` or ``path_on_datastore`` (``wait_for_provisioning``
        and ``wait_timeout`` are accepted); the rest stays.

        Raises:
            ScheduleValidationError: an unknown argument, a change of the schedule's
                type, a bad status, or anything ``create`` refuses.
        """
        from dataferry.execution.schedule_update import apply_update

        apply_update(self.workspace, self._record(), changes)

    def get_pipeline_runs(self) -> builtins.list[PipelineRun]:
        """The runs it started, newest first."""
        from dataferry.execution.experiment import Experiment
        from dataferry.execution.pipeline_run import PipelineRun

        record = self._record()
        experiment = Experiment(self.workspace, record.experiment_name)
        fired = ScheduleStore(self.workspace.catalog).fired_runs(self.id)
        return [PipelineRun(experiment, run_id) for _, run_id in fired]

    def get_last_pipeline_run(self) -> PipelineRun | None:
        """The newest run it started, or None."""
        runs = self.get_pipeline_runs()
        return runs[0] if runs else None

    def __repr__(self) -> str:
        r = self._record()
        return f"Schedule(Name: {r.name}, Id: {r.id}, Status: {r.status})"


def _create(
    workspace: Workspace,
    args: Mapping[str, Any],
    defaults: Mapping[str, Any],
    *,
    endpoint: bool,
) -> Schedule:
    recurrence, datastore = args["recurrence"], args["datastore"]
    if not isinstance(args["name"], str) or not args["name"]:
        raise ScheduleValidationError(
            f"Schedule.create(): name must be a non-empty str, not {args['name']!r}"
        )
    if not isinstance(args["experiment_name"], str) or not args["experiment_name"]:
        raise ScheduleValidationError(
            "Schedule.create(): experiment_name must be a non-empty str"
        )
    check_datastore(recurrence, datastore, args, defaults)
    flag = args["continue_on_step_failure"]
    record = ScheduleRecord(
        id=str(uuid.uuid4()),
        name=args["name"],
        description=args["description"],
        pipeline_id=None if endpoint else args["pipeline_id"],
        pipeline_endpoint_id=args["pipeline_endpoint_id"] if endpoint else None,
        experiment_name=args["experiment_name"],
        status=ACTIVE,
        kind=RECURRENCE if recurrence is not None else DATASTORE,
        recurrence=None if recurrence is None else recurrence.to_json(),
        anchor=datetime.now(UTC),
        datastore_name=None if datastore is None else datastore.name,
        path_on_datastore=args["path_on_datastore"] if datastore else None,
        polling_interval=args["polling_interval"] if datastore else None,
        data_path_parameter_name=args["data_path_parameter_name"],
        pipeline_parameters=checked_parameters(defaults, args["pipeline_parameters"]),
        continue_on_step_failure=None if flag is None else str(bool(flag)),
        seen=_baseline(datastore, args["path_on_datastore"]),
    )
    return Schedule(workspace, ScheduleStore(workspace.catalog).add(record))


def _baseline(datastore: Any, path: str | None) -> dict[str, str]:
    """The files already under the path: only later additions and changes fire."""
    from dataferry.execution.schedule_runner import list_directly_under

    return {} if datastore is None else list_directly_under(datastore, path or "")
