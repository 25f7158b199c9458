"""``PipelineEndpoint``: one name and URL over numbered versions of published pipelines.

Each version ("0", "1", ...) is a published pipeline; one is the default. A submit
(from Python or a POST to ``endpoint``) runs the default version unless told another.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dataferry.catalog.published_store import (
    ACTIVE,
    DISABLED,
    EndpointRecord,
    PublishedStore,
)
from dataferry.errors import PipelineTypeError, PublishedPipelineStateError
from dataferry.execution.published import PublishedPipeline, submit_published
from dataferry.execution.serve_settings import ENDPOINT_SUBMIT_PATH, server_url

if TYPE_CHECKING:
    import builtins
    from collections.abc import Mapping

    from dataferry.data.workspace import Workspace
    from dataferry.execution.pipeline_run import PipelineRun


class PipelineEndpoint:
    """A pipeline endpoint: ``id``, ``name``, ``status``, ``default_version``,
    ``endpoint``; versions added with ``add``/``add_default``."""

    def __init__(self, workspace: Workspace, record: EndpointRecord) -> None:
        self.workspace = workspace
        self._id = record.id

    def _record(self) -> EndpointRecord:
        return self._store().get_endpoint(endpoint_id=self._id)

    def _store(self) -> PublishedStore:
        return PublishedStore(self.workspace.catalog)

    id = property(lambda self: self._id, doc="The endpoint's id (a GUID).")
    name = property(lambda self: self._record().name, doc="Its unique name.")
    description = property(lambda self: self._record().description)
    status = property(lambda self: self._record().status, doc="'Active'/'Disabled'.")
    default_version = property(
        lambda self: self._record().default_version, doc="The version submit runs."
    )

    @property
    def endpoint(self) -> str:
        """The REST URL that submits it: ``<serve URL>/pipelines/v1.0/PipelineRuns/
        PipelineEndpointSubmit/Id/<id>``; a body's ``PipelineVersion`` picks a version."""
        return f"{server_url(self.workspace)}{ENDPOINT_SUBMIT_PATH}/{self.id}"

    @property
    def swaggerurl(self) -> str:
        """Where the server describes its routes (its JSON API root)."""
        return f"{server_url(self.workspace)}/api/health"

    @property
    def pipeline_version_list(self) -> list[dict[str, str]]:
        """``[{"Version": v, "PipelineId": id}, ...]``, oldest version first."""
        return [
            {"Version": v, "PipelineId": p} for v, p in self._record().versions.items()
        ]

    @staticmethod
    def publish(
        workspace: Workspace, name: str, description: str, pipeline: Any
    ) -> PipelineEndpoint:
        """A new Active endpoint whose version "0" (the default) is ``pipeline``.

        ``pipeline`` is a PublishedPipeline, or a Pipeline that is published first as
        ``"<name>-<MM-DD-YYYY-HH-MM>-Pipeline"``.

        Raises:
            PipelineTypeError: ``name`` is not a non-empty str, or ``pipeline`` is
                neither a Pipeline nor a PublishedPipeline.
            PublishedPipelineStateError: an endpoint of that name exists.
        """
        if not isinstance(name, str) or not name:
            raise PipelineTypeError(
                f"PipelineEndpoint.publish(): name must be a non-empty str, not {name!r}"
            )
        store = PublishedStore(workspace.catalog)
        if any(e.name == name for e in store.list_endpoints(active_only=False)):
            # checked before a Pipeline is published, so a refusal writes nothing
            raise PublishedPipelineStateError(
                "PipelineEndpoint already exists with the given name. Please choose "
                f"a unique value. (name {name!r})"
            )
        published = _as_published(pipeline, name, "PipelineEndpoint.publish()")
        record = EndpointRecord(
            id=str(uuid.uuid4()),
            name=name,
            description=description,
            status=ACTIVE,
            default_version="0",
        )
        return PipelineEndpoint(workspace, store.add_endpoint(record, published.id))

    @staticmethod
    def get(
        workspace: Workspace, id: str | None = None, name: str | None = None
    ) -> PipelineEndpoint:
        """The endpoint with ``id``, else the one named ``name``.

        Raises:
            PipelineTypeError: neither ``id`` nor ``name`` is given.
            PublishedPipelineNotFoundError: no endpoint has that id or name.
        """
        if not id and not name:
            raise PipelineTypeError(
                "Please, enter either id or name to get PipelineEndpoint"
            )
        store = PublishedStore(workspace.catalog)
        return PipelineEndpoint(
            workspace, store.get_endpoint(endpoint_id=id, name=name)
        )

    @staticmethod
    def list(
        workspace: Workspace, active_only: bool = True, max_results: int = 100
    ) -> list[PipelineEndpoint]:
        """Endpoints, oldest first, at most ``max_results``; disabled ones only if
        not ``active_only``."""
        records = PublishedStore(workspace.catalog).list_endpoints(
            active_only=active_only
        )
        return [PipelineEndpoint(workspace, r) for r in records[:max_results]]

    def add(self, pipeline: Any) -> str:
        """Add ``pipeline`` (a PublishedPipeline, or a Pipeline published first) as
        the next version; returns that version. The default does not change.

        Raises:
            PipelineTypeError: ``pipeline`` is neither kind.
        """
        published = _as_published(pipeline, self.name, "PipelineEndpoint.add()")
        return self._store().add_version(self.id, published.id, make_default=False)

    def add_default(self, pipeline: Any) -> str:
        """As ``add``, and make the new version the default; returns it."""
        published = _as_published(pipeline, self.name, "PipelineEndpoint.add_default()")
        return self._store().add_version(self.id, published.id, make_default=True)

    def set_default_version(self, version: str) -> None:
        """Make ``version`` the default.

        Raises:
            PublishedPipelineStateError: the endpoint has no such version.
        """
        self._version_pipeline(str(version))
        self._store().update_endpoint(self.id, default_version=str(version))

    def set_default(self, pipeline: PublishedPipeline) -> None:
        """Make the version holding ``pipeline`` the default.

        Raises:
            PublishedPipelineStateError: no version of the endpoint holds it.
        """
        for version, pipeline_id in self._record().versions.items():
            if pipeline_id == getattr(pipeline, "id", None):
                self._store().update_endpoint(self.id, default_version=version)
                return
        raise PublishedPipelineStateError(
            f"Pipeline {getattr(pipeline, 'id', pipeline)!r} is not a version of "
            f"PipelineEndpoint {self.name!r}; add() it first."
        )

    def get_default_version(self) -> str:
        """The default version."""
        return str(self.default_version)

    def list_versions(self) -> builtins.list[dict[str, str]]:
        """As ``pipeline_version_list``."""
        return self.pipeline_version_list

    def get_pipeline(self, version: str | None = None) -> PublishedPipeline:
        """The published pipeline of ``version`` (the default if None).

        Raises:
            PublishedPipelineStateError: the endpoint has no such version.
        """
        pipeline_id = self._version_pipeline(
            self.default_version if version is None else str(version)
        )
        return PublishedPipeline.get(self.workspace, pipeline_id)

    def list_pipelines(
        self, active_only: bool = True
    ) -> builtins.list[PublishedPipeline]:
        """Its versions' published pipelines (Active ones only unless told)."""
        found = [
            PublishedPipeline.get(self.workspace, p)
            for p in self._record().versions.values()
        ]
        return [p for p in found if not active_only or p.status == ACTIVE]

    def enable(self) -> None:
        """Set the status to 'Active'."""
        self._store().update_endpoint(self.id, status=ACTIVE)

    def disable(self) -> None:
        """Set the status to 'Disabled': submits are refused until ``enable()``."""
        self._store().update_endpoint(self.id, status=DISABLED)

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        pipeline_version: str | None = None,
    ) -> PipelineRun:
        """Run ``pipeline_version`` (the default if None) in ``experiment_name``.

        Raises:
            PublishedPipelineStateError: the endpoint or that version's pipeline is
                disabled, or there is no such version.
            PipelineValidationError, ParameterTypeError: as ``PublishedPipeline.submit``.
        """
        return submit_endpoint(
            self.workspace,
            self.id,
            experiment_name,
            pipeline_parameters,
            pipeline_version=pipeline_version,
            parent_run_id=parent_run_id,
        )

    def _version_pipeline(self, version: str) -> str:
        record = self._record()
        return _version_of(record, version)

    def __repr__(self) -> str:
        record = self._record()
        return (
            f"PipelineEndpoint(Name: {record.name}, Id: {record.id}, "
            f"Status: {record.status}, Default version: {record.default_version})"
        )


