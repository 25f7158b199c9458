"""Pipeline schedules in the catalog, and the claims of their firings.

A firing is claimed by inserting ``(schedule_id, due_key)`` under the schedule's lock
in one write transaction: whichever server inserts it first fires, every other one
finds the row and does not, so a due time (or a changed file) fires at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import RowMapping, insert, select, update

from dataferry.catalog.db_guard import guard_public
from dataferry.catalog.locks import lock
from dataferry.catalog.schema import schedule_fires, schedules
from dataferry.catalog.sql_catalog import now
from dataferry.errors import ScheduleNotFoundError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from dataferry.catalog.sql_catalog import SqlCatalog

RECURRENCE = "Recurrence"
DATASTORE = "DataStore"


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """One schedule: what it submits, and when (a recurrence or a datastore path)."""

    id: str
    name: str
    description: str | None
    pipeline_id: str | None
    pipeline_endpoint_id: str | None
    experiment_name: str
    status: str
    kind: str
    recurrence: Mapping[str, Any] | None
    anchor: datetime
    datastore_name: str | None = None
    path_on_datastore: str | None = None
    polling_interval: int | None = None
    data_path_parameter_name: str | None = None
    pipeline_parameters: Mapping[str, Any] = field(default_factory=dict)
    continue_on_step_failure: str | None = None
    seen: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None


@guard_public
class ScheduleStore:
    """Adds, reads and changes schedules; claims and records their firings.

    A database failure raises a ``CatalogError`` naming the operation."""

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog

    def add(self, record: ScheduleRecord) -> ScheduleRecord:
        """Store ``record`` (``created_at`` set now); returns it as stored."""
        values = {
            f: getattr(record, f) for f in ScheduleRecord.__slots__ if f != "created_at"
        }
        values["recurrence"] = (
            None if record.recurrence is None else dict(record.recurrence)
        )
        values["pipeline_parameters"] = dict(record.pipeline_parameters)
        values["seen"] = dict(record.seen)
        with self.catalog.write() as conn:
            conn.execute(insert(schedules).values(**values, created_at=now()))
        return self.get(record.id)

    def get(self, schedule_id: str) -> ScheduleRecord:
        """The schedule ``schedule_id``.

        Raises:
            ScheduleNotFoundError: no schedule has that id.
        """
        with self.catalog.read() as conn:
            row = (
                conn.execute(select(schedules).where(schedules.c.id == schedule_id))
                .mappings()
                .first()
            )
        if row is None:
            raise ScheduleNotFoundError(
                f"no schedule has id {schedule_id!r}; `dataferry schedule list --all` "
                "lists them."
            )
        return _record(row)

    def list_schedules(self, *, active_only: bool = True) -> list[ScheduleRecord]:
        """Schedules, oldest first (only Active ones unless told)."""
        query = select(schedules).order_by(schedules.c.created_at)
        if active_only:
            query = query.where(schedules.c.status == "Active")
        with self.catalog.read() as conn:
            return [_record(r) for r in conn.execute(query).mappings()]

    def update(self, schedule_id: str, **values: Any) -> None:
        """Set columns of the schedule.

        Raises:
            ScheduleNotFoundError: no schedule has that id.
        """
        with self.catalog.write() as conn:
            done = conn.execute(
                update(schedules).where(schedules.c.id == schedule_id).values(**values)
            )
        if done.rowcount == 0:
            self.get(schedule_id)

    def claim(self, schedule_id: str, due_key: str) -> bool:
        """Take the firing ``due_key`` of the schedule: True if this caller took it,
        False if it was taken before (by this or another server)."""
        with self.catalog.write() as conn:
            lock(conn, "schedule", schedule_id)
            taken = conn.execute(
                select(schedule_fires.c.due_key).where(
                    schedule_fires.c.schedule_id == schedule_id,
                    schedule_fires.c.due_key == due_key,
                )
            ).first()
            if taken is not None:
                return False
            conn.execute(
                insert(schedule_fires).values(
                    schedule_id=schedule_id, due_key=due_key, fired_at=now()
                )
            )
        return True

    def record_run(self, schedule_id: str, due_key: str, run_id: str) -> None:
        """Note the run a claimed firing started."""
        with self.catalog.write() as conn:
            conn.execute(
                update(schedule_fires)
                .where(
                    schedule_fires.c.schedule_id == schedule_id,
                    schedule_fires.c.due_key == due_key,
                )
                .values(run_id=run_id)
            )

    def fired_runs(self, schedule_id: str) -> list[tuple[str, str]]:
        """``(due_key, run id)`` of the schedule's firings that started a run,
        newest first."""
        with self.catalog.read() as conn:
            rows = conn.execute(
                select(schedule_fires.c.due_key, schedule_fires.c.run_id)
                .where(
                    schedule_fires.c.schedule_id == schedule_id,
                    schedule_fires.c.run_id.is_not(None),
                )
                .order_by(
                    schedule_fires.c.fired_at.desc(), schedule_fires.c.due_key.desc()
                )
            ).all()
        return [(k, r) for k, r in rows]


def _record(row: RowMapping) -> ScheduleRecord:
    return ScheduleRecord(**dict(row))
