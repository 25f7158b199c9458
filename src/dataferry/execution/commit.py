"""Step outputs: a private place to write, then an atomic commit, or nothing at all.

On a local datastore the step writes into a staging folder on the same filesystem as the
destination (``<root>/.dataferry-staging/<step run>/<output>``) and the commit is one
``rename``; on other datastores it writes locally and the commit uploads. Either way the
catalog row that says "this output exists" is written only after the bytes are whole, and
a failed or cancelled step leaves nothing at the destination and nothing registered.
"""

from __future__ import annotations

import contextlib
import fnmatch
import logging
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.data.datastore import Datastore
from dataferry.errors import RunError
from dataferry.storage.integrity import (
    remove_tree,
    to_record,
    tree_signatures,
    unseal_folders,
)

if TYPE_CHECKING:
    from dataferry.catalog.run_store import RunStore
    from dataferry.data.workspace import Workspace
    from dataferry.execution.plan_model import OutputTarget
    from dataferry.storage import StorageLocation

log = logging.getLogger(__name__)

STAGING_DIR = ".dataferry-staging"


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

    @property
    def name(self) -> str:
        return self.spec.name


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
        OutputLocationBusyError: another live run writes the same destination.
        RunError: an upload-mode output's destination exists and it may not overwrite
            it. Mount mode writes in place, so an existing folder is written into.
    """
    location = Datastore.get(workspace, spec.datastore).location
    path = resolve_template(
        spec.path_template, run_id=step_run_id, output_name=spec.name
    )
    source = _source_dir(spec.name, spec.source, work_dir) if spec.source else None
    # the lease compares places, so it holds the key every spelling of this one shares
    key = location.comparison_key(path)
    store.acquire_lease(location.name, key, step_run_id=step_run_id, run_id=run_id)
    if spec.mode == "upload" and not spec.overwrite and location.exists(path):
        store.release_leases(step_run_id)
        raise RunError(
            f"Output path already exist: output '{spec.name}' would be written to "
            f"{location.name}:/{path}, which holds data already. Put {{run-id}} in the "
            "destination, or use as_upload(overwrite=True) to replace it."
        )
    if source is not None:
        write_dir = source
    elif location.is_local:
        write_dir = Path(location.root) / STAGING_DIR / step_run_id / spec.name
    else:
        write_dir = step_dir / "outputs" / spec.name
    _remove(write_dir)
    write_dir.mkdir(parents=True)  # like a mount point in Azure ML: the folder is there
    return StagedOutput(spec, location, path, write_dir)


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


def _keep_globs(staged: StagedOutput) -> None:
    globs = staged.spec.source_globs
    if not globs:
        return
    if staged.write_dir.is_file():
        name = staged.write_dir.name
        if not any(
            fnmatch.fnmatch(staged.write_dir.as_posix(), g) or fnmatch.fnmatch(name, g)
            for g in globs
        ):
            staged.write_dir.unlink()
        return
    for dirpath, _dirs, names in os.walk(staged.write_dir):
        for name in names:
            full = Path(dirpath, name)
            if not any(
                fnmatch.fnmatch(full.as_posix(), g)
                or fnmatch.fnmatch(full.relative_to(staged.write_dir).as_posix(), g)
                for g in globs
            ):
                full.unlink()


def _tree_size(folder: Path) -> tuple[int, int]:
    if folder.is_file():
        return folder.stat().st_size, 1
    size = count = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            size += os.path.getsize(os.path.join(dirpath, name))
            count += 1
    return size, count


def commit_output(staged: StagedOutput) -> dict[str, Any]:
    """Move the written data to its destination, whole; return the catalog row values.

    What the step left at its path is the output: a folder, or a single file; nothing
    (as in Azure ML, not an error) commits an empty folder.
    """
    _keep_globs(staged)
    if not os.path.lexists(staged.write_dir):
        staged.write_dir.mkdir()
    size, count = _tree_size(staged.write_dir)
    loc = staged.location
    if staged.write_dir.is_file():
        _commit_file(staged)
    elif loc.is_local:
        final = Path(loc.full_path(staged.path))
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # overwrite=True or mount mode: merge into what is there
            _merge_into(staged.write_dir, final)
        elif _same_device(staged.write_dir, final.parent):
            os.rename(staged.write_dir, final)
        else:  # a `source` folder on another filesystem: copy next to it, then rename
            tmp = final.parent / f".{final.name}.committing"
            shutil.rmtree(
                tmp, ignore_errors=True
            )  # never commit a crashed copy's leftovers
            shutil.copytree(staged.write_dir, tmp)
            os.rename(tmp, final)
            shutil.rmtree(staged.write_dir, ignore_errors=True)
        _drop_empty_staging(staged)
    else:
        pairs = []
        for dirpath, _dirs, names in os.walk(staged.write_dir):
            for name in names:
                local = Path(dirpath, name)
                pairs.append(
                    (
                        str(local),
                        f"{staged.path}/{local.relative_to(staged.write_dir).as_posix()}",
                    )
                )
        loc.put_files(pairs, overwrite=True, show_progress=False)
        shutil.rmtree(staged.write_dir, ignore_errors=True)
    return {
        "name": staged.name,
        "datastore": loc.name,
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
    cannot be undone and is left; the catalog, which records nothing, is what counts)."""
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
        loc = staged.location
        full = loc.full_path(staged.path)
        if loc.is_local:
            _remove(Path(full))
        elif loc.fs.exists(full):
            loc.fs.rm(full, recursive=True)
        staged.moved_to_empty = False