def submittable_version(
    workspace: Workspace, endpoint_id: str, pipeline_version: str | None
) -> str:
    """The id of the published pipeline that a submit to version ``pipeline_version``
    (the default if None) of endpoint ``endpoint_id`` runs, if the endpoint may be
    submitted: what a REST submit checks before it reads the body's assignments.

    Raises:
        PublishedPipelineNotFoundError: no endpoint has that id.
        PublishedPipelineStateError: the endpoint is disabled, or has no such version.
    """
    record = PublishedStore(workspace.catalog).get_endpoint(endpoint_id=endpoint_id)
    if record.status != ACTIVE:
        raise PublishedPipelineStateError(
            f"Status must be Active, its {record.status} (PipelineEndpoint "
            f"{record.name!r}, id {record.id}); enable() it to submit it."
        )
    version = record.default_version if pipeline_version is None else pipeline_version
    return _version_of(record, str(version))


def _version_of(record: EndpointRecord, version: str) -> str:
    if version not in record.versions:
        raise PublishedPipelineStateError(
            f"PipelineEndpoint {record.name!r} has no version {version!r} "
            f"(versions: {list(record.versions)}); list_versions() lists them."
        )
    return record.versions[version]


def _as_published(pipeline: Any, name: str, where: str) -> PublishedPipeline:
    from dataferry.execution.pipeline import Pipeline

    if isinstance(pipeline, PublishedPipeline):
        return pipeline
    if isinstance(pipeline, Pipeline):
        stamp = datetime.now(UTC).strftime("%m-%d-%Y-%H-%M")
        return pipeline.publish(name=f"{name}-{stamp}-Pipeline")
    raise PipelineTypeError(
        f"{where}: pipeline must be a Pipeline or PublishedPipeline, not "
        f"{type(pipeline).__name__}"
    )


def submit_endpoint(
    workspace: Workspace,
    endpoint_id: str,
    experiment_name: str,
    overrides: Mapping[str, Any] | None,
    *,
    pipeline_version: str | None = None,
    parent_run_id: str | None = None,
    tags: object = None,
    quiet: bool = False,
) -> PipelineRun:
    """Run a version of endpoint ``endpoint_id`` (the default if None); ``tags`` (a
    dict of str to str, as a REST body may hold anything) are checked by
    ``submit_published`` before anything is recorded.

    Raises:
        PublishedPipelineNotFoundError: no endpoint has that id.
        PublishedPipelineStateError: the endpoint is disabled, or has no such version.
        PipelineValidationError, ParameterTypeError: as ``submit_published``.
    """
    return submit_published(
        workspace,
        submittable_version(workspace, endpoint_id, pipeline_version),
        experiment_name,
        overrides,
        parent_run_id=parent_run_id,
        tags=tags,
        quiet=quiet,
    )
