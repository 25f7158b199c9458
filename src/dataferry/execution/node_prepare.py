"""The step runner's first half, on the node: code, inputs and outputs in place.

A node keeps its own folder (``NodeSpec.node_root``): ``snapshots/<hash>/``, the code
snapshots it fetched, each once (under a lock, so two steps starting together fetch
it once), and ``steps/<step run>/``, each step's folder, emptied before every attempt
so a retry after a lost node starts from nothing the lost attempt left. Inputs are
bound in their modes from the files the driver resolved, by the same function that
places a local step's inputs (``input_binding.place_files``: download, a writable
copy; mount, links to local files, a read-only FUSE mount of remote ones, or a
read-only copy where FUSE is missing), outputs staged through their datastore's
staging; nothing here reads the catalog.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.data.sources import ResolvedFile
from dataferry.errors import StepSpecError
from dataferry.execution.commit import StagedOutput
from dataferry.execution.input_binding import BoundInput, Placing, place_files
from dataferry.execution.input_places import empty_view, input_place
from dataferry.execution.run_layout import work_dir
from dataferry.execution.shared_snapshots import fetch_by_hash
from dataferry.storage.integrity import remove_tree

if TYPE_CHECKING:
    from dataferry.execution.node_spec import NodeInput, NodeSpec
    from dataferry.storage.location import StorageLocation

ROOT_VARIABLE = "DATAFERRY_NODE_ROOT"


@dataclass
class NodeStep:
    """A step made ready on its node: its folder, bound inputs, staged outputs."""

    folder: Path
    cwd: Path
    snapshot_fetched: bool
    inputs: list[BoundInput] = field(default_factory=list)
    staged: list[StagedOutput] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def node_root(spec: NodeSpec) -> Path:
    """This node's folder for snapshots and step folders."""
    chosen = spec.node_root or os.environ.get(ROOT_VARIABLE)
    return Path(chosen or Path(tempfile.gettempdir()) / "dataferry-node")


def cached_snapshot(spec: NodeSpec, root: Path) -> tuple[Path, bool]:
    """The snapshot's folder on this node, and whether it had to be fetched now.

    Raises:
        StepSpecError: the snapshot store does not have it.
        StorageError: the datastore failed while it was fetched.
    """
    name = Path(spec.snapshot).name
    target = root / "snapshots" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one fetch per node, even for steps at once
        if target.is_dir():
            return target, False
        location = spec.store(spec.snapshot_store).open()
        if not fetch_by_hash(location, name, target):
            raise StepSpecError(
                f"step run {spec.step_run_id}: code snapshot {name} is not on "
                f"datastore '{spec.snapshot_store}' (dataferry/snapshots/{name}); "
                "the driver stores it there before the step starts. Submit the run "
                "again."
            )
    return target, True


def prepare_on_node(spec: NodeSpec) -> NodeStep:
    """Make the step's folder from the snapshot, bind its inputs, stage its outputs.

    Raises:
        StepSpecError: the spec lacks the snapshot or a datastore the step uses.
        StorageError: a datastore failed while an input was copied or mounted.
        RunError: an input's ``path_on_compute`` is not a place the step may use.
        FuseUnavailableError: an input is to be mounted from a remote datastore,
            FUSE is missing on this node and the workspace's ``mount_fallback`` is
            ``error``.
    """
    root = node_root(spec)
    snapshot, fetched = cached_snapshot(spec, root)
    folder = root / "steps" / spec.step_run_id
    remove_tree(str(folder))  # a fresh attempt: nothing of an earlier one is left
    cwd = work_dir(folder)
    shutil.copytree(snapshot, cwd, symlinks=True)
    for sub in ("outputs", "logs"):
        (cwd / sub).mkdir(exist_ok=True)
    step = NodeStep(folder, cwd, fetched)
    for given in spec.inputs:
        step.inputs.append(_bind(spec, step, given))
    for out in spec.outputs:
        location = spec.store(out.datastore).open()
        target = next(t for t in spec.node.outputs if t.name == out.name)
        write_dir = location.staging.stage(out.path, spec.step_run_id, out.name, folder)
        step.staged.append(
            StagedOutput(
                target, location, out.path, write_dir, step_run_id=spec.step_run_id
            )
        )
    return step


def _bind(spec: NodeSpec, step: NodeStep, given: NodeInput) -> BoundInput:
    """One input in its mode, from the files the driver resolved."""
    if given.mode == "direct":
        return BoundInput(given.name, given.style, "direct", given.value)
    binding = next(b for b in spec.node.inputs if b.name == given.name)
    if not given.files:
        place = input_place(step.folder, step.cwd, binding, step.notes)
        step.notes.append(f"input '{given.name}': matched nothing; it is empty")
        value = empty_view(place)
        return BoundInput(given.name, given.style, given.mode, value, place=place)
    locations: dict[str, StorageLocation] = {}
    files = []
    for f in given.files:
        if f.datastore not in locations:
            locations[f.datastore] = spec.store(f.datastore).open()
        files.append(ResolvedFile(locations[f.datastore], f.full, f.display))
    # placed as a local step's inputs are; a bind mount made in this task would not
    # be the step's own (the worker outlives it), so local files are linked
    how = Placing(
        step.folder,
        step.cwd,
        step.notes,
        local_readers=False,
        fallback=lambda: spec.mount_fallback,
    )
    return place_files(how, binding, files, one_file=given.one_file)
