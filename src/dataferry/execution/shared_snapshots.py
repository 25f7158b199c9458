"""Code snapshots every workspace folder sharing a catalog can use.

A shared workspace (``data.machine_paths.is_shared``) with a shared default datastore
keeps each run's source snapshots there too, by content hash:
``dataferry/snapshots/<hash>/`` holds ``manifest.json`` (the per-file hashes) and
``files/`` (the snapshot). Each is written once, through the datastore's commit
protocol (``storage.staging``), so a reader sees all of it or nothing. A workspace
folder that lacks a snapshot a plan names (a run submitted from another folder, resumed
or rerun here) fetches it into its own ``snapshots/`` folder by that hash.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from dataferry.data.machine_paths import shared_default_location
from dataferry.errors import SnapshotMissingError, TargetExistsError
from dataferry.execution.snapshot import snapshot_folder
from dataferry.storage.commit_marker import MARKER, PENDING

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from dataferry.data.workspace import Workspace
    from dataferry.storage.location import StorageLocation
    from dataferry.storage.staging import StagedPlace, Staging

PREFIX = "dataferry/snapshots"  # on the default datastore
MANIFEST = "manifest.json"
FILES = "files"


def shared_snapshot_path(stored: str) -> str:
    """Where the snapshot a plan names as ``stored`` is kept on the datastore (its
    folder's name is the content hash)."""
    return f"{PREFIX}/{PurePosixPath(stored).name}"


@contextlib.contextmanager
def snapshots_published(workspace: Workspace, stored: Iterable[str]) -> Iterator[None]:
    """Publish the snapshots ``stored`` (``publish_snapshots``) and keep them held
    until the block ends: record the run that names them inside it, so a concurrent
    ``gc`` never collects one in between (``catalog.snapshot_holds``).

    Raises:
        SnapshotMissingError, StorageError: as ``publish_snapshots``.
    """
    if shared_default_location(workspace) is None:
        yield
        return
    # here: a submit to a workspace that is not shared loads no catalog code
    from dataferry.catalog import snapshot_holds

    names = {PurePosixPath(s).name for s in stored}
    token = snapshot_holds.hold(workspace.catalog, names)
    try:
        publish_snapshots(workspace, stored)
        yield
    finally:
        snapshot_holds.release(workspace.catalog, token)


def publish_snapshots(workspace: Workspace, stored: Iterable[str]) -> list[str]:
    """Store each snapshot folder (as a plan names it: relative to the workspace
    folder) on the shared default datastore, unless it is there already; return the
    datastore paths written. Nothing is written when the workspace is not shared or
    its default datastore is a folder of one workspace folder.

    Raises:
        SnapshotMissingError: one is neither on the datastore nor in this folder.
        StorageError: the datastore refused the upload (its message names it).
    """
    location = shared_default_location(workspace)
    if location is None:
        return []
    written = []
    for snap in sorted(set(stored)):
        path = shared_snapshot_path(snap)
        if location.staging.tree_signatures(path) is None:
            _publish(location, _local_folder(workspace, snap), path)
            written.append(path)
    return written


def plan_snapshots(plan: object) -> set[str]:
    """Every snapshot (as stored: relative to the workspace folder) a plan's JSON
    names, at any depth: a published pipeline's plan is a stored dict, not a Plan."""
    if isinstance(plan, list):
        return {s for item in plan for s in plan_snapshots(item)}
    if not isinstance(plan, dict):
        return set()
    found: set[str] = set()
    for key, item in plan.items():
        if key == "snapshot" and isinstance(item, str) and item:
            found.add(item)
        else:
            found |= plan_snapshots(item)
    return found


def _local_folder(workspace: Workspace, stored: str) -> Path:
    """The snapshot folder to upload; it must be in this workspace folder, as the
    datastore does not have it.

    Raises:
        SnapshotMissingError: it is not here either (a plan recorded in another
            folder before the workspace was shared, say).
    """
    folder = workspace.path / stored
    if not folder.is_dir():
        raise SnapshotMissingError(
            f"source snapshot '{stored}' is neither in this workspace folder "
            f"({workspace.path}) nor on the shared default datastore "
            f"('{shared_snapshot_path(stored)}'); submit or publish from the workspace "
            "folder that took it, or publish the pipeline again from here."
        )
    return folder


def publish_snapshot(location: StorageLocation, folder: Path, stored: str) -> None:
    """Store the snapshot folder ``folder`` (a plan names it ``stored``) on
    ``location`` by its content hash, unless it is there already (a step runner on
    another node fetches it from there).

    Raises:
        StorageError: the datastore refused the upload.
    """
    path = shared_snapshot_path(stored)
    if location.staging.tree_signatures(path) is None:
        _publish(location, folder, path)


def _publish(location: StorageLocation, folder: Path, path: str) -> None:
    # imported here: a submission whose snapshots are stored already needs none of it
    import shutil
    import tempfile

    from dataferry.storage.staging import StagedPlace

    staging = location.staging
    token = f"snapshot-{os.urandom(8).hex()}"  # this upload's own staging prefix
    with tempfile.TemporaryDirectory(prefix="dataferry-snapshot-") as scratch:
        write = staging.stage(path, token, "snapshot", Path(scratch))
        shutil.copytree(folder, write / FILES)
        manifest = folder.with_name(folder.name + ".manifest.json")
        if manifest.is_file():
            shutil.copyfile(manifest, write / MANIFEST)
        staged = StagedPlace(path, write, token, "snapshot")
        try:
            staging.commit(staged, merge=False)
        except TargetExistsError:  # another folder stored the same content first
            _settle_existing(staging, staged)
        except Exception:
            staging.discard(staged)  # nothing of it is left under the staging prefix
            raise


def _settle_existing(staging: Staging, staged: StagedPlace) -> None:
    """The folder ``staged`` goes to holds files already: keep it if it is committed;
    else (a gc killed mid-delete left part of it without its commit marker, or another
    submit's commit is still under way) commit over it, merging. Its name is the
    content hash, so every file there is this content's own: never a mix.

    Raises:
        StorageError: the datastore refused the commit.
    """
    if staging.tree_signatures(staged.path) is not None:
        staging.discard(staged)
        return
    try:
        staging.commit(staged, merge=True)
    except Exception:
        staging.discard(staged)
        raise


def local_snapshot(workspace: Workspace, stored: str, step: str) -> Path:
    """The snapshot folder a plan names, in this workspace folder: fetched from the
    shared default datastore when it is not here yet.

    Raises:
        SnapshotMissingError: it is neither here nor on a shared datastore.
        StorageError: the datastore failed while it was fetched.
    """
    fetch_snapshot(workspace, stored)
    return snapshot_folder(workspace.path, stored, step)


def fetch_snapshot(workspace: Workspace, stored: str) -> Path | None:
    """Make the snapshot ``stored`` present in this workspace folder, fetching it by
    its content hash if need be; its folder, or None where no copy can be had (an
    absolute path of an older plan, no shared datastore, not stored there).

    Raises:
        StorageError: the datastore failed while it was fetched.
    """
    target = workspace.path / stored
    if target.is_dir():
        return target
    if os.path.isabs(stored):
        return None  # an older plan's path on the machine that took it
    location = shared_default_location(workspace)
    if location is None:
        return None
    path = shared_snapshot_path(stored)
    listed = location.staging.tree_signatures(path)
    if listed is None:
        return None
    _fetch(location, path, listed, target)
    return target


def fetch_by_hash(location: StorageLocation, stored: str, target: Path) -> bool:
    """Fetch the snapshot ``stored`` (its folder's name is its content hash) from
    ``location`` into the folder ``target``; False if the datastore does not have it.

    Raises:
        StorageError: the datastore failed while it was fetched.
    """
    path = shared_snapshot_path(stored)
    listed = location.staging.tree_signatures(path)
    if listed is None:
        return False
    _fetch(location, path, listed, target)
    return True


def _fetch(
    location: StorageLocation, path: str, listed: Iterable[str], target: Path
) -> None:
    """Download into a temporary folder beside ``target``, then rename it into place:
    a crash never leaves a half snapshot under its real name."""
    import shutil  # here: most submissions fetch nothing

    names = [r for r in listed if PurePosixPath(r).name not in (MARKER, PENDING)]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{os.getpid()}.fetch"
    shutil.rmtree(tmp, ignore_errors=True)
    pairs = [(location.full_path(f"{path}/{rel}"), str(tmp / rel)) for rel in names]
    location.get_files(pairs, overwrite=True, show_progress=False)
    (tmp / FILES).mkdir(parents=True, exist_ok=True)  # an empty source folder
    if (tmp / MANIFEST).is_file():
        os.replace(tmp / MANIFEST, target.with_name(target.name + ".manifest.json"))
    with contextlib.suppress(OSError):  # fetched by another process first: same content
        os.rename(tmp / FILES, target)
    shutil.rmtree(tmp, ignore_errors=True)
