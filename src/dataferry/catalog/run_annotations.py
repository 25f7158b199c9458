"""What a run's code attaches to it besides metrics: tags, properties and files.

Tags change (``set_tags`` replaces a key's value); properties are written once, as in the
Azure ML SDK: adding a key again with the same value is accepted, with another value it
is refused, and a call that would change any key writes none of them. A run file row
says the file of that name is kept under the run at ``path`` (relative to the workspace);
the bytes are written there before the row, so a row always names a whole file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from dataferry.catalog.db_guard import guard_public
from dataferry.catalog.locks import insert_new, lock, upsert
from dataferry.catalog.schema import run_files, run_properties, run_tags
from dataferry.catalog.sql_catalog import now
from dataferry.errors import RunFileExistsError, RunPropertyError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from sqlalchemy import Connection

    from dataferry.catalog.sql_catalog import SqlCatalog


@dataclass(frozen=True, slots=True)
class RunFileRecord:
    """A file kept under a run: its name (``outputs/model.pkl``), where it lies
    (relative to the workspace) and its size in bytes."""

    run_id: str
    name: str
    path: str
    size: int
    created_at: datetime


@guard_public
class RunAnnotations:
    """Tags, properties and files of runs and step runs in one catalog.

    A database failure raises a ``CatalogError`` naming the operation."""

    def __init__(self, catalog: SqlCatalog) -> None:
        self.catalog = catalog

    def set_tags(self, run_id: str, tags: Mapping[str, str | None]) -> None:
        """Create or replace each tag of the run, in one transaction."""
        rows = [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
        with (
            self.catalog.write() as conn
        ):  # an upsert: concurrent setters never collide
            upsert(conn, run_tags, rows, ["run_id", "key"])

    def remove_tags(self, run_id: str, keys: Iterable[str]) -> None:
        """Remove the named tags; a key the run does not have is skipped."""
        with self.catalog.write() as conn:
            where = (run_tags.c.run_id == run_id) & run_tags.c.key.in_(list(keys))
            conn.execute(run_tags.delete().where(where))

    def tags_of(self, run_id: str) -> dict[str, str | None]:
        """The run's tags, by key."""
        with self.catalog.read() as conn:
            rows = conn.execute(
                select(run_tags.c.key, run_tags.c.value)
                .where(run_tags.c.run_id == run_id)
                .order_by(run_tags.c.key)
            ).all()
        return {r.key: r.value for r in rows}

    def add_properties(self, run_id: str, properties: Mapping[str, str]) -> None:
        """Add properties to the run; a key it already has must keep its value.

        Raises:
            RunPropertyError: a key already has another value (nothing is written).
        """
        with self.catalog.write() as conn:
            # a concurrent adder of the same key waits, then sees it (and its value)
            lock(conn, "run-properties", run_id)
            have = self._properties(conn, run_id)
            _refuse_changes(run_id, have, properties)
            for key, value in properties.items():
                if key not in have:
                    conn.execute(
                        run_properties.insert().values(
                            run_id=run_id, key=key, value=value
                        )
                    )

    @staticmethod
    def _properties(conn: Connection, run_id: str) -> dict[str, str]:
        rows = conn.execute(
            select(run_properties.c.key, run_properties.c.value).where(
                run_properties.c.run_id == run_id
            )
        ).all()
        return {r.key: r.value for r in rows}

    def properties_of(self, run_id: str) -> dict[str, str]:
        """The run's properties, by key."""
        with self.catalog.read() as conn:
            return dict(sorted(self._properties(conn, run_id).items()))

    def record_file(self, run_id: str, name: str, path: str, size: int) -> None:
        """Record that the run's file ``name`` is kept at ``path`` (workspace-relative).

        Raises:
            RunFileExistsError: the run already has a file of that name.
        """
        row = {
            "run_id": run_id,
            "name": name,
            "path": path,
            "size": size,
            "created_at": now(),
        }
        with self.catalog.write() as conn:
            if not insert_new(conn, run_files, row, ["run_id", "name"]):
                raise _file_exists(run_id, name)

    def has_file(self, run_id: str, name: str) -> bool:
        """Whether the run already has a file of that name."""
        with self.catalog.read() as conn:
            row = conn.execute(
                select(run_files.c.name).where(
                    (run_files.c.run_id == run_id) & (run_files.c.name == name)
                )
            ).first()
        return row is not None

    def files_of(self, run_id: str) -> list[RunFileRecord]:
        """The run's files, by name."""
        with self.catalog.read() as conn:
            rows = conn.execute(
                select(run_files)
                .where(run_files.c.run_id == run_id)
                .order_by(run_files.c.name)
            ).all()
        return [RunFileRecord(**r._mapping) for r in rows]


def _refuse_changes(
    run_id: str, have: Mapping[str, str], properties: Mapping[str, str]
) -> None:
    changed = {k: v for k, v in properties.items() if k in have and have[k] != v}
    if changed:
        listed = ", ".join(
            f"{k!r} (is {have[k]!r}, asked {v!r})" for k, v in sorted(changed.items())
        )
        raise RunPropertyError(
            f"run {run_id}: properties cannot be changed once added: {listed}; "
            "use a new key, or a tag (run.tag) for a value that changes"
        )


def _file_exists(run_id: str, name: str) -> RunFileExistsError:
    return RunFileExistsError(
        f"run {run_id} already has a file named '{name}'; upload it under another name"
    )
