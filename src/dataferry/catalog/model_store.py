"""Registered models in the catalog: versions of a name, each a row with its lineage.

A version is assigned inside one write transaction (the previous highest plus one, from
1) holding the lock of the name's versions, so concurrent writers never race to one. Tags are mutable, properties can only be added, as in the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, func, select

from dataferry.catalog.db_guard import guard_public
from dataferry.catalog.locks import lock
from dataferry.catalog.schema import models
from dataferry.catalog.sql_catalog import now
from dataferry.errors import ModelNotFoundError, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from datetime import datetime

    from dataferry.catalog.sql_catalog import SqlCatalog


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One registered model version. ``asset_path`` is relative to the model store."""

    name: str
    version: int
    asset_path: str
    file_count: int
    size_bytes: int
    description: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    framework: str | None = None
    framework_version: str | None = None
    run_id: str | None = None
    experiment_name: str | None = None
    datasets: tuple[tuple[str, str], ...] = ()  # (scenario, dataset id)
    extras: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None


def _record(row: RowMapping) -> ModelRecord:
    values = dict(row)
    values["datasets"] = tuple((s, i) for s, i in values["datasets"])
    return ModelRecord(**values)


@guard_public
class ModelStore:
    """Adds, reads, changes and removes the registered models of one catalog.

    A database failure raises a ``CatalogError`` naming the operation."""

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog

    def add(
        self, record: ModelRecord, *, ensure_files: Callable[[], object]
    ) -> ModelRecord:
        """Record ``record`` as the next version of its name (its own version is
        ignored); returns the record as stored.

        ``ensure_files`` puts the files back if they are gone; it is called inside the
        write transaction, so a ``delete`` of the last version sharing the same files
        (which removes them inside its own) cannot remove them under this one.

        The version is assigned holding the lock of the name's versions:
        concurrent registrations get consecutive versions.
        """
        with self.catalog.write() as conn:
            lock(conn, "model-versions", record.name)
            ensure_files()
            top = conn.execute(
                select(func.max(models.c.version)).where(models.c.name == record.name)
            ).scalar()
            values = _row(record, version=(top or 0) + 1)
            conn.execute(models.insert().values(**values))
        return self.get(record.name, values["version"])

    def get(self, name: str, version: int | None = None) -> ModelRecord:
        """One version of ``name``; None means the latest.

        Raises:
            ModelNotFoundError: no such name or version (the SDK's text, then the
                versions there are or a close name).
        """
        query = select(models).where(models.c.name == name)
        if version is None:
            query = query.order_by(models.c.version.desc()).limit(1)
        else:
            query = query.where(models.c.version == version)
        with self.catalog.read() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise ModelNotFoundError(self._not_found(name, version))
        return _record(row)

    def _not_found(self, name: str, version: int | None) -> str:
        shown = "" if version is None else f", version {version}"
        message = (
            f"ModelNotFound: Model with name {name}{shown} not found in provided "
            "workspace."
        )
        with self.catalog.read() as conn:
            versions = conn.execute(
                select(models.c.version)
                .where(models.c.name == name)
                .order_by(models.c.version)
            ).scalars()
            there = list(versions)
            names = conn.execute(select(models.c.name).distinct()).scalars().all()
        if there:
            return f"{message} Its versions are {there}; pass one of them."
        hint = did_you_mean(name, names)
        return message + (hint or " Register it with Model.register(ws, path, name).")

    def list(
        self, *, name: str | None = None, run_id: str | None = None
    ) -> list[ModelRecord]:
        """Every version (of ``name``, from ``run_id``), by name then version."""
        query = select(models).order_by(models.c.name, models.c.version)
        if name is not None:
            query = query.where(models.c.name == name)
        if run_id is not None:
            query = query.where(models.c.run_id == run_id)
        with self.catalog.read() as conn:
            return [_record(r) for r in conn.execute(query).mappings()]

    def change(
        self,
        name: str,
        version: int,
        changes: Callable[[ModelRecord], Mapping[str, Any]],
    ) -> ModelRecord:
        """Change one version in place: ``changes`` gets the row as it is now and
        returns the columns to set (``tags``, ``properties``, ``description``,
        ``extras``), read and written in one transaction so concurrent changes are
        not lost. Returns the changed version.

        Raises:
            ModelNotFoundError: the version is not registered (deleted meanwhile).
            Whatever ``changes`` raises (nothing is written then).
        """
        allowed = {"tags", "properties", "description", "extras"}
        where = (models.c.name == name) & (models.c.version == version)
        with self.catalog.write() as conn:
            row = conn.execute(select(models).where(where).with_for_update())
            found = row.mappings().first()
            if found is None:
                raise ModelNotFoundError(self._not_found(name, version))
            values = dict(changes(_record(found)))
            unknown = sorted(set(values) - allowed)
            if unknown:
                raise TypeError(f"ModelStore.change: cannot set columns {unknown}")
            if values:
                conn.execute(models.update().where(where).values(**values))
        return self.get(name, version)

    def delete(
        self, name: str, version: int, *, remove_files: Callable[[str], object]
    ) -> None:
        """Remove one version; when no other version has the same files, call
        ``remove_files(asset_path)`` inside the same write transaction.

        Raises:
            ModelNotFoundError: the version is not registered.
        """
        record = self.get(name, version)
        with self.catalog.write() as conn:
            conn.execute(
                models.delete().where(
                    (models.c.name == name) & (models.c.version == version)
                )
            )
            shared = conn.execute(
                select(func.count()).where(models.c.asset_path == record.asset_path)
            ).scalar()
            if not shared:
                remove_files(record.asset_path)


def _row(record: ModelRecord, *, version: int) -> dict[str, Any]:
    return {
        "name": record.name,
        "version": version,
        "asset_path": record.asset_path,
        "file_count": record.file_count,
        "size_bytes": record.size_bytes,
        "description": record.description,
        "tags": dict(record.tags),
        "properties": dict(record.properties),
        "framework": record.framework,
        "framework_version": record.framework_version,
        "run_id": record.run_id,
        "experiment_name": record.experiment_name,
        "datasets": [list(pair) for pair in record.datasets],
        "extras": dict(record.extras),
        "created_at": now(),
    }
