"""Mounting a FileDataset: on local storage, the files themselves or links, never a copy."""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from typing import TYPE_CHECKING

from dataferry.errors import MountError, MountSettingError

if TYPE_CHECKING:
    from types import TracebackType

    from dataferry.data.file_dataset import FileDataset
    from dataferry.data.sources import ResolvedFile
    from dataferry.data.workspace import Workspace


def whole_folder(files: list[ResolvedFile]) -> str | None:
    """The folder whose files are exactly ``files``, if there is one (so it can be used as is)."""
    if not files or not all(f.local_path for f in files):
        return None
    base = posixpath.commonpath([posixpath.dirname(f.full) for f in files])
    suffix = files[0].display.lstrip("/")
    root = files[0].full[: len(files[0].full) - len(suffix)].rstrip("/")
    if not root or not base.startswith(root):
        return None
    count = 0
    for _, _, names in os.walk(root):
        count += len(names)
        if count > len(files):
            return None
    return root if count == len(files) else None


def make_link_view(files: list[ResolvedFile], folder: str) -> None:
    """Make ``folder`` (new) hold a link to each local file, at its display path.

    The data is never copied; together with folders without write access (``seal``)
    this is a read-only view of it: removing or adding an entry changes only the view.

    Raises:
        FileExistsError: ``folder`` exists already.
    """
    from dataferry.data.file_dataset import local_target

    os.makedirs(folder)
    made = {os.path.normpath(folder)}  # each folder made once, not a stat per file
    for f in files:
        link = local_target(folder, f)
        parent = os.path.dirname(link)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        os.symlink(f.full, link)


class MountContext:
    """What ``FileDataset.mount`` returns: ``with ds.mount() as m: m.mount_point``."""

    def __init__(self, dataset: FileDataset, mount_point: str | None) -> None:
        self._dataset = dataset
        self._requested = mount_point
        self._made: str | None = None  # a folder we created, removed on stop
        self.mount_point = mount_point or ""

    def start(self) -> None:
        """Make the files visible at ``mount_point``.

        Raises:
            MountError: the mount point is not empty, or the data is not on this machine.
        """
        files = self._dataset._files()
        remote = [f for f in files if f.local_path is None]
        if remote:
            raise MountError(
                f"cannot mount {remote[0].location.url(remote[0].location.relative_path(remote[0].full))}: "
                "mounting a remote datastore is done by a pipeline step's input "
                "(as_mount()); here, use download() instead."
            )
        if self._requested is None:
            folder = whole_folder(files)
            if folder is not None:
                self.mount_point = folder
                return
            self._made = self.mount_point = tempfile.mkdtemp(prefix="dataferry-mount-")
        else:
            target = os.path.abspath(self._requested)
            if os.path.ismount(target) or (
                os.path.isdir(target) and os.listdir(target)
            ):
                raise MountError(
                    f"mount point {target} is not empty; give an empty or new folder"
                )
            if os.path.exists(target) and not os.path.isdir(target):
                raise MountError(f"mount point {target} is a file; give a folder")
            if not os.path.exists(target):
                os.makedirs(target)
                self._made = target
            self.mount_point = target
        from dataferry.data.file_dataset import local_target

        try:
            links = [(f.full, local_target(self.mount_point, f)) for f in files]
            for source, link in links:
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink(source, link)
        except BaseException:
            self.stop()  # leave no half-made mount behind
            raise

    def stop(self) -> None:
        """Remove the links (the data itself is never touched)."""
        if self._requested is None and self._made is None:
            return
        for dirpath, _dirs, names in os.walk(self.mount_point, topdown=False):
            for name in names:
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    os.unlink(path)
            if dirpath != self.mount_point and not os.listdir(dirpath):
                os.rmdir(dirpath)
        if self._made is not None:
            shutil.rmtree(self._made, ignore_errors=True)

    def __enter__(self) -> MountContext:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


MOUNT_FALLBACK_SETTING = "mount_fallback"
MOUNT_FALLBACKS = ("download", "error")


def mount_fallback(workspace: Workspace) -> str:
    """What a step does with a mount-mode input of a remote datastore where FUSE is not
    available: ``download`` it (the default; the step's log says so) or fail before the
    step runs (``error``)."""
    value = workspace.catalog.get_setting(MOUNT_FALLBACK_SETTING, "download")
    return str(value or "download")


def set_mount_fallback(workspace: Workspace, value: str) -> None:
    """Set the workspace's ``mount_fallback``: ``download`` or ``error``.

    Raises:
        MountSettingError: ``value`` is neither.
    """
    if value not in MOUNT_FALLBACKS:
        raise MountSettingError(
            f"mount_fallback {value!r} is not known: give 'download' (a remote input "
            "is downloaded where FUSE is not available) or 'error' (the step fails)"
        )
    workspace.catalog.set_setting(MOUNT_FALLBACK_SETTING, value)
