"""A run's source snapshot as the SDK hands it back: ``run.restore_snapshot(...)``.

A script run's snapshot is its one step's snapshot folder (``.amlignore`` applied at
submit); its id is the folder's name. ``restore_snapshot`` writes it as a ZIP file,
``<path>/<snapshot id>.zip``, as the SDK downloads it from the service.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.errors import RunArgumentError, RunStateError

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace


def snapshot_folder(workspace: Workspace, run_id: str) -> Path:
    """The snapshot folder of the run's first step.

    Raises:
        RunNotFoundError: no run has this id.
        RunStateError: the run has no step, so no snapshot (an interactive run).
    """
    from dataferry.catalog.run_store import RunStore
    from dataferry.execution.plan_model import plan_of

    record = RunStore(workspace.catalog).get_run(run_id)
    # an interactive run is recorded with an empty plan (version 0): it ran no step
    nodes = plan_of(record).nodes if record.definition.get("nodes") else ()
    if not nodes:
        raise RunStateError(
            f"run {run_id} has no snapshot: it ran no script (an interactive run "
            "from start_logging or child_run); restore the snapshot of a submitted run"
        )
    from dataferry.execution.shared_snapshots import fetch_snapshot

    # another folder's run: fetched from the shared default datastore when it is there
    fetch_snapshot(workspace, nodes[0].snapshot)
    return workspace.path / nodes[0].snapshot  # relative to it, or absolute (old)


def restore_snapshot(
    workspace: Workspace,
    run_id: str,
    snapshot_id: str | None = None,
    path: str | None = None,
) -> str:
    """Write the run's snapshot as ``<path>/<snapshot id>.zip`` and return that path;
    ``path`` defaults to the temporary folder, as the SDK's does, and is created.

    Raises:
        RunNotFoundError: no run has this id.
        RunStateError: the run has no snapshot.
        RunArgumentError: ``snapshot_id`` is not this run's snapshot, or ``path`` is a
            file.
    """
    folder = snapshot_folder(workspace, run_id)
    if snapshot_id is not None and snapshot_id != folder.name:
        raise RunArgumentError(
            f"run {run_id}: restore_snapshot(snapshot_id={snapshot_id!r}) names another "
            f"snapshot; this run's is {folder.name!r} (or leave snapshot_id out)"
        )
    target_dir = Path(path) if path is not None else Path(tempfile.gettempdir())
    if target_dir.is_file():
        raise RunArgumentError(
            f"run {run_id}: restore_snapshot(path={path!r}) is a file; give a folder "
            "to write the snapshot's ZIP file into"
        )
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{folder.name}.zip"
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(folder).as_posix())
    partial.replace(target)  # a crash leaves no half ZIP under the real name
    return str(target)
