"""A read-only bind mount of a local folder: a mounted input of a whole folder in O(1).

A mounted input of local files is otherwise a folder of one link per file, which costs
seconds to make and remove for 10,000 files. When the input is a whole folder, the
kernel can show that folder at the input's place read-only instead: one ``mount`` and
one ``umount`` whatever the number of files, and the kernel refuses every change (even
root's, which permissions do not stop), so the data is safer than behind links.

Only where this process may mount (Linux, as root with the capability to mount); else
the caller makes links. ``DATAFERRY_BIND_MOUNT=off`` turns it off (as if mounting were
not allowed). Each mount is recorded in a small JSON file while it exists, so that a
driver starting after a crash unmounts it (``fuse_mount.clean_recorded_mounts``).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import sys
from typing import TYPE_CHECKING

from dataferry.errors import MountError

if TYPE_CHECKING:
    from pathlib import Path

BIND_ENV = "DATAFERRY_BIND_MOUNT"  # "off": make links, as if mounting were not allowed
RECORD_KIND = "bind"
_MS_RDONLY, _MS_REMOUNT, _MS_BIND = 1, 32, 4096
_MNT_DETACH = 2
_NOT_ALLOWED = (errno.EPERM, errno.EACCES)


def bind_unavailable() -> str | None:
    """Why no bind mount can be tried here (None: it can)."""
    if os.environ.get(BIND_ENV, "").lower() == "off":
        return f"bind mounts are turned off by {BIND_ENV}=off"
    if not sys.platform.startswith("linux"):
        return "bind mounts are Linux only"
    if os.geteuid() != 0:
        return "only root may bind-mount"
    return None


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _call(name: str, *args: object) -> int:
    """Call libc ``name``; 0, or the errno it failed with."""
    if getattr(_libc(), name)(*args) == 0:
        return 0
    return ctypes.get_errno()


def is_mounted(point: str | os.PathLike[str]) -> bool:
    """True if something is mounted at ``point`` (``os.path.ismount`` cannot tell a
    bind mount of a folder of the same filesystem: it compares devices)."""
    wanted = os.path.abspath(os.fspath(point))
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            # the 5th field is the mount point, with space, tab, newline, \ escaped
            return any(_unescape(line.split(" ")[4]) == wanted for line in fh)
    except OSError:
        return os.path.ismount(point)


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def unmount(point: str) -> None:
    """Unmount ``point`` (lazily if it is busy: it goes once its last user does);
    nothing mounted there is not an error."""
    if not is_mounted(point):
        return
    if _call("umount2", point.encode(), 0) == errno.EBUSY:
        _call("umount2", point.encode(), _MNT_DETACH)


class BindMount:
    """``source`` shown read-only at ``mount_point`` (an empty folder, made here)."""

    def __init__(self, mount_point: Path, record: Path) -> None:
        self.mount_point = mount_point
        self.record = record

    def start(self, source: str) -> bool:
        """Mount; False if this process may not (nothing is left then).

        Raises:
            MountError: the mount failed for another reason (the message says why).
        """
        self.record.parent.mkdir(parents=True, exist_ok=True)
        # recorded first: a crash between the mount and the record leaves nothing
        data = {"kind": RECORD_KIND, "mount_point": str(self.mount_point)}
        self.record.write_text(json.dumps(data), encoding="utf-8")
        self.mount_point.mkdir(parents=True)
        point = str(self.mount_point).encode()
        failed = _call("mount", source.encode(), point, None, _MS_BIND, None)
        if not failed:
            flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY
            failed = _call("mount", None, point, None, flags, None)
        if not failed:
            return True
        self.stop()
        self.mount_point.rmdir()
        if failed in _NOT_ALLOWED:
            return False
        raise MountError(
            f"cannot show {source} read-only at {self.mount_point}: "
            f"{os.strerror(failed)}; set {BIND_ENV}=off to mount it as links instead"
        )

    def stop(self) -> None:
        """Unmount and forget the record (the folder itself stays). Safe to call twice."""
        unmount(str(self.mount_point))
        self.record.unlink(missing_ok=True)
