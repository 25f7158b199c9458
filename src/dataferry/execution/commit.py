"""Step outputs: a private place to write, then an atomic commit, or nothing at all.

This module orchestrates: the lease on the destination, the ``source`` folder, the
globs, sizes, all-or-none over a step's outputs and the catalog row values. Where the
step writes and how the bytes become visible whole is the storage layer's commit
protocol (``dataferry.storage.staging``: a rename on a local filesystem, a staging
prefix, server-side copies and a marker written last on object stores). The catalog
row that says "this output exists" is written only after the bytes are whole, and a
failed or cancelled step leaves nothing at the destination and nothing registered.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.data.datastore import Datastore
from dataferry.errors import RunError
from dataferry.execution.step_phases import hand_over
from dataferry.storage.commit_marker import STAGING_DIR
from dataferry.storage.integrity import remove_tree, to_record, tree_signatures
from dataferry.storage.paths import check_written_path
from dataferry.storage.places import physical_place
from dataferry.storage.staging import StagedPlace

if TYPE_CHECKING:
    from dataferry.catalog.run_store import RunStore
    from dataferry.data.workspace import Workspace
    from dataferry.execution.plan_model import OutputTarget
    from dataferry.storage import StorageLocation

log = logging.getLogger(__name__)

__all__ = [
    "STAGING_DIR",
    "StagedOutput",
    "commit_output",
    "commit_outputs",
    "discard_output",
    "discard_step_staging",
    "renew_output",
    "resolve_template",
    "stage_output",
    "undo_commits",
]


def resolve_template(template: str, *, run_id: str, output_name: str) -> str:
    """Fill ``{run-id}`` and ``{output-name}``; the path is relative to the datastore root."""
    return (
        template.replace("{run-id}", run_id)
        .replace("{output-name}", output_name)
        .strip("/")
    )


@dataclass
class StagedOutput:
    """An output being written: where the step writes and where it will be committed."""

    spec: OutputTarget
    location: StorageLocation
    path: str  # destination, relative to the datastore root
    write_dir: Path  # what the step is given
    moved_to_empty: bool = False  # committed into a place that was empty: can be undone
    step_run_id: str = ""
    # written on another node, which put these files (``{relative path: size}``) at
    # the datastore's staging prefix: the commit publishes them from there
    on_node: dict[str, int] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def place(self) -> StagedPlace:
        """What the storage layer's commit protocol needs of this output."""
        return StagedPlace(self.path, self.write_dir, self.step_run_id, self.name)


def stage_output(
    workspace: Workspace,
    store: RunStore,
    spec: OutputTarget,
    *,
    run_id: str,
    step_run_id: str,
    step_dir: Path,
    work_dir: Path,
) -> StagedOutput:
    """Lease the destination and make the (empty) folder the step writes to.

    What the step leaves at that path is committed: the folder, or a single file if the
    step replaced the folder with one.

    Raises:
        DatastorePathError: the resolved destination cannot be written to (a glob
            character, a ``.dataferry-*`` part; ``check_written_path``).
        OutputLocationBusyError: another live run writes the same destination.
        RunError: an upload-mode output's destination exists and it may not overwrite
            it. Mount mode writes in place, so an existing folder is written into.
    """
    location = Datastore.get(workspace, spec.datastore).location
    path = resolve_template(
        spec.path_template, run_id=step_run_id, output_name=spec.name
    )
    check_written_path(
        path,
        where=f"output '{spec.name}': destination '{path}' on datastore "
        f"'{location.name}'",
    )
    source = _source_dir(spec.name, spec.source, work_dir) if spec.source else None
    # the lease compares places: the key every spelling of this one shares, on the
    # store itself, so two datastores over one container are one place too
    place, key = physical_place(location, path)
    store.acquire_lease(place, key, step_run_id=step_run_id, run_id=run_id)
    if spec.mode == "upload" and not spec.overwrite and location.exists(path):
        store.release_leases(step_run_id)
        raise RunError(
            f"Output path already exist: output '{spec.name}' would be written to "
            f"{location.name}:/{path}, which holds data already. Put {{run-id}} in the "
            "destination, or use as_upload(overwrite=True) to replace it."
        )
    if source is None:
        write_dir = location.staging.stage(path, step_run_id, spec.name, step_dir)
    else:
        write_dir = source
        _remove(write_dir)
        write_dir.mkdir(parents=True)  # like a mount point in Azure ML: it is there
    return StagedOutput(spec, location, path, write_dir, step_run_id=step_run_id)


