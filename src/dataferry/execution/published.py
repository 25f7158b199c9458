"""``PublishedPipeline``: a pipeline saved to be submitted later, from Python or REST.

Publishing validates the graph, builds its environments, takes its snapshots and
compiles its plan once, as ``Pipeline.submit`` does, and stores the plan and the
parameter defaults in the catalog; a shared workspace's snapshots go to its shared
default datastore too, so any workspace folder on the catalog can submit it. A submit records a new run of that stored plan
with the given parameter values; the graph's code is not needed any more.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from dataferry.catalog.published_store import (
    ACTIVE,
    DISABLED,
    PublishedRecord,
    PublishedStore,
)
from dataferry.errors import PipelineValidationError, PublishedPipelineStateError
from dataferry.execution.published_params import parameter_values
from dataferry.execution.serve_settings import SUBMIT_PATH, server_url
from dataferry.pipeline.checks import check_type

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.catalog.run_store import RunRecord
    from dataferry.data.workspace import Workspace
    from dataferry.execution.pipeline import Pipeline
    from dataferry.execution.pipeline_run import PipelineRun


class PublishedPipeline:
    """A published pipeline: ``id``, ``name``, ``status``, ``endpoint``, ``submit``."""

    def __init__(self, workspace: Workspace, record: PublishedRecord) -> None:
        self.workspace = workspace
        self._record = record

    id = property(lambda self: self._record.id, doc="The pipeline's id (a GUID).")
    name = property(lambda self: self._record.name, doc="The name it was published as.")
    description = property(lambda self: self._record.description)
    version = property(lambda self: self._record.version)
    graph_id = property(lambda self: self._record.id, doc="Its graph's id (its own).")
    continue_on_step_failure = property(
        lambda self: self._record.continue_on_step_failure
    )

    @property
    def status(self) -> str:
        """'Active' or 'Disabled', as stored now."""
        return self._store().get(self.id).status

    @property
    def endpoint(self) -> str:
        """The REST URL that submits it: ``<serve URL>/pipelines/v1.0/PipelineRuns/
        PipelineSubmit/<id>`` (the URL ``dataferry serve`` last recorded)."""
        return f"{server_url(self.workspace)}{SUBMIT_PATH}/{self.id}"

    @property
    def total_run_steps(self) -> int:
        """How many steps a run of it has."""
        return len(self._record.plan["nodes"])

    def get_step_names(self) -> list[str]:
        """The names of its steps, in plan order."""
        return [node["name"] for node in self._record.plan["nodes"]]

    def _store(self) -> PublishedStore:
        return PublishedStore(self.workspace.catalog)

    @staticmethod
    def get(workspace: Workspace, id: str, **kwargs: Any) -> PublishedPipeline:
        """The published pipeline ``id``.

        Raises:
            PublishedPipelineNotFoundError: no published pipeline has that id.
        """
        _no_kwargs("PublishedPipeline.get", kwargs)
        return PublishedPipeline(workspace, PublishedStore(workspace.catalog).get(id))

    @staticmethod
    def list(
        workspace: Workspace, active_only: bool = True, **kwargs: Any
    ) -> list[PublishedPipeline]:
        """The published pipelines, oldest first; disabled ones only if not
        ``active_only``."""
        _no_kwargs("PublishedPipeline.list", kwargs)
        records = PublishedStore(workspace.catalog).list_published(
            active_only=active_only
        )
        return [PublishedPipeline(workspace, r) for r in records]

    get_all = list  # the SDK's deprecated name

    def enable(self) -> None:
        """Set the status to 'Active'."""
        self._store().set_status(self.id, ACTIVE)

    def disable(self) -> None:
        """Set the status to 'Disabled': submits are refused until ``enable()``."""
        self._store().set_status(self.id, DISABLED)

    def submit(
        self,
        workspace: Workspace,
        experiment_name: str,
        pipeline_parameters: Mapping[str, Any] | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        parent_run_id: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> PipelineRun:
        """Run it in ``experiment_name`` with ``pipeline_parameters`` applied.

        Raises:
            PublishedPipelineStateError: it is disabled.
            PipelineValidationError: a parameter is unknown (each is named).
            ParameterTypeError: a value cannot be read as its parameter's kind.
        """
        return submit_published(
            workspace,
            self.id,
            experiment_name,
            pipeline_parameters,
            parent_run_id=parent_run_id,
            continue_on_step_failure=continue_on_step_failure,
        )

    def __repr__(self) -> str:
        return f"PublishedPipeline(Name: {self.name}, Id: {self.id}, Status: {self.status})"


def _no_kwargs(where: str, kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        from dataferry.errors import PipelineTypeError

        raise PipelineTypeError(f"{where}() got unexpected arguments {sorted(kwargs)}")


def publish(
    pipeline: Pipeline,
    name: str | None,
    description: str | None,
    version: str | None,
    continue_on_step_failure: bool | None,
) -> PublishedPipeline:
    """Store ``pipeline`` as a new Active published pipeline (``Pipeline.publish``).

    Raises:
        PipelineTypeError: an argument is of the wrong type.
        PipelineValidationError: the graph has problems (every one is listed).
        EnvironmentDefinitionError, EnvironmentBuildError: as ``Pipeline.submit``.
        StorageError: a shared workspace's default datastore refused its snapshots.
    """
    for label, value in (("name", name), ("description", description)):
        check_type(value, str, f"publish(): {label}", "a str")
    check_type(
        continue_on_step_failure, bool, "publish(): continue_on_step_failure", "a bool"
    )
    plan, defaults = pipeline._compile_for_publish()
    return _store_published(
        pipeline.workspace,
        PublishedRecord(
            id=str(uuid.uuid4()),
            name=name or "",
            description=description,
            version=None if version is None else str(version),
            status=ACTIVE,
            continue_on_step_failure=continue_on_step_failure,
            plan=plan,
            parameters=defaults,
            graph_description=pipeline.description,
        ),
    )


def publish_run(
    workspace: Workspace,
    run: RunRecord,
    name: str,
    description: str | None,
    version: str | None,
    continue_on_step_failure: bool | None,
) -> PublishedPipeline:
    """Store a run's plan as a new published pipeline, its parameter values the
    defaults (``PipelineRun.publish_pipeline``).

    Raises:
        PipelineTypeError: an argument is of the wrong type.
        SnapshotMissingError, StorageError: on a shared workspace, a snapshot of the
            run is neither on its default datastore nor here, or cannot be stored.
    """
    for label, value in (("name", name), ("description", description)):
        check_type(value, str, f"publish_pipeline(): {label}", "a str")
    check_type(
        continue_on_step_failure,
        bool,
        "publish_pipeline(): continue_on_step_failure",
        "a bool",
    )
    return _store_published(
        workspace,
        PublishedRecord(
            id=str(uuid.uuid4()),
            name=name,
            description=description,
            version=None if version is None else str(version),
            status=ACTIVE,
            continue_on_step_failure=continue_on_step_failure,
            plan=run.definition,
            parameters=run.parameters,
            graph_description=run.description,
        ),
    )


def _store_published(
    workspace: Workspace, record: PublishedRecord
) -> PublishedPipeline:
    """Store ``record``; on a shared workspace its code snapshots go to the shared
    default datastore first (another workspace folder submits it), held until the
    record names them, so a concurrent gc leaves them (gc keeps them while it exists).

    Raises:
        SnapshotMissingError, StorageError: as ``publish_snapshots``.
    """
    from dataferry.execution.shared_snapshots import plan_snapshots, snapshots_published

    with snapshots_published(workspace, plan_snapshots(record.plan)):
        stored = PublishedStore(workspace.catalog).add(record)
    return PublishedPipeline(workspace, stored)


def submit_published(
    workspace: Workspace,
    pipeline_id: str,
    experiment_name: str,
    overrides: Mapping[str, Any] | None,
    *,
    parent_run_id: str | None = None,
    continue_on_step_failure: bool | None = None,
    tags: object = None,
    description: object = None,
    quiet: bool = False,
) -> PipelineRun:
    """Record a run of the published pipeline and start its driver; the run's
    description is ``description`` (a REST body's ``Description``) if given, else
    the pipeline's.

    Nothing is recorded unless every check passes.

    Raises:
        PublishedPipelineNotFoundError: no published pipeline has that id.
        PublishedPipelineStateError: it is disabled.
        PipelineValidationError: a parameter is unknown (each is named), or the
            experiment name is empty.
        ParameterTypeError: a value cannot be read as its parameter's kind.
        InvalidNameError: the experiment name is no valid name (and so no run id).
        PipelineTypeError: ``tags`` is not a dict of str to str, or ``description``
            is not a str.
        SnapshotMissingError: on a shared workspace, a code snapshot of it is neither
            on the shared default datastore nor in this workspace folder.
        StorageError: the shared default datastore failed.
    """
    from dataferry.execution.experiment import Experiment, validate_experiment_name
    from dataferry.execution.pipeline import new_run_id
    from dataferry.execution.pipeline_run import PipelineRun
    from dataferry.execution.shared_snapshots import plan_snapshots, snapshots_published
    from dataferry.execution.submission import RunRequest, recorder_for

    record = check_submittable(workspace, pipeline_id)
    check_type(experiment_name, str, "submit(): experiment_name", "a str")
    if not experiment_name:
        raise PipelineValidationError(["experiment name is empty"], "the submit")
    # before the run id is made of it: '../x' or 'é' is no folder name
    validate_experiment_name(experiment_name)
    check_tags(tags)
    check_type(description, str, "submit(): description", "a str")
    check_type(
        continue_on_step_failure, bool, "submit(): continue_on_step_failure", "a bool"
    )
    parameters = parameter_values(record.parameters, overrides)
    if continue_on_step_failure is None:
        continue_on_step_failure = bool(record.continue_on_step_failure)
    options = {
        "continue_on_step_failure": continue_on_step_failure,
        "regenerate_outputs": False,
        "parent_run_id": parent_run_id,
        "delete_intermediate_outputs": False,
        "published_pipeline_id": record.id,
    }
    run_id = new_run_id(experiment_name)
    # a pipeline published before its snapshots were shared has them stored from the
    # folder that took them; from any other folder a missing one is refused here
    with (
        snapshots_published(workspace, plan_snapshots(record.plan)),
        recorder_for(workspace) as recorder,
    ):
        link = recorder.record(
            RunRequest(
                run_id=run_id,
                experiment=experiment_name,
                plan=record.plan,
                parameters=parameters,
                options=options,
                tags=cast("dict[str, str] | None", tags),
                description=record.graph_description
                if description is None
                else cast("str", description),
                steps=_step_runs(record.plan),
            )
        )
    if not quiet:
        print(f"Submitted PipelineRun {run_id}")
    return PipelineRun(Experiment(workspace, experiment_name), run_id, _link=link)


def check_submittable(workspace: Workspace, pipeline_id: str) -> PublishedRecord:
    """The published pipeline ``pipeline_id`` if it may be submitted.

    Raises:
        PublishedPipelineNotFoundError: no published pipeline has that id.
        PublishedPipelineStateError: it is disabled.
    """
    record = PublishedStore(workspace.catalog).get(pipeline_id)
    if record.status != ACTIVE:
        raise PublishedPipelineStateError(
            f"Status must be Active, its {record.status} (published pipeline "
            f"{record.name!r}, id {record.id}); enable() it to submit it."
        )
    return record


def check_tags(tags: object) -> None:
    """Raises PipelineTypeError unless ``tags`` is None or a dict of str to str."""
    from dataferry.errors import PipelineTypeError

    if tags is None:
        return
    if not isinstance(tags, dict):
        raise PipelineTypeError(
            f"submit(): tags must be a dict of str to str, not {type(tags).__name__}"
        )
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise PipelineTypeError(
                f"submit(): tag {key!r} has a {type(value).__name__} value "
                f"{value!r}; tags map str to str."
            )


def _step_runs(plan: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(step run id, node id, step name)`` per node of a stored plan."""
    return [
        (f"{n['node_id']}_{uuid.uuid4().hex[:8]}", n["node_id"], n["name"])
        for n in plan["nodes"]
    ]