def _commit_file(staged: StagedOutput) -> None:
    """A step that wrote one file at its output path: that file is the output."""
    loc = staged.location
    if not loc.is_local:
        loc.put_files(
            [(str(staged.write_dir), staged.path)], overwrite=True, show_progress=False
        )
        staged.write_dir.unlink()
        return
    final = Path(loc.full_path(staged.path))
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.is_dir():
        raise RunError(
            f"output '{staged.name}' is a file, but {loc.name}:/{staged.path} is a folder "
            "already; write into a folder, or use a destination with {run-id}"
        )
    if _same_device(staged.write_dir, final.parent):
        os.replace(staged.write_dir, final)
    else:
        tmp = final.with_name(f".{final.name}.committing")
        shutil.copyfile(staged.write_dir, tmp)
        os.replace(tmp, final)
        staged.write_dir.unlink()
    _drop_empty_staging(staged)


def _merge_into(staged: Path, final: Path) -> None:
    """Commit over an existing folder: the new files win, the other old files stay.

    The old files the step did not rewrite are hard-linked into the staged folder (no
    copy), which then trades places with the destination in one ``renameat2`` with
    ``RENAME_EXCHANGE``: a reader, or a ``kill -9``, sees the old folder or the merged
    one, never a mix. Where the system cannot do that, files are moved one by one.
    """
    unseal_folders(str(final))  # committed folders are read-only; sealed again after
    if not (_link_old_files(final, staged) and _exchange(staged, final)):
        for dirpath, _dirs, names in os.walk(staged):
            rel = Path(dirpath).relative_to(staged)
            (final / rel).mkdir(parents=True, exist_ok=True)
            for name in names:
                os.replace(Path(dirpath, name), final / rel / name)
    _remove(staged)  # after the exchange: what was at the destination


def _link_old_files(old: Path, new: Path) -> bool:
    """Hard-link into ``new`` every entry of ``old`` that ``new`` lacks; False if impossible."""
    for dirpath, dirs, names in os.walk(old):
        rel = Path(dirpath).relative_to(old)
        target = new / rel
        if target.is_symlink() or not target.is_dir():  # the new output has a file here
            dirs[:] = []
            continue
        # links to folders are not walked: they are linked like files
        entries = names + [d for d in dirs if Path(dirpath, d).is_symlink()]
        for name in entries:
            if not os.path.lexists(target / name):
                try:
                    os.link(Path(dirpath, name), target / name, follow_symlinks=False)
                except OSError:  # a filesystem without hard links
                    return False
        for d in dirs:
            if not os.path.lexists(target / d):
                (target / d).mkdir()
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # glibc older than 2.28
        return False
    at_fdcwd, rename_exchange = -100, 2
    if (
        renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
        == 0
    ):
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # not on this filesystem
        return False
    raise OSError(err, os.strerror(err), str(b))


def _same_device(a: Path, b: Path) -> bool:
    return os.stat(a).st_dev == os.stat(b).st_dev


def _drop_empty_staging(staged: StagedOutput) -> None:
    parent = staged.write_dir.parent
    if parent.name and parent.parent.name == STAGING_DIR:
        with contextlib.suppress(OSError):  # other outputs of the step are still there
            parent.rmdir()


def discard_output(staged: StagedOutput) -> None:
    """Remove whatever a failed or cancelled step wrote."""
    _remove(staged.write_dir)
    _drop_empty_staging(staged)


def discard_step_staging(
    workspace: Workspace, datastore: str, step_run_id: str
) -> None:
    """Remove a step run's staging folder on a local datastore (after a crash)."""
    location = Datastore.get(workspace, datastore).location
    if location.is_local:
        shutil.rmtree(
            Path(location.root) / STAGING_DIR / step_run_id, ignore_errors=True
        )