def _remove(path: Path) -> None:
    """Delete what is at ``path``, also a sealed (read-only) tree; a failure is logged,
    as a leftover in a staging place is harmless and is found by ``gc``."""
    try:
        remove_tree(str(path))
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def _source_dir(name: str, source: str, work_dir: Path) -> Path:
    """An output's ``source`` folder; a relative one is in the step's working folder.

    The folder is emptied before the step and moved into the output after it, so one
    that holds files already is refused rather than emptied.

    Raises:
        RunError: an absolute source that holds files, or a relative one that climbs
            out of the working folder.
    """
    if not os.path.isabs(source):
        folder = (work_dir / source).resolve()
        if not folder.is_relative_to(work_dir.resolve()):
            raise RunError(
                f"output '{name}': source {source!r} is outside the step's working folder; "
                "give a path inside it, or an absolute path to a new or empty folder."
            )
        return folder
    folder = Path(source)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise RunError(
            f"output '{name}': source {folder} exists and is not an empty folder. The step's "
            "files are taken from it and it is moved into the output at the end, so it must "
            "start empty; give a new or empty folder, or a path relative to the step's "
            "working folder."
        )
    return folder


def commit_output(staged: StagedOutput) -> dict[str, Any]:
    """Move the written data to its destination, whole; return the catalog row values.

    What the step left at its path is the output: a folder, or a single file; nothing
    (as in Azure ML, not an error) commits an empty folder. An existing destination is
    merged into (overwrite, or mount mode, which writes in place). An output written
    on this machine is first handed over (``step_phases.hand_over``: globs applied,
    files listed, put at the staging prefix), as a step runner does on its node, so
    every output is committed from its staging prefix the same way.

    Raises:
        StorageError: the output could not be handed over or published.
        TargetExistsError, RunError: as ``Staging.commit``.
    """
    merge = staged.spec.mode == "mount" or staged.spec.overwrite
    if staged.on_node is None:  # written here: handed over as a step runner does
        staged.on_node = dict(hand_over(staged).files)
    files = staged.on_node
    size, count = sum(files.values()), len(files)
    staged.location.staging.commit_staged(staged.place, files, merge=merge)
    return {
        "name": staged.name,
        "datastore": staged.location.name,
        "path": staged.path,
        "mode": staged.spec.mode,
        "size_bytes": size,
        "file_count": count,
        "signatures": _seal(staged),
    }


def _seal(staged: StagedOutput) -> dict[str, list[Any]] | None:
    """Make a committed output read-only (where the filesystem can) and return the
    signatures it is recorded with, so any later change to it shows.

    An output at a datastore's root is neither: the root also holds the staging folder
    and every other output, so it changes all the time.
    """
    loc = staged.location
    if not staged.path.strip("/"):
        return None
    loc.seal(staged.path)
    return to_record(tree_signatures(loc, staged.path) or {})


def commit_outputs(outputs: list[StagedOutput]) -> list[dict[str, Any]]:
    """Commit every output of a step, or none: if one fails, those already moved into a
    place that was empty before are taken back out (a merge into an existing folder
    cannot be undone and is left; the catalog, which records nothing, is what counts).

    A process killed in the middle leaves the commit on record in the catalog since
    the step's move to Running (``catalog.pending_commits``): it is settled once this
    process is gone (``data.commit_settling``).
    """
    rows: list[dict[str, Any]] = []
    try:
        for staged in outputs:
            was_empty = not staged.location.exists(staged.path)
            rows.append(commit_output(staged))
            staged.moved_to_empty = was_empty
    except BaseException:
        undo_commits(outputs)
        raise
    return rows


def undo_commits(outputs: list[StagedOutput]) -> None:
    """Take committed outputs back out of places that were empty before (the catalog has
    not recorded them yet)."""
    for staged in outputs:
        if not staged.moved_to_empty:
            continue
        staged.location.staging.remove(staged.path)
        staged.moved_to_empty = False


def discard_output(staged: StagedOutput) -> None:
    """Remove whatever a failed or cancelled step wrote."""
    if staged.spec.source:  # the step's own folder: emptied, it is not staging
        _remove(staged.write_dir)
    else:
        staged.location.staging.discard(staged.place)


def renew_output(staged: StagedOutput, step_dir: Path) -> None:
    """Empty an output for a fresh attempt of its step: what the last attempt wrote
    is discarded through storage and the place staged again, empty, at the same path
    (the step's command line names it)."""
    discard_output(staged)
    if staged.spec.source:
        staged.write_dir.mkdir(parents=True, exist_ok=True)
        return
    # staging names the place by step run and output: the same folder as before
    staged.location.staging.stage(
        staged.path, staged.step_run_id, staged.name, step_dir
    )


def discard_step_staging(
    workspace: Workspace, datastore: str, step_run_id: str
) -> None:
    """Remove what a step run staged on a datastore, of any kind (after a crash)."""
    Datastore.get(workspace, datastore).location.staging.discard_step(step_run_id)
