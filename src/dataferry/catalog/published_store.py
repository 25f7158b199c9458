"""Published pipelines and pipeline endpoints in the catalog.

A published pipeline is immutable (its plan and parameter defaults never change) but
for its status. An endpoint names numbered versions of published pipelines, one the
default; versions are added under the endpoint's lock so two writers never take one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, insert, select, update

from dataferry.catalog.db_guard import guard_public
from dataferry.catalog.locks import lock
from dataferry.catalog.schema import (
    pipeline_endpoint_versions,
    pipeline_endpoints,
    published_pipelines,
)
from dataferry.catalog.sql_catalog import now
from dataferry.errors import PublishedPipelineNotFoundError, PublishedPipelineStateError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from dataferry.catalog.sql_catalog import SqlCatalog

ACTIVE = "Active"
DISABLED = "Disabled"


@dataclass(frozen=True, slots=True)
class PublishedRecord:
    """One published pipeline: its compiled plan and parameter defaults (as JSON)."""

    id: str
    name: str
    description: str | None
    version: str | None
    status: str
    continue_on_step_failure: bool | None
    plan: Mapping[str, Any]
    parameters: Mapping[str, Any]
    graph_description: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """One pipeline endpoint with its versions (version -> published pipeline id)."""

    id: str
    name: str
    description: str | None
    status: str
    default_version: str
    versions: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None


def _published(row: RowMapping) -> PublishedRecord:
    values = dict(row)
    flag = values.pop("continue_on_step_failure")
    return PublishedRecord(
        **values, continue_on_step_failure=None if flag is None else flag == "True"
    )


@guard_public
class PublishedStore:
    """Adds and reads published pipelines and endpoints; changes their status.

    A database failure raises a ``CatalogError`` naming the operation."""

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog

    def add(self, record: PublishedRecord) -> PublishedRecord:
        """Store ``record`` (its ``created_at`` is set now); returns it as stored."""
        flag = record.continue_on_step_failure
        row = {
            "id": record.id,
            "name": record.name,
            "description": record.description,
            "version": record.version,
            "status": record.status,
            "continue_on_step_failure": None if flag is None else str(flag),
            "plan": dict(record.plan),
            "parameters": dict(record.parameters),
            "graph_description": record.graph_description,
            "created_at": now(),
        }
        with self.catalog.write() as conn:
            conn.execute(insert(published_pipelines).values(row))
        return self.get(record.id)

    def get(self, pipeline_id: str) -> PublishedRecord:
        """The published pipeline ``pipeline_id``.

        Raises:
            PublishedPipelineNotFoundError: no published pipeline has that id.
        """
        with self.catalog.read() as conn:
            row = (
                conn.execute(
                    select(published_pipelines).where(
                        published_pipelines.c.id == pipeline_id
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise PublishedPipelineNotFoundError(
                f"no published pipeline has id {pipeline_id!r}; "
                "`dataferry pipeline list --all` lists them."
            )
        return _published(row)

    def list_published(self, *, active_only: bool = True) -> list[PublishedRecord]:
        """Published pipelines, oldest first (only Active ones unless told)."""
        query = select(published_pipelines).order_by(published_pipelines.c.created_at)
        if active_only:
            query = query.where(published_pipelines.c.status == ACTIVE)
        with self.catalog.read() as conn:
            return [_published(r) for r in conn.execute(query).mappings()]

    def set_status(self, pipeline_id: str, status: str) -> None:
        """Set a published pipeline's status ('Active' or 'Disabled').

        Raises:
            PublishedPipelineNotFoundError: no published pipeline has that id.
        """
        with self.catalog.write() as conn:
            done = conn.execute(
                update(published_pipelines)
                .where(published_pipelines.c.id == pipeline_id)
                .values(status=status)
            )
        if done.rowcount == 0:
            self.get(pipeline_id)  # raises the not-found error

    def add_endpoint(self, record: EndpointRecord, pipeline_id: str) -> EndpointRecord:
        """Store a new endpoint whose version "0" (its default) is ``pipeline_id``.

        Raises:
            PublishedPipelineStateError: an endpoint of that name exists.
        """
        with self.catalog.write() as conn:
            lock(conn, "pipeline-endpoint", record.name)
            taken = conn.execute(
                select(pipeline_endpoints.c.id).where(
                    pipeline_endpoints.c.name == record.name
                )
            ).first()
            if taken is not None:
                raise PublishedPipelineStateError(
                    "PipelineEndpoint already exists with the given name. Please "
                    f"choose a unique value. (name {record.name!r})"
                )
            conn.execute(
                insert(pipeline_endpoints).values(
                    id=record.id,
                    name=record.name,
                    description=record.description,
                    status=ACTIVE,
                    default_version="0",
                    created_at=now(),
                )
            )
            conn.execute(
                insert(pipeline_endpoint_versions).values(
                    endpoint_id=record.id, version="0", pipeline_id=pipeline_id
                )
            )
        return self.get_endpoint(endpoint_id=record.id)

    def add_version(
        self, endpoint_id: str, pipeline_id: str, *, make_default: bool
    ) -> str:
        """Add ``pipeline_id`` as the endpoint's next version; returns the version."""
        with self.catalog.write() as conn:
            lock(conn, "pipeline-endpoint", endpoint_id)
            have = conn.execute(
                select(pipeline_endpoint_versions.c.version).where(
                    pipeline_endpoint_versions.c.endpoint_id == endpoint_id
                )
            ).all()
            version = str(max((int(v) for (v,) in have), default=-1) + 1)
            conn.execute(
                insert(pipeline_endpoint_versions).values(
                    endpoint_id=endpoint_id, version=version, pipeline_id=pipeline_id
                )
            )
            if make_default:
                conn.execute(
                    update(pipeline_endpoints)
                    .where(pipeline_endpoints.c.id == endpoint_id)
                    .values(default_version=version)
                )
        return version

    def update_endpoint(self, endpoint_id: str, **values: str) -> None:
        """Set the endpoint's ``status`` or ``default_version``."""
        with self.catalog.write() as conn:
            conn.execute(
                update(pipeline_endpoints)
                .where(pipeline_endpoints.c.id == endpoint_id)
                .values(**values)
            )

    def get_endpoint(
        self, *, endpoint_id: str | None = None, name: str | None = None
    ) -> EndpointRecord:
        """The endpoint with that id (or else that name), with its versions.

        Raises:
            PublishedPipelineNotFoundError: no endpoint has that id or name.
        """
        column = pipeline_endpoints.c.id if endpoint_id else pipeline_endpoints.c.name
        key = endpoint_id or name
        with self.catalog.read() as conn:
            row = (
                conn.execute(select(pipeline_endpoints).where(column == key))
                .mappings()
                .first()
            )
            if row is None:
                raise PublishedPipelineNotFoundError(
                    f"no PipelineEndpoint has {'id' if endpoint_id else 'name'} "
                    f"{key!r}; PipelineEndpoint.list(ws) lists them."
                )
            versions = conn.execute(
                select(
                    pipeline_endpoint_versions.c.version,
                    pipeline_endpoint_versions.c.pipeline_id,
                ).where(pipeline_endpoint_versions.c.endpoint_id == row["id"])
            ).all()
        ordered = sorted(versions, key=lambda v: int(v[0]))
        return EndpointRecord(**dict(row), versions={v: p for v, p in ordered})

    def list_endpoints(self, *, active_only: bool = True) -> list[EndpointRecord]:
        """Endpoints, oldest first (only Active ones unless told)."""
        query = select(pipeline_endpoints.c.id).order_by(
            pipeline_endpoints.c.created_at
        )
        if active_only:
            query = query.where(pipeline_endpoints.c.status == ACTIVE)
        with self.catalog.read() as conn:
            ids = [i for (i,) in conn.execute(query)]
        return [self.get_endpoint(endpoint_id=i) for i in ids]
