"""Compute targets in the catalog: one row each, keyed by name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, select

from dataferry.catalog.db_guard import guard_public
from dataferry.catalog.locks import insert_new
from dataferry.catalog.records import ComputeTargetRecord
from dataferry.catalog.schema import compute_targets
from dataferry.catalog.sql_catalog import now
from dataferry.errors import (
    ComputeTargetExistsError,
    ComputeTargetNotFoundError,
    did_you_mean,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.catalog.sql_catalog import SqlCatalog


@guard_public
class ComputeStore:
    """Adds, reads and removes the compute targets of one workspace's catalog.

    A database failure raises a ``CatalogError`` naming the operation."""

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog

    def add(self, record: ComputeTargetRecord) -> ComputeTargetRecord:
        """Record ``record``; adding one that is already there as given returns it.

        Creating a target again with the same settings is what a notebook run twice
        does, so it is not an error; other settings under the same name are.

        Raises:
            ComputeTargetExistsError: a target of that name has other settings.
        """
        with self.catalog.write() as conn:  # atomic: one of two adders inserts it
            inserted = insert_new(conn, compute_targets, _row(record), ["name"])
        existing = self.get(record.name)
        if inserted:
            return existing
        if (existing.kind, existing.max_nodes, dict(existing.config)) != (
            record.kind,
            record.max_nodes,
            dict(record.config),
        ):
            raise ComputeTargetExistsError(
                f"compute target '{record.name}' already exists as a {existing.kind} "
                f"with other settings ({dict(existing.config)}); delete it first "
                f"(`dataferry compute delete {record.name}`) or choose another name."
            )
        return existing

    def get(self, name: str) -> ComputeTargetRecord:
        """The target called ``name``.

        Raises:
            ComputeTargetNotFoundError: no target has that name.
        """
        with self.catalog.read() as conn:
            row = conn.execute(
                select(compute_targets).where(compute_targets.c.name == name)
            ).first()
            if row is None:
                names = conn.execute(select(compute_targets.c.name)).scalars().all()
        if row is None:
            raise ComputeTargetNotFoundError(
                f"ComputeTargetNotFound: Compute Target with name {name} not found in "
                f"provided workspace.{did_you_mean(name, names)} Known: "
                f"{', '.join(sorted(names)) or 'none'}; create it with "
                "ComputeTarget.create(ws, name, config) or `dataferry compute create`."
            )
        return _record(row._mapping)

    def update_scale(
        self, name: str, max_nodes: int, config: Mapping[str, Any]
    ) -> ComputeTargetRecord:
        """Replace the target's node bound and settings (``AmlCompute.update``).

        Raises:
            ComputeTargetNotFoundError: no target has that name.
        """
        with self.catalog.write() as conn:
            conn.execute(
                compute_targets.update()
                .where(compute_targets.c.name == name)
                .values(max_nodes=max_nodes, config=dict(config))
            )
        return self.get(name)

    def list(self) -> list[ComputeTargetRecord]:
        """Every target, by name."""
        with self.catalog.read() as conn:
            rows = conn.execute(
                select(compute_targets).order_by(compute_targets.c.name)
            ).all()
        return [_record(r._mapping) for r in rows]

    def remove(self, name: str) -> None:
        """Forget the target called ``name`` (runs that used it keep its name).

        Raises:
            ComputeTargetNotFoundError: no target has that name.
        """
        with self.catalog.write() as conn:
            deleted = conn.execute(
                compute_targets.delete().where(compute_targets.c.name == name)
            ).rowcount
        if not deleted:
            self.get(name)  # raises, with the known names


def _row(record: ComputeTargetRecord) -> dict[str, object]:
    return {
        "name": record.name,
        "kind": record.kind,
        "runs_on": record.runs_on,
        "max_nodes": record.max_nodes,
        "config": dict(record.config),
        "state": record.state,
        "created_at": record.created_at or now(),
    }


def _record(row: RowMapping) -> ComputeTargetRecord:
    return ComputeTargetRecord(
        name=row["name"],
        kind=row["kind"],
        runs_on=row["runs_on"],
        max_nodes=row["max_nodes"],
        config=row["config"],
        state=row["state"],
        created_at=row["created_at"],
    )
