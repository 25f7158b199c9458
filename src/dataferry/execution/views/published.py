"""Read model of published pipelines and pipeline endpoints, for the CLI and the page.

A ``PublishedView`` describes either kind: ``kind`` is ``"pipeline"`` or
``"endpoint"``; an endpoint's ``versions`` map version -> published pipeline id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataferry.catalog.published_store import (
    EndpointRecord,
    PublishedRecord,
    PublishedStore,
)
from dataferry.errors import PublishedPipelineNotFoundError
from dataferry.execution.serve_settings import (
    ENDPOINT_SUBMIT_PATH,
    SUBMIT_PATH,
    server_url,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from dataferry.data.workspace import Workspace

PIPELINE = "pipeline"
ENDPOINT = "endpoint"


@dataclass(frozen=True, slots=True)
class PublishedView:
    """One published pipeline or endpoint as shown: its REST ``endpoint`` URL, and
    for a pipeline its steps and parameter defaults, for an endpoint its versions."""

    kind: str
    id: str
    name: str
    status: str
    description: str | None
    endpoint: str
    created_at: datetime | None
    version: str | None = None
    steps: tuple[str, ...] = ()
    parameters: Mapping[str, object] = field(default_factory=dict)
    default_version: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)


def _pipeline_view(base: str, r: PublishedRecord) -> PublishedView:
    return PublishedView(
        kind=PIPELINE,
        id=r.id,
        name=r.name,
        status=r.status,
        description=r.description,
        endpoint=f"{base}{SUBMIT_PATH}/{r.id}",
        created_at=r.created_at,
        version=r.version,
        steps=tuple(n["name"] for n in r.plan["nodes"]),
        parameters=dict(r.parameters),
    )


def _endpoint_view(base: str, r: EndpointRecord) -> PublishedView:
    return PublishedView(
        kind=ENDPOINT,
        id=r.id,
        name=r.name,
        status=r.status,
        description=r.description,
        endpoint=f"{base}{ENDPOINT_SUBMIT_PATH}/{r.id}",
        created_at=r.created_at,
        default_version=r.default_version,
        versions=dict(r.versions),
    )


def list_published(
    workspace: Workspace, *, include_disabled: bool = False
) -> list[PublishedView]:
    """Published pipelines then endpoints, each oldest first; Active ones only
    unless ``include_disabled``."""
    store = PublishedStore(workspace.catalog)
    base = server_url(workspace)
    active_only = not include_disabled
    return [
        _pipeline_view(base, r) for r in store.list_published(active_only=active_only)
    ] + [_endpoint_view(base, r) for r in store.list_endpoints(active_only=active_only)]


def get_published(workspace: Workspace, ref: str) -> PublishedView:
    """The published pipeline with id ``ref``, else the endpoint with that id or name.

    Raises:
        PublishedPipelineNotFoundError: none has that id or name.
    """
    store = PublishedStore(workspace.catalog)
    base = server_url(workspace)
    try:
        return _pipeline_view(base, store.get(ref))
    except PublishedPipelineNotFoundError:
        pass
    for endpoint in store.list_endpoints(active_only=False):
        if ref in (endpoint.id, endpoint.name):
            return _endpoint_view(base, endpoint)
    raise PublishedPipelineNotFoundError(
        f"no published pipeline or PipelineEndpoint has id or name {ref!r}; "
        "`dataferry pipeline list --all` lists them."
    )
