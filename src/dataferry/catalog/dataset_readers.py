"""Which step runs read a saved dataset definition: the catalog side of a dataset
version's lineage (``data.dataset_lineage``).

A step run that reused one which read the dataset counts as a reader too: its run
used those bytes, though it recorded no lineage rows of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from dataferry.catalog.schema import lineage, step_runs

if TYPE_CHECKING:
    from datetime import datetime

    from dataferry.catalog.sql_catalog import SqlCatalog

__all__ = ["DatasetRead", "readers_of"]


@dataclass(frozen=True, slots=True)
class DatasetRead:
    """One step run that read the dataset through its input ``input_name``."""

    run_id: str
    step_run_id: str
    step_name: str
    input_name: str
    reused_from: str | None
    created_at: datetime


def readers_of(catalog: SqlCatalog, dataset_id: str) -> list[DatasetRead]:
    """Every step run that read dataset ``dataset_id`` (or reused one that did),
    oldest first."""
    with catalog.read() as conn:
        direct = conn.execute(
            select(lineage.c.step_run_id, lineage.c.name)
            .where(lineage.c.dataset_id == dataset_id, lineage.c.role == "input")
            .order_by(lineage.c.id)
        ).all()
        inputs = {row.step_run_id: row.name for row in direct}
        if not inputs:
            return []
        ids = list(inputs)
        rows = conn.execute(
            select(step_runs)
            .where(or_(step_runs.c.id.in_(ids), step_runs.c.reused_from.in_(ids)))
            .order_by(step_runs.c.created_at, step_runs.c.id)
        ).all()
    return [
        DatasetRead(
            r.run_id,
            r.id,
            r.step_name,
            inputs.get(r.id) or inputs[r.reused_from],
            r.reused_from,
            r.created_at,
        )
        for r in rows
    ]
