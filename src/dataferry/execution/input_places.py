"""Where a step finds its inputs: a private place in the step's folder for each one.

Whatever ``path_on_compute`` says, the place is inside the step's folder: a relative
path is in the working folder (as in Azure ML), an absolute one is re-rooted under
``<step folder>/paths/``, and without one it is ``<step folder>/inputs/<name>``. So
parallel steps never see each other's inputs, and nothing outside the workspace and the
step's folder is created, replaced or deleted.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from dataferry.data.compute_path import check_path_on_compute, normalise_path_on_compute
from dataferry.data.file_dataset import local_target
from dataferry.data.mount import make_link_view, whole_folder
from dataferry.data.whole_read import check_unchanged
from dataferry.errors import RunError
from dataferry.storage.bind_mount import BindMount, bind_unavailable
from dataferry.storage.fuse_mount import FuseMount, MountedFile
from dataferry.storage.integrity import remove_tree, seal
from dataferry.storage.read_pin import mount_pin

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from dataferry.data.sources import ResolvedFile
    from dataferry.execution.plan_inputs import InputBinding
    from dataferry.storage.transfer_progress import TransferSnapshot

log = logging.getLogger(__name__)


def input_place(
    step_dir: Path, work_dir: Path, spec: InputBinding, notes: list[str]
) -> Path:
    """The input's private place (not made yet; an earlier attempt's is removed).

    Raises:
        RunError: the place would cover a file of the step's working folder, or a link
            in the working folder would lead it out of the step's folder.
    """
    name = spec.name
    poc = check_path_on_compute(spec.path_on_compute, port=name)
    place: Path
    if not poc:
        place = step_dir / "inputs" / name
    else:
        normal = normalise_path_on_compute(poc)
        if normal.startswith("/"):
            place = step_dir / "paths" / normal.lstrip("/")
            notes.append(
                f"input '{name}': path_on_compute {poc!r} is absolute; this step has "
                f"its own copy of that place at {place}"
            )
        else:
            place = work_dir / normal
    _check_inside(step_dir, name, poc, place)
    if place.is_relative_to(work_dir) and os.path.lexists(place):
        raise RunError(
            f"input '{name}': path_on_compute {poc!r} would cover {place}, which is part "
            "of the step's source folder; choose a path that is not in it"
        )
    remove_tree(str(place))
    return place


def _check_inside(step_dir: Path, name: str, poc: str | None, place: Path) -> None:
    """Refuse a place that a link in the working folder (a copy of the source folder,
    links kept) would lead out of the step's folder."""
    existing = place.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.resolve().is_relative_to(step_dir.resolve()):
        raise RunError(
            f"input '{name}': path_on_compute {poc!r} leads through a link in the "
            f"source folder to {existing.resolve()}, outside the step's folder; "
            "choose a path that does not go through a link"
        )


def link_view(
    place: Path, files: list[ResolvedFile], *, one_file: bool, as_named: bool
) -> str:
    """A read-only view of local files at ``place``: links, in folders without write
    access; return the path the step is given.

    One file is given as a link to it: the place itself if the user ``as_named`` it
    (a ``path_on_compute``), else a link under the file's own name in the place.
    """
    if one_file and as_named:
        place.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(files[0].full, place)
        return str(place)
    make_link_view(files, str(place))
    seal(str(place))
    return local_target(str(place), files[0]) if one_file else str(place)


def folder_view(
    place: Path, files: list[ResolvedFile], *, record: Path
) -> BindMount | None:
    """The whole folder ``files`` are, shown read-only at ``place`` by one bind mount
    (stopped by ``release_inputs``); None if they are not a whole folder or this
    process may not mount (the caller makes links then).

    Raises:
        MountError: the mount failed for a reason other than not being allowed.
    """
    if bind_unavailable() is not None:
        return None
    folder = whole_folder(files)
    if folder is None:
        return None
    mount = BindMount(place, record)
    return mount if mount.start(folder) else None


def mount_records(step_dir: Path) -> Path:
    """The folder recording the step's live FUSE mounts (one file each), so that a
    driver starting after a crash finds and removes them."""
    return step_dir / "mounts"


def fuse_view(
    place: Path,
    files: list[ResolvedFile],
    *,
    one_file: bool,
    record: Path,
    step_log: Path,
) -> tuple[str, FuseMount]:
    """A read-only FUSE mount of exactly ``files`` (all on one datastore) at ``place``;
    return the path the step is given and the mount (stopped by ``release_inputs``).

    The mount keeps the pins the files were listed under: once an output among them
    is overwritten, its reads fail with EIO and ``step_log`` is told why
    (``storage.mount_guard``).

    Raises:
        OutputChangedError: an output among ``files`` was overwritten since they were
            listed (nothing is mounted).
        MountError: the mount did not start.
    """
    check_unchanged(files, f"mounting input files at {place}")
    mount = FuseMount(place, record)
    entries = [
        MountedFile(os.path.relpath(local_target(str(place), f), place), f.full)
        for f in files
    ]
    pin = mount_pin(f.pin for f in files if f.pin is not None)
    mount.start(files[0].location.fs, entries, pin, step_log)
    return (local_target(str(place), files[0]) if one_file else str(place)), mount


def copy_into(
    place: Path,
    files: list[ResolvedFile],
    *,
    one_file: bool,
    report: Callable[[TransferSnapshot], None] | None = None,
) -> str:
    """Copy the files under ``place``; return the folder, or the file for one file.

    ``report`` is told the bytes and files copied as they move (per datastore).

    Raises:
        OutputChangedError: an output on an object store was overwritten while it
            was copied (the copy could mix its old and new files).
    """
    place.mkdir(parents=True)
    by_location: dict[str, list[tuple[str, str]]] = {}
    locations = {}
    for f in files:
        by_location.setdefault(f.location.name, []).append(
            (f.full, local_target(str(place), f))
        )
        locations[f.location.name] = f.location
    for name, pairs in by_location.items():
        locations[name].get_files(
            pairs, overwrite=True, show_progress=False, report=report
        )
    check_unchanged(files, f"copying input files to {place}")
    if one_file and len(files) == 1:
        return local_target(str(place), files[0])
    return str(place)


def empty_view(place: Path) -> str:
    """An empty read-only folder at ``place``."""
    place.mkdir(parents=True)
    seal(str(place))
    return str(place)


def remove_places(places: Iterable[Path]) -> None:
    """Remove places made for inputs (links and copies only: the data they point at
    is never touched); one that cannot be removed stays in the step's own folder."""
    for place in places:
        try:
            remove_tree(str(place))
        except OSError as exc:
            log.warning("could not remove input place %s: %s", place, exc)
