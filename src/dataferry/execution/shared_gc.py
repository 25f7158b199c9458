"""Collecting the shared snapshots and logs no run needs any more (part of ``gc``).

On a shared workspace's default datastore, ``dataferry/snapshots/<hash>/`` is garbage
once no run or published pipeline names it and no submit holds it
(``catalog.snapshot_holds``), and ``dataferry/logs/<run id>/`` once the catalog has no
such run. Each is deleted through the datastore's staging (``Staging.remove``: an
object store's commit marker goes first, a local folder is renamed aside), so a reader
never fetches half of one; a snapshot is deleted under its catalog lock, so a
concurrent submit of the same content either keeps it or uploads it again. A local
folder renamed aside by a delete that was killed part-way (``.<name>.deleting-*``) is
listed and removed too: its delete had happened, freeing its bytes finishes it.
"""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataferry.catalog import snapshot_holds
from dataferry.catalog.run_store import RunStore
from dataferry.data.machine_paths import shared_default_location
from dataferry.errors import StorageError
from dataferry.execution.shared_logs import PREFIX as LOGS
from dataferry.execution.shared_snapshots import PREFIX as SNAPSHOTS
from dataferry.storage.staging_local import set_aside_from

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace
    from dataferry.storage.location import StorageLocation

SNAPSHOT = "snapshot"
LOG = "log"


@dataclass(frozen=True)
class SharedItem:
    """A shared snapshot or a deleted run's logs on the default datastore."""

    kind: str  # SNAPSHOT or LOG
    name: str  # the snapshot's hash, or the run id
    path: str  # on the default datastore
    size_bytes: int


def shared_garbage(workspace: Workspace) -> list[SharedItem]:
    """What ``collect_shared`` would delete now, sorted by path (nothing when the
    workspace is not shared or its default datastore is one folder's own).

    Raises:
        DatastoreError: the default datastore cannot be opened.
        StorageError: it cannot be listed.
    """
    location = shared_default_location(workspace)
    if location is None:
        return []
    used = snapshot_holds.referenced(workspace.catalog)
    store = RunStore(workspace.catalog)
    found = [
        SharedItem(SNAPSHOT, name, f"{SNAPSHOTS}/{name}", 0)
        for name in _names(location, SNAPSHOTS)
        if name not in used
    ]
    found += [
        SharedItem(LOG, name, f"{LOGS}/{name}", 0)
        for name in _names(location, LOGS)
        if not _known_run(store, name)
    ]
    found += _unfinished(location)
    return [SharedItem(i.kind, i.name, i.path, _size(location, i.path)) for i in found]


def collect_shared(workspace: Workspace, items: list[SharedItem]) -> list[SharedItem]:
    """Delete ``items`` (from ``shared_garbage``); return those deleted. A snapshot
    that a run or submit has come to use since it was listed is kept. The holds that
    no longer hold (``snapshot_holds.prune``) are deleted first.

    Raises:
        StorageError: one cannot be deleted (the message names it; those before it
            are gone, it and those after it are kept).
    """
    location = shared_default_location(workspace)
    if location is None:
        return []
    snapshot_holds.prune(workspace.catalog)
    done = []
    for item in items:
        if item.kind == SNAPSHOT and not _is_unfinished(item):
            remove = functools.partial(_remove, location, item.path)
            removed = snapshot_holds.collect(workspace.catalog, item.name, remove)
            if not removed:
                continue
        else:
            _remove(location, item.path)
        done.append(item)
    return done


def _names(location: StorageLocation, prefix: str) -> list[str]:
    """The folder names under ``prefix`` (hidden ones, a delete under way, left out)."""
    return [n for n in _listed(location, prefix) if not n.startswith(".")]


def _unfinished(location: StorageLocation) -> list[SharedItem]:
    """The snapshots and logs whose delete was killed after renaming them aside;
    no run can name such a folder, so no lock is needed to finish it."""
    return [
        SharedItem(kind, original, f"{prefix}/{name}", 0)
        for kind, prefix in ((SNAPSHOT, SNAPSHOTS), (LOG, LOGS))
        for name in _listed(location, prefix)
        if (original := set_aside_from(name)) is not None
    ]


def _is_unfinished(item: SharedItem) -> bool:
    return set_aside_from(posixpath.basename(item.path)) is not None


def _listed(location: StorageLocation, prefix: str) -> list[str]:
    full = location.full_path(prefix)
    try:
        if not location.fs.isdir(full):
            return []
        listed = location.fs.ls(full, detail=False)
    except OSError as exc:
        raise StorageError(
            f"cannot list '{prefix}' on the default datastore: {exc}"
        ) from exc
    names = (posixpath.basename(str(p).rstrip("/")) for p in listed)
    return sorted(n for n in names if n)


def _size(location: StorageLocation, path: str) -> int:
    found = location.fs.find(location.full_path(path), detail=True)
    return sum(int(info.get("size") or 0) for info in found.values())


def _known_run(store: RunStore, run_id: str) -> bool:
    try:
        store.get_run(run_id)
    except LookupError:
        return False
    return True


def _remove(location: StorageLocation, path: str) -> None:
    try:
        location.staging.remove(path)
    except OSError as exc:
        raise StorageError(
            f"cannot delete '{path}' from the default datastore: {exc}; run "
            "`dataferry gc` again once the datastore is reachable"
        ) from exc
