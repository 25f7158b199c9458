"""The lifecycle of intermediate data: what belongs to a run, and deleting it safely.

An intermediate output is a committed step output that no registered dataset points at.
It belongs to its run. ``gc`` and ``delete_intermediate_outputs`` never delete anything
registered, anything a kept run's reuse record points to, or anything of a run that has
not ended; each deletion is recorded, so reuse knows the output is gone.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dataferry.catalog import now
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import TERMINAL
from dataferry.data.datastore import Datastore
from dataferry.errors import DataferryError, InvalidDurationError, StorageError
from dataferry.execution.shared_gc import SharedItem, collect_shared, shared_garbage

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace

log = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
RETENTION_SETTING = "retention"


def parse_duration(text: str) -> timedelta:
    """``30s``, ``15m``, ``12h``, ``7d``, ``2w`` as a timedelta.

    Raises:
        InvalidDurationError: anything else.
    """
    m = _DURATION.match(str(text))
    if not m:
        raise InvalidDurationError(
            f"invalid duration {text!r}: use a number and a unit, one of s, m, h, d, w (for example 7d or 12h)"
        )
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


@dataclass(frozen=True)
class OutputItem:
    """A committed output that may be deleted."""

    run_id: str
    step_run_id: str
    step_name: str
    name: str
    datastore: str
    path: str
    size_bytes: int
    file_count: int
    run_ended_at: datetime | None


@dataclass
class GcReport:
    """What ``gc`` found (and, unless a dry run, deleted): outputs, staging leftovers,
    and a shared workspace's unused snapshots and deleted runs' logs (``shared``)."""

    items: list[OutputItem]
    staging: list[str]
    deleted: bool
    shared: list[SharedItem] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """The bytes of all listed outputs."""
        return sum(i.size_bytes for i in self.items)

    @property
    def shared_bytes(self) -> int:
        """The bytes of all listed shared snapshots and logs."""
        return sum(i.size_bytes for i in self.shared)


def set_retention(workspace: Workspace, datastore: str, duration: str | None) -> None:
    """Keep intermediate outputs on ``datastore`` for ``duration`` (``None``: forever).

    Raises:
        DatastoreNotFoundError: unknown datastore.
        InvalidDurationError: malformed duration.
    """
    name = workspace.catalog.get_datastore(datastore).name
    settings = dict(workspace.catalog.get_setting(RETENTION_SETTING, {}) or {})
    if duration is None:
        settings.pop(name, None)
    else:
        parse_duration(duration)
        settings[name] = duration
    workspace.catalog.set_setting(RETENTION_SETTING, settings)


def retention(workspace: Workspace) -> dict[str, str]:
    """The retention per datastore."""
    return dict(workspace.catalog.get_setting(RETENTION_SETTING, {}) or {})


def _registered_paths(workspace: Workspace) -> set[tuple[str, str]]:
    """(datastore, path) every saved dataset definition reads (a glob counts by its folder)."""
    found = set()
    for record in workspace.catalog.all_datasets():
        for source in record.definition.get("sources", []):
            if "datastore" in source:
                path = source["path"].strip("/")
                fixed = re.split(r"[*?\[]", path, maxsplit=1)[0].rstrip("/")
                found.add((source["datastore"], fixed))
    return found


def _is_registered(item: OutputItem, registered: set[tuple[str, str]]) -> bool:
    for store, path in registered:
        if store != item.datastore:
            continue
        if (
            path == item.path
            or path.startswith(item.path + "/")
            or item.path.startswith(path + "/")
            or path == ""
        ):
            return True
    return False


def intermediate_outputs(
    workspace: Workspace,
    *,
    run_ids: set[str] | None = None,
    older_than: timedelta | None = None,
    datastore: str | None = None,
    ending: str | None = None,
) -> list[OutputItem]:
    """Outputs that may be deleted: of ended runs, unregistered, not reused by a kept run.

    ``ending`` is a run whose driver is finishing it: counted as ended.
    """
    cutoff = now() - older_than if older_than is not None else None
    rows, reuse = RunStore(workspace.catalog).live_outputs_and_reuse()

    def doomed(run_id: str, status: str, ended: datetime | None) -> bool:
        if status not in TERMINAL and run_id != ending:
            return False
        if run_ids is not None and run_id not in run_ids:
            return False
        return cutoff is None or (ended is not None and ended < cutoff)

    # a reuse record of a run that stays keeps the output it points to
    kept_by_reuse = {
        r.reused_from
        for r in reuse
        if not doomed(r.run_id, r.run_status, r.run_ended_at)
    }
    registered = _registered_paths(workspace)
    items = []
    for r in rows:
        out = r.output
        if datastore is not None and out.datastore != datastore.lower():
            continue
        if not out.path.strip("/"):  # at a datastore's root: deleting it would empty it
            continue
        if (
            not doomed(r.run_id, r.run_status, r.run_ended_at)
            or out.step_run_id in kept_by_reuse
        ):
            continue
        if workspace.catalog.versions_by_producer(out.step_run_id):
            continue
        item = OutputItem(
            r.run_id,
            out.step_run_id,
            r.step_name,
            out.name,
            out.datastore,
            out.path,
            int(out.size_bytes or 0),
            int(out.file_count or 0),
            r.run_ended_at,
        )
        if not _is_registered(item, registered):
            items.append(item)
    return items


def delete_outputs(workspace: Workspace, items: list[OutputItem]) -> None:
    """Delete the bytes of each output, then record the deletion.

    Raises:
        StorageError: an output cannot be deleted (it stays recorded as there).
    """
    store = RunStore(workspace.catalog)
    for item in items:
        if not item.path.strip(
            "/"
        ):  # an output at a datastore's root: never delete the root
            log.warning(
                "not deleting output '%s' of run %s: it is the root of datastore '%s'",
                item.name,
                item.run_id,
                item.datastore,
            )
            continue
        remove_output(workspace, item.datastore, item.path)
        store.mark_output_deleted(item.step_run_id, item.name)


def remove_output(workspace: Workspace, datastore: str, path: str) -> None:
    """Delete what is at ``path`` on a datastore (a folder or a single file), if anything.

    Raises:
        StorageError: it is there and cannot be deleted (the message names it).
    """
    location = Datastore.get(workspace, datastore).location
    try:
        location.staging.remove(path)  # sealed outputs are made writable first
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StorageError(
            f"datastore '{datastore}': cannot delete '{path}': {exc}"
        ) from exc


@dataclass(frozen=True)
class StaleStaging:
    """What a crashed step run left staged on a datastore."""

    datastore: str
    step_run_id: str
    place: str  # where it is, for people: the staging folder or prefix


def stale_staging(
    workspace: Workspace, datastore: str | None = None
) -> list[StaleStaging]:
    """Staging places of step runs whose run has ended (left by a crash), on every
    kind of datastore.

    A datastore that cannot be opened or listed (missing credentials, unreachable)
    is skipped with a warning: its leftovers are found by a later ``gc``.
    """
    store = RunStore(workspace.catalog)
    found = []
    for spec in workspace.catalog.list_datastores():
        if datastore is not None and spec.name != datastore.lower():
            continue
        try:
            location = Datastore.get(workspace, spec.name).location
            staged = location.staging.staged_steps()
        except (DataferryError, OSError) as exc:
            log.warning("not looking for staging leftovers on '%s': %s", spec.name, exc)
            continue
        for step_run_id in staged:
            if _has_ended(store, step_run_id):
                place = location.full_path(location.staging.staging_prefix(step_run_id))
                found.append(StaleStaging(spec.name, step_run_id, place))
    return found


def _has_ended(store: RunStore, step_run_id: str) -> bool:
    try:
        run = store.get_run(store.get_step_run(step_run_id).run_id)
    except LookupError:
        return True  # a step run the catalog does not know: nothing will commit it
    return run.status in TERMINAL


def gc(
    workspace: Workspace,
    *,
    older_than: str | None = None,
    datastore: str | None = None,
    dry_run: bool = False,
) -> GcReport:
    """Delete intermediate outputs of runs that ended more than ``older_than`` ago,
    staging leftovers of crashed step runs, and (in a shared workspace, unless
    ``datastore`` names another than the default) the shared snapshots no run uses
    and the shared logs of runs the catalog no longer has (``shared_gc``).

    Without ``older_than``, each datastore's retention setting applies (datastores with
    none are left alone). ``dry_run`` lists exactly what a real run would delete.

    Raises:
        InvalidDurationError: malformed ``older_than`` (checked before anything is read).
        DatastoreNotFoundError: unknown ``datastore``.
        StorageError: something cannot be listed or deleted (the message names it).
    """
    if datastore is not None:
        datastore = workspace.catalog.get_datastore(datastore).name
    if older_than is not None:
        items = intermediate_outputs(
            workspace, older_than=parse_duration(older_than), datastore=datastore
        )
    else:
        items = []
        for store_name, duration in retention(workspace).items():
            if datastore is None or store_name == datastore:
                items += intermediate_outputs(
                    workspace, older_than=parse_duration(duration), datastore=store_name
                )
    staging = stale_staging(workspace, datastore)
    shared = []
    if datastore is None or datastore == workspace.get_default_datastore().name:
        shared = shared_garbage(workspace)
    if not dry_run:
        delete_outputs(workspace, items)
        for left in staging:
            location = Datastore.get(workspace, left.datastore).location
            location.staging.discard_step(left.step_run_id)
        shared = collect_shared(workspace, shared)
    return GcReport(items, [s.place for s in staging], not dry_run, shared)


def delete_run_outputs(
    workspace: Workspace, run_id: str, *, ending: bool = False
) -> list[OutputItem]:
    """Delete one ended run's intermediate outputs; return what was deleted.

    ``ending``: the run's own driver calls this before it records the end, so that a
    run seen Finished has its intermediate outputs deleted already.
    """
    items = intermediate_outputs(
        workspace, run_ids={run_id}, ending=run_id if ending else None
    )
    delete_outputs(workspace, items)
    return items
