"""The commit protocol on a local filesystem: stage beside the destination, rename.

The step writes into ``<root>/.dataferry-staging/<step run>/<output>``, on the same
filesystem as the destination, so the commit is one ``rename``; a merge into an
existing folder trades places with it in one ``renameat2`` exchange. A ``source``
folder on another device is copied next to the destination first, then renamed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.errors import RunError, TargetExistsError
from dataferry.storage.commit_marker import STAGING_DIR
from dataferry.storage.integrity import local_signatures, remove_tree, unseal_folders
from dataferry.storage.staging import StagedPlace, Staging

if TYPE_CHECKING:
    from dataferry.storage.location import FileSignature

log = logging.getLogger(__name__)

# a folder ``remove`` renamed aside: its delete has happened, only freeing it is left
_SET_ASIDE = re.compile(r"\.(?P<name>.+)\.deleting-[0-9a-f]{8}")


def set_aside_from(name: str) -> str | None:
    """The name of the folder that ``name`` (one path segment) was before
    ``LocalStaging.remove`` renamed it aside to delete it; None when ``name`` is no
    such leftover. A delete killed part-way leaves one; removing it finishes that."""
    found = _SET_ASIDE.fullmatch(name)
    return found["name"] if found else None


class LocalStaging(Staging):
    """Stage in the datastore's own ``.dataferry-staging`` folder; commit by rename."""

    def stage(self, path: str, step_run_id: str, name: str, scratch: Path) -> Path:
        """See ``Staging.stage``: the folder is beside the destination, not in scratch."""
        folder = Path(self.location.full_path(self.staging_prefix(step_run_id, name)))
        _remove(folder)
        folder.mkdir(parents=True)
        return folder

    def commit(self, staged: StagedPlace, *, merge: bool) -> None:
        """See ``Staging.commit``."""
        final = Path(self.location.full_path(staged.path))
        final.parent.mkdir(parents=True, exist_ok=True)
        if not merge and os.path.lexists(final):
            raise TargetExistsError(
                f"datastore '{self.location.name}': cannot commit output "
                f"'{staged.name}' to '{staged.path}': it holds data already."
            )
        if staged.write_dir.is_file():
            self._commit_file(staged, final)
        elif final.exists():  # overwrite or mount mode: merge into what is there
            _merge_into(staged.write_dir, final)
        elif _same_device(staged.write_dir, final.parent):
            os.rename(staged.write_dir, final)
        else:  # a `source` folder on another filesystem: copy next to it, then rename
            tmp = final.parent / f".{final.name}.committing"
            shutil.rmtree(tmp, ignore_errors=True)  # never a crashed copy's leftovers
            shutil.copytree(staged.write_dir, tmp)
            os.rename(tmp, final)
            shutil.rmtree(staged.write_dir, ignore_errors=True)
        _drop_empty_staging(staged.write_dir)

    def _commit_file(self, staged: StagedPlace, final: Path) -> None:
        """A step that wrote one file at its output path: that file is the output."""
        if final.is_dir():
            raise RunError(
                f"output '{staged.name}' is a file, but {self.location.name}:/"
                f"{staged.path} is a folder already; write into a folder, or use a "
                "destination with {run-id}"
            )
        if _same_device(staged.write_dir, final.parent):
            os.replace(staged.write_dir, final)
        else:
            tmp = final.with_name(f".{final.name}.committing")
            shutil.copyfile(staged.write_dir, tmp)
            os.replace(tmp, final)
            staged.write_dir.unlink()

    def discard(self, staged: StagedPlace) -> None:
        """See ``Staging.discard``."""
        _remove(staged.write_dir)
        _drop_empty_staging(staged.write_dir)

    def discard_step(self, step_run_id: str) -> None:
        """See ``Staging.discard_step``."""
        _remove(Path(self.location.full_path(self.staging_prefix(step_run_id))))

    def staged_steps(self) -> list[str]:
        """See ``Staging.staged_steps``."""
        folder = Path(self.location.full_path(STAGING_DIR))
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def remove(self, path: str) -> None:
        """See ``Staging.remove``: committed outputs are read-only, made writable first.
        A folder is renamed aside first, so a reader sees all of it or none of it."""
        remove_tree(_set_aside(self.location.full_path(path)))

    def local_path(self, full: str) -> str | None:
        """See ``Staging.local_path``: the file itself."""
        return full

    def markers_for(self, base: str, *, below: bool) -> list[str]:
        """See ``Staging.markers_for``: a rename is whole, no marker is ever written."""
        return []

    def tree_signatures(self, path: str) -> dict[str, FileSignature] | None:
        """See ``Staging.tree_signatures``: ``lstat`` of every entry, links not followed."""
        return local_signatures(self.location.full_path(path))


def _set_aside(full: str) -> str:
    """Rename the folder ``full`` to a hidden name beside it and return that name;
    ``full`` itself when it is no folder or cannot be renamed (in a sealed folder)."""
    if not os.path.isdir(full) or os.path.islink(full):
        return full
    parent, name = os.path.split(full.rstrip("/"))
    if set_aside_from(name) is not None:  # finishing an interrupted delete
        return full
    aside = os.path.join(parent, f".{name}.deleting-{os.urandom(4).hex()}")
    try:
        os.rename(full, aside)
    except OSError:
        return full
    return aside


def _remove(path: Path) -> None:
    """Delete what is at ``path``, also a sealed tree; a failure is logged, as a
    leftover in a staging place is harmless and is found by ``gc``."""
    try:
        remove_tree(str(path))
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def _drop_empty_staging(write_dir: Path) -> None:
    parent = write_dir.parent
    if parent.name and parent.parent.name == STAGING_DIR:
        with contextlib.suppress(OSError):  # other outputs of the step are still there
            parent.rmdir()


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
