"""Making a step's inputs available: a path (mount, download) or a dataset id (direct).

Mount on a local datastore costs no copy: a dataset that is a whole folder is that
folder, a single file is the file, any other subset is a folder of links. Download copies.
Datastores that are not on this machine are downloaded for mount too (the step log says so).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataferry.data.abstract_dataset import AbstractDataset, build_dataset
from dataferry.data.datastore import Datastore
from dataferry.data.file_dataset import FileDataset
from dataferry.data.mount import whole_folder
from dataferry.errors import RunError
from dataferry.execution.registration import tabular_sources
from dataferry.storage.location import has_glob

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.catalog.run_store import OutputRecord
    from dataferry.data.sources import ResolvedFile
    from dataferry.data.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class BoundInput:
    """An input as the step sees it."""

    name: str
    style: str  # 'dataset' -> env {name}; 'dataref' -> env AZUREML_DATAREFERENCE_{name}
    mode: str
    value: str  # a path, or a dataset id in direct mode
    lineage: dict[str, Any] = field(default_factory=dict)


@dataclass
class InputContext:
    """What binding an input needs to know about the step run."""

    workspace: Workspace
    step_dir: Path
    work_dir: Path
    parameters: dict[str, Any]
    committed: dict[tuple[str, str], OutputRecord]  # (producer node, output) -> record
    notes: list[str]


def bind_input(ctx: InputContext, spec: dict[str, Any]) -> BoundInput:
    """Materialise one input of the plan.

    Raises:
        RunError: an upstream output is missing from the catalog.
    """
    kind = spec["kind"]
    if kind == "dataset":
        dataset = _dataset_of(ctx, spec)
        return _bind_dataset(ctx, spec, dataset, {"dataset_id": dataset.id})
    if kind == "output":
        key = (spec["producer"], spec["output"])
        record = ctx.committed.get(key)
        if record is None:
            raise RunError(
                f"input '{spec['name']}': output '{spec['output']}' of step '{spec['producer']}' was not committed"
            )
        lineage = {"datastore": record.datastore, "path": record.path}
        view = spec.get("view") or {}
        if view.get("tabular"):
            dataset = _tabular_over(ctx, record, view)
            return BoundInput(
                spec["name"],
                spec["style"],
                "direct",
                str(dataset.id),
                {**lineage, "dataset_id": dataset.id},
            )
        folder = FileDataset(
            {
                "sources": [{"datastore": record.datastore, "path": record.path}],
                "format": None,
                "transforms": view.get("transforms", []),
            },
            ctx.workspace,
        )
        if spec["mode"] == "direct":
            return BoundInput(
                spec["name"],
                spec["style"],
                "direct",
                str(folder.id),
                {**lineage, "dataset_id": folder.id},
            )
        location = Datastore.get(ctx.workspace, record.datastore).location
        if location.is_local and spec["mode"] == "mount" and not view.get("transforms"):
            return _place(ctx, spec, location.full_path(record.path), lineage)
        return _bind_files(
            ctx, spec, folder._files(), lineage, single_file_as_file=False
        )
    # datapath
    store, path = _datapath_of(ctx, spec)
    location = Datastore.get(ctx.workspace, store).location
    lineage = {"datastore": store, "path": path}
    if location.is_local and spec["mode"] == "mount":
        full = location.full_path(path)
        if not os.path.exists(full):
            raise RunError(f"input '{spec['name']}': {store}:/{path} does not exist")
        return _place(ctx, spec, full, lineage)
    sources = [{"datastore": store, "path": path}]
    files = FileDataset(
        {"sources": sources, "format": None, "transforms": []}, ctx.workspace
    )._files()
    return _bind_files(
        ctx, spec, files, lineage, single_file_as_file=names_one_file(sources, files)
    )


def _dataset_of(ctx: InputContext, spec: dict[str, Any]) -> AbstractDataset:
    data = (
        ctx.parameters[spec["param"]]["dataset"] if "param" in spec else spec["dataset"]
    )
    return build_dataset(
        data["kind"], data["definition"], ctx.workspace, dataset_id=data.get("id")
    )


def _datapath_of(ctx: InputContext, spec: dict[str, Any]) -> tuple[str, str]:
    if "param" in spec:
        value = ctx.parameters[spec["param"]]["datapath"]
        return value["datastore"], value["path"]
    return spec["datastore"], spec["path"]


def _tabular_over(
    ctx: InputContext, record: OutputRecord, view: dict[str, Any]
) -> AbstractDataset:
    tabular = view["tabular"]
    sources = tabular_sources(ctx.workspace, record.datastore, record.path, tabular)
    definition = {
        "sources": sources,
        "format": tabular["format"],
        "transforms": view.get("transforms", []),
    }
    return build_dataset("tabular", definition, ctx.workspace)


def _bind_dataset(
    ctx: InputContext,
    spec: dict[str, Any],
    dataset: AbstractDataset,
    lineage: dict[str, Any],
) -> BoundInput:
    if spec["mode"] == "direct":
        return BoundInput(
            spec["name"], spec["style"], "direct", str(dataset.id), lineage
        )
    assert isinstance(dataset, FileDataset)
    files = dataset._files()
    one_file = names_one_file(dataset.definition.get("sources", []), files)
    if spec["mode"] == "mount" and files and all(f.local_path for f in files):
        if one_file:  # a single-file dataset mounts as the file itself
            return _place(ctx, spec, files[0].full, lineage)
        folder = whole_folder(files)
        if folder is not None:
            return _place(ctx, spec, folder, lineage)
        target = _target(ctx, spec)
        for f in files:
            link = target / f.display.lstrip("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(f.full, link)
        return BoundInput(spec["name"], spec["style"], "mount", str(target), lineage)
    return _bind_files(ctx, spec, files, lineage, single_file_as_file=one_file)


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


def _target(ctx: InputContext, spec: dict[str, Any]) -> Path:
    poc = spec.get("path_on_compute")
    target: Path = (
        (ctx.work_dir / poc) if poc else (ctx.step_dir / "inputs" / spec["name"])
    )
    target.mkdir(parents=True, exist_ok=True)
    return target


def _place(
    ctx: InputContext, spec: dict[str, Any], path: str, lineage: dict[str, Any]
) -> BoundInput:
    """A zero-copy input; with path_on_compute, a link there points at it."""
    poc = spec.get("path_on_compute")
    if poc:
        link = ctx.work_dir / poc
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(path, link)
        path = str(link)
    return BoundInput(spec["name"], spec["style"], "mount", path, lineage)


def _bind_files(
    ctx: InputContext,
    spec: dict[str, Any],
    files: list[ResolvedFile],
    lineage: dict[str, Any],
    *,
    single_file_as_file: bool,
) -> BoundInput:
    """Copy files under the input's folder (download mode, or a mount of remote data)."""
    if spec["mode"] == "mount":
        ctx.notes.append(
            f"input '{spec['name']}': its datastore is not on this machine, so the mount is a download"
        )
    target = _target(ctx, spec)
    by_location: dict[str, list[tuple[str, str]]] = {}
    locations = {}
    for f in files:
        by_location.setdefault(f.location.name, []).append(
            (f.full, str(target / f.display.lstrip("/")))
        )
        locations[f.location.name] = f.location
    for name, pairs in by_location.items():
        locations[name].get_files(pairs, overwrite=True, show_progress=False)
    if single_file_as_file and len(files) == 1:
        return BoundInput(
            spec["name"],
            spec["style"],
            spec["mode"],
            str(target / files[0].display.lstrip("/")),
            lineage,
        )
    return BoundInput(spec["name"], spec["style"], spec["mode"], str(target), lineage)
