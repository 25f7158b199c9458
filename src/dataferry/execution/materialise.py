"""Making a step's inputs available: a path (mount, download) or a dataset id (direct).

Every input that is a path gets a place of its own in the step's folder, whatever
``path_on_compute`` says (see ``input_places``).

A mount is read-only. On a local datastore it costs no copy: the step gets a folder of
links to the files (a single file: a link to it) in read-only folders, and committed
outputs are read-only themselves. A mount of a datastore that is not on this machine is
a read-only FUSE mount of exactly the input's files, served by a helper process and
removed when the step ends (``storage.fuse_mount``); where FUSE is not available the
step's log says so and the input is downloaded (a read-only copy), or, with the
workspace's ``mount_fallback`` set to ``error``, the step fails before it runs. A download is the step's own writable copy. A mount of a path that
matches nothing is an empty read-only folder (the step's log says so), as in Azure ML.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataferry.data.abstract_dataset import AbstractDataset, build_dataset
from dataferry.data.datastore import Datastore
from dataferry.data.file_dataset import FileDataset
from dataferry.data.mount import mount_fallback
from dataferry.errors import (
    DamagedDataError,
    PathNotFoundError,
    RunError,
)
from dataferry.execution.input_binding import BoundInput as BoundInput
from dataferry.execution.input_binding import Placing, place_files
from dataferry.execution.input_binding import release_inputs as release_inputs
from dataferry.execution.input_guard import InputGuard
from dataferry.execution.input_places import (
    copy_into,
    empty_view,
    input_place,
)
from dataferry.execution.plan_inputs import (
    DataPathInput,
    DatasetInput,
    InputBinding,
    UpstreamOutputInput,
)
from dataferry.execution.registration import tabular_sources
from dataferry.storage.integrity import (
    differences,
    tree_signatures,
)
from dataferry.storage.location import has_glob

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from dataferry.catalog.run_store import OutputRecord, RunStore
    from dataferry.data.sources import ResolvedFile
    from dataferry.data.workspace import Workspace
    from dataferry.storage.location import StorageLocation


@dataclass
class InputContext:
    """What binding an input needs to know about the step run."""

    workspace: Workspace
    step_dir: Path
    work_dir: Path
    parameters: dict[str, Any]
    committed: dict[tuple[str, str], OutputRecord]  # (producer node, output) -> record
    notes: list[str]
    store: RunStore | None = None  # to mark a committed output found damaged
    # told what binding is doing ("linking input 'x'"), for the step's shown stage;
    # whatever it raises stops the binding there (a cancel)
    report: Callable[[str], None] | None = None
    # every process reading the inputs runs on this machine, in this mount namespace
    # (False for a Ray step: a bind mount made here is not seen on other nodes)
    local_readers: bool = True
    # resolve each input's files and check them, place nothing: the step runs on
    # another node, whose step runner binds them there (``node_dispatch``)
    resolve_only: bool = False

    def stage(self, text: str) -> None:
        """Say what binding is doing now."""
        if self.report is not None:
            self.report(text)


def bind_input(ctx: InputContext, spec: InputBinding) -> BoundInput:
    """Materialise one input of the plan.

    Raises:
        RunError: an upstream output is missing from the catalog, or the input's place
            would cover a file of the step or lead out of its folder.
        DamagedDataError: an upstream output no longer matches what was committed.
        PathNotFoundError: a download matches nothing.
    """
    if isinstance(spec, DatasetInput):
        data = spec.resolve(ctx.parameters)
        dataset = build_dataset(
            data.kind, data.definition, ctx.workspace, dataset_id=data.id
        )
        guard = InputGuard(spec.name)
        bound = _bind_dataset(ctx, spec, dataset, guard, {"dataset_id": dataset.id})
    elif isinstance(spec, UpstreamOutputInput):
        bound = _bind_output(ctx, spec)
    else:
        bound = _bind_datapath(ctx, spec)
    # a bind mount is read-only in the kernel: its view cannot change, so it is
    # not walked (that would cost one entry per file)
    watched = bound.mode == "mount" and bound.bind is None
    if bound.guard is not None and bound.place is not None and watched:
        bound.guard.watch_view(bound.place)
    return bound


def _bind_output(ctx: InputContext, spec: UpstreamOutputInput) -> BoundInput:
    record = ctx.committed.get(spec.resolve(ctx.parameters))
    if record is None:
        raise RunError(
            f"input '{spec.name}': output '{spec.output}' of step '{spec.producer}' was not committed"
        )
    location = Datastore.get(ctx.workspace, record.datastore).location
    _check_committed(ctx, spec.name, record, location)
    guard = InputGuard(spec.name, location=location, output=record)
    lineage = {"datastore": record.datastore, "path": record.path}
    view = spec.view
    if view.tabular:
        dataset = _tabular_over(ctx, record, view.tabular, view.transforms)
        return BoundInput(
            spec.name,
            spec.style,
            "direct",
            str(dataset.id),
            {**lineage, "dataset_id": dataset.id},
            guard=guard,
        )
    folder = FileDataset(
        {
            "sources": [{"datastore": record.datastore, "path": record.path}],
            "format": None,
            "transforms": view.transforms,
        },
        ctx.workspace,
    )
    files = _committed_files(folder)
    if record.signatures is None:  # no recorded signatures: watch the files instead
        guard.watch_files(location, [f.full for f in files])
    if not files and spec.mode != "direct":
        return _bind_empty_output(ctx, spec, guard, lineage, record)
    if spec.mode == "direct":
        return BoundInput(
            spec.name,
            spec.style,
            "direct",
            str(folder.id),
            {**lineage, "dataset_id": folder.id},
            guard=guard,
        )
    # a mounted output that is one file is that file (a download is a folder)
    one_file = (
        spec.mode == "mount"
        and not view.transforms
        and os.path.isfile(location.full_path(record.path))
    )
    return _bind_paths(ctx, spec, files, guard, lineage, one_file=one_file)


def _committed_files(folder: FileDataset) -> list[ResolvedFile]:
    """The files of a committed output; none when its step made the folder and wrote
    nothing into it (a step that only creates its output folder, as samples do)."""
    try:
        return folder._files()
    except PathNotFoundError:
        return []


def _bind_empty_output(
    ctx: InputContext,
    spec: UpstreamOutputInput,
    guard: InputGuard,
    lineage: dict[str, Any],
    record: OutputRecord,
) -> BoundInput:
    """An upstream output committed empty: the step gets an empty folder (read-only
    for a mount, its own for a download), as Azure ML mounts an empty output."""
    if spec.mode == "mount":
        what = f"output '{record.name}' of step run {record.step_run_id} (empty)"
        return _bind_nothing(ctx, spec, guard, lineage, what)
    if ctx.resolve_only:
        return _unplaced(spec, guard, lineage, [], one_file=False)
    place = input_place(ctx.step_dir, ctx.work_dir, spec, ctx.notes)
    value = copy_into(place, [], one_file=False)
    return BoundInput(spec.name, spec.style, spec.mode, value, lineage, place, guard)


def _check_committed(
    ctx: InputContext, name: str, record: OutputRecord, location: StorageLocation
) -> None:
    """Refuse an upstream output whose files changed since it was committed."""
    if record.signatures is None:  # committed before signatures were recorded
        return
    ctx.stage(f"checking input '{name}'")
    changes = differences(
        record.signatures,
        tree_signatures(location, record.path),
        root_name=record.path.rsplit("/", 1)[-1],
    )
    if not changes:
        return
    damage = f"{', '.join(changes)}; found before step run {ctx.step_dir.name} started"
    if ctx.store is not None:
        ctx.store.mark_output_damaged(record.step_run_id, record.name, damage)
    raise DamagedDataError(
        f"input '{name}': output '{record.name}' of step run {record.step_run_id} "
        f"({record.datastore}:/{record.path}) was changed after it was committed: "
        f"{', '.join(changes)}. It is marked damaged and not read; run the pipeline "
        "again to write it anew."
    )


def _bind_datapath(ctx: InputContext, spec: DataPathInput) -> BoundInput:
    ref = spec.resolve(ctx.parameters)
    store, path = ref.datastore, ref.path
    location = Datastore.get(ctx.workspace, store).location
    lineage: dict[str, Any] = {"datastore": store, "path": path}
    guard = InputGuard(spec.name, location=location)
    sources = [ref.to_json()]
    try:
        files = FileDataset(
            {"sources": sources, "format": None, "transforms": []}, ctx.workspace
        )._files()
    except PathNotFoundError:
        if spec.mode != "mount":
            raise
        return _bind_nothing(ctx, spec, guard, lineage, f"{store}:/{path}")
    guard.watch_files(location, [f.full for f in files])
    one_file = names_one_file(sources, files)
    return _bind_paths(ctx, spec, files, guard, lineage, one_file=one_file)


def _tabular_over(
    ctx: InputContext,
    record: OutputRecord,
    tabular: dict[str, Any],
    transforms: list[dict[str, Any]],
) -> AbstractDataset:
    sources = tabular_sources(ctx.workspace, record.datastore, record.path, tabular)
    definition = {
        "sources": sources,
        "format": tabular["format"],
        "transforms": transforms,
    }
    return build_dataset("tabular", definition, ctx.workspace)


def _bind_dataset(
    ctx: InputContext,
    spec: DatasetInput,
    dataset: AbstractDataset,
    guard: InputGuard,
    lineage: dict[str, Any],
) -> BoundInput:
    if spec.mode == "direct":
        _watch_direct(guard, dataset)
        return BoundInput(
            spec.name, spec.style, "direct", str(dataset.id), lineage, guard=guard
        )
    assert isinstance(dataset, FileDataset)
    try:
        files = dataset._files()
    except PathNotFoundError:
        if spec.mode != "mount":
            raise
        return _bind_nothing(ctx, spec, guard, lineage, f"dataset {dataset.id}")
    for f in files:
        guard.watch_files(f.location, [f.full])
    one_file = names_one_file(dataset.definition.get("sources", []), files)
    return _bind_paths(ctx, spec, files, guard, lineage, one_file=one_file)


def _watch_direct(guard: InputGuard, dataset: AbstractDataset) -> None:
    """Watch a direct input's local files; one that resolves to nothing is left to the
    step, which reads it (and reports the missing path) itself."""
    try:
        files = dataset._source_files()
    except PathNotFoundError:
        return
    for f in files:
        guard.watch_files(f.location, [f.full])


def names_one_file(sources: list[dict[str, Any]], files: list[ResolvedFile]) -> bool:
    """True if the input names one file, so the step gets the file's path.

    A folder (or glob) that happens to hold one file is still a folder: the step gets
    the folder, as in Azure ML, where only a single-file *source* is given as the file.
    """
    if len(sources) != 1 or len(files) != 1:
        return False
    source, found = sources[0], files[0]
    if "url" in source and source["url"].startswith(("http://", "https://")):
        return True
    pattern = source.get("path", source.get("local", source.get("url", "")))
    if has_glob(pattern):
        return False
    full = found.location.full_path(pattern)
    # resolve() lists paths without their protocol: compare alike
    return found.full in (full, found.location._strip(full))


def _bind_paths(
    ctx: InputContext,
    spec: InputBinding,
    files: list[ResolvedFile],
    guard: InputGuard,
    lineage: dict[str, Any],
    *,
    one_file: bool,
) -> BoundInput:
    """Mount (links to local files, a FUSE mount of remote ones, else a read-only
    copy) or download (a copy).

    Raises:
        FuseUnavailableError: a remote mount where FUSE is not available, and the
            workspace's ``mount_fallback`` is ``error``.
    """
    if ctx.resolve_only:
        return _unplaced(spec, guard, lineage, files, one_file=one_file)
    how = Placing(
        ctx.step_dir,
        ctx.work_dir,
        ctx.notes,
        local_readers=ctx.local_readers,
        fallback=lambda: mount_fallback(ctx.workspace),
        report=ctx.report,
    )
    return place_files(
        how, spec, files, one_file=one_file, guard=guard, lineage=lineage
    )


def _bind_nothing(
    ctx: InputContext,
    spec: InputBinding,
    guard: InputGuard,
    lineage: dict[str, Any],
    what: str,
) -> BoundInput:
    """A mount of a path that matches nothing: an empty read-only folder, as Azure ML
    mounts a container path without checking it exists and lets the script decide."""
    if ctx.resolve_only:
        return _unplaced(spec, guard, lineage, [], one_file=False)
    place = input_place(ctx.step_dir, ctx.work_dir, spec, ctx.notes)
    value = empty_view(place)
    ctx.notes.append(
        f"input '{spec.name}': {what} matched nothing; the step gets an empty "
        "read-only folder"
    )
    return BoundInput(spec.name, spec.style, "mount", value, lineage, place, guard)


def _unplaced(
    spec: InputBinding,
    guard: InputGuard,
    lineage: dict[str, Any],
    files: list[ResolvedFile],
    *,
    one_file: bool,
) -> BoundInput:
    """An input resolved to ``files`` and placed nowhere (the node places it)."""
    bound = BoundInput(spec.name, spec.style, spec.mode, "", lineage, guard=guard)
    bound.files, bound.one_file = files, one_file
    return bound
