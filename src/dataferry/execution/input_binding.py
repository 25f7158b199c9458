"""Placing an input's resolved files in its mode: one way, wherever the step runs.

The driver resolves an input to its files (``materialise``); this places them in the
step's folder, on the machine that runs the step: the driver for a local step
(``materialise``), the node for a step runner (``node_prepare``). A download is the
step's own copy; a mount of local files is a read-only bind mount of their folder
(where the step's readers share this mount namespace) or a read-only view of links;
a mount of remote files is a read-only FUSE mount, or, where FUSE is missing, a
read-only downloaded copy (the step's log says so), or a ``FuseUnavailableError``
when the workspace's ``mount_fallback`` is ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataferry.errors import FuseUnavailableError
from dataferry.execution.input_places import (
    copy_into,
    folder_view,
    fuse_view,
    input_place,
    link_view,
    mount_records,
    remove_places,
)
from dataferry.execution.run_layout import stderr_path
from dataferry.storage.fuse_mount import clean_recorded_mount, fuse_unavailable
from dataferry.storage.integrity import seal

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from dataferry.data.sources import ResolvedFile
    from dataferry.execution.input_guard import InputGuard
    from dataferry.execution.plan_inputs import InputBinding
    from dataferry.storage.bind_mount import BindMount
    from dataferry.storage.fuse_mount import FuseMount


def _download() -> str:
    return "download"


@dataclass
class BoundInput:
    """An input as the step sees it."""

    name: str
    style: str  # 'dataset' -> env {name}; 'dataref' -> env AZUREML_DATAREFERENCE_{name}
    mode: str
    value: str  # a path, or a dataset id in direct mode
    lineage: dict[str, Any] = field(default_factory=dict)
    place: Path | None = (
        None  # the private place made for it (a mount's is removed after the step)
    )
    guard: InputGuard | None = None
    fuse: FuseMount | None = None  # a remote input's mount, stopped after the step
    bind: BindMount | None = None  # a whole local folder's mount, stopped after it
    # resolved but not placed (``InputContext.resolve_only``): a step runner on the
    # node where the step runs binds these files there
    files: list[ResolvedFile] | None = None
    one_file: bool = False


@dataclass(frozen=True)
class Placing:
    """Where and how a machine places a step's inputs.

    ``local_readers``: every process reading the inputs runs on this machine, in this
    mount namespace (a bind mount made here is seen by them); ``fallback``: gives the
    workspace's ``mount_fallback`` (``download`` or ``error``), asked only when FUSE
    is missing for a remote mount; ``report``: told what
    placing does now (``downloading input 'x': 3 of 9 files``), may raise to stop it.
    """

    step_dir: Path
    work_dir: Path
    notes: list[str]
    local_readers: bool = True
    fallback: Callable[[], str] = _download
    report: Callable[[str], None] | None = None

    def stage(self, text: str) -> None:
        """Say what placing is doing now."""
        if self.report is not None:
            self.report(text)


def place_files(
    how: Placing,
    spec: InputBinding,
    files: list[ResolvedFile],
    *,
    one_file: bool,
    guard: InputGuard | None = None,
    lineage: dict[str, Any] | None = None,
) -> BoundInput:
    """Place input ``spec``'s ``files`` (at least one) in its mode.

    Raises:
        FuseUnavailableError: a remote mount where FUSE is not available, and the
            workspace's ``mount_fallback`` is ``error``.
        RunError: the input's ``path_on_compute`` is not a place the step may use.
        StorageError: a datastore failed while the files were copied or mounted.
    """
    lineage = lineage if lineage is not None else {}
    mount = spec.mode == "mount"
    remote = mount and not all(f.local_path for f in files)
    why_not = _why_no_fuse(how, spec, files) if remote else None
    # an earlier attempt's mount of this input (only this one's: the inputs placed
    # before it in this attempt keep theirs)
    record = mount_records(how.step_dir) / f"{spec.name}.json"
    clean_recorded_mount(record)
    place = input_place(how.step_dir, how.work_dir, spec, how.notes)
    bound = BoundInput(spec.name, spec.style, spec.mode, "", lineage, place, guard)
    if mount and not remote:
        bound.value = _local_mount(how, spec, bound, files, record, one_file=one_file)
    elif remote and why_not is None:
        how.stage(f"mounting input '{spec.name}'")
        bound.value, bound.fuse = fuse_view(
            place,
            files,
            one_file=one_file,
            record=record,
            step_log=stderr_path(how.step_dir),
        )
    else:
        if remote:
            how.notes.append(
                f"input '{spec.name}': its datastore is not on this machine and "
                f"{why_not}, so the mount is a read-only downloaded copy"
            )
        doing = f"downloading input '{spec.name}'"
        how.stage(doing)
        bound.value = copy_into(
            place,
            files,
            one_file=one_file,
            report=lambda snap: how.stage(f"{doing}: {snap.describe()}"),
        )
        if mount:
            seal(str(place))
    return bound


def _local_mount(
    how: Placing,
    spec: InputBinding,
    bound: BoundInput,
    files: list[ResolvedFile],
    record: Path,
    *,
    one_file: bool,
) -> str:
    """A mount of local files: the whole folder they are, bound read-only in O(1)
    where this process may mount and the step's readers share its namespace, else a
    read-only view of one link per file (seen from any node sharing the folder)."""
    assert bound.place is not None
    if how.local_readers and not one_file:
        how.stage(f"mounting input '{spec.name}'")
        bound.bind = folder_view(bound.place, files, record=record)
        if bound.bind is not None:
            return str(bound.place)
    how.stage(f"linking input '{spec.name}'")
    named = bool(spec.path_on_compute)
    return link_view(bound.place, files, one_file=one_file, as_named=named)


def _why_no_fuse(
    how: Placing, spec: InputBinding, files: list[ResolvedFile]
) -> str | None:
    """Why a remote input cannot be a FUSE mount (None: it can); raise if the
    workspace wants that to be an error."""
    if len({f.location.name for f in files}) > 1:
        return "its files are on several datastores (one mount serves one)"
    why = fuse_unavailable()
    if why is not None and how.fallback() == "error":
        raise FuseUnavailableError(
            f"input '{spec.name}' is to be mounted from a datastore that is not on "
            f"this machine, but {why}; the workspace's mount_fallback is 'error'. "
            "Install FUSE (apt-get install fuse3 libfuse2; pip install "
            "'dataferry[fuse]'), use as_download(), or set mount_fallback to "
            "'download'."
        )
    return why


def release_inputs(inputs: list[BoundInput]) -> None:
    """Remove the read-only places made for a step's mounted inputs (links, or copies
    of remote data: the data itself is never touched), so that nothing read-only is
    left in the step's folder. A download is the step's own copy and stays, with its
    logs, for a look afterwards. FUSE mounts are unmounted first."""
    for bound in inputs:
        if bound.fuse is not None:
            bound.fuse.stop()
        if bound.bind is not None:
            bound.bind.stop()
    remove_places(b.place for b in inputs if b.place is not None and b.mode == "mount")
