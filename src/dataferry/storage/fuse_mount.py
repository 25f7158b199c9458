"""A read-only FUSE mount of exactly a set of files on any fsspec filesystem.

The mount is served by a helper process of its own (``python -m
dataferry.storage.fuse_mount``), one per mounted input, not by a thread in the driver:

- a thread cannot be stopped from outside, and a FUSE loop that dies with the driver
  leaves a dead mount ("transport endpoint is not connected") that blocks whoever
  touches it; a process can be told to unmount, and killed if it does not;
- the helper watches its parent: when the driver dies (even by ``kill -9``) the helper
  unmounts and exits, so no mount outlives its driver for long;
- the FUSE loop's reads hold the GIL; in a process they never slow the driver's loop.

The filesystem and the file list go to the helper through its standard input (a
pickle), never through its command line or a file: credentials stay off the disk and out
of ``ps``. Each mount is recorded in a small JSON file (``record``) while it exists, so
that a driver starting after a crash can remove what a dead helper left
(``clean_recorded_mounts``).

FUSE can be turned off with the environment variable ``DATAFERRY_FUSE=off`` (as if this
machine had none): mount-mode inputs of remote datastores are then downloaded, or
refused, as the workspace's ``mount_fallback`` setting says.
"""

from __future__ import annotations

import errno
import json
import os
import pickle
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import MountError
from dataferry.storage import bind_mount
from dataferry.storage.mount_guard import MountGuard

if TYPE_CHECKING:
    import fsspec

    from dataferry.storage.read_pin import MountPin

FUSE_ENV = "DATAFERRY_FUSE"  # "off": behave as if FUSE were not available
_READY_S = 15.0  # how long a helper may take to show its mount
_STOP_S = 5.0
_BLOCK = 4 * 2**20  # read cache: blocks of this size, kept per open file


@dataclass(frozen=True)
class MountedFile:
    """One file of a mount: where it appears (``display``, relative) and is read."""

    display: str
    full: str


def fuse_unavailable() -> str | None:
    """Why this machine cannot make a FUSE mount now, or None if it can."""
    if os.environ.get(FUSE_ENV, "").lower() in ("off", "0", "no", "false"):
        return f"FUSE is turned off by {FUSE_ENV}={os.environ[FUSE_ENV]}"
    if not sys.platform.startswith("linux"):
        return f"FUSE mounts are made on Linux only; this machine is {sys.platform}"
    if not os.path.exists("/dev/fuse"):
        return "this machine has no /dev/fuse"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "no permission to open /dev/fuse (run as root or in the 'fuse' group)"
    if _fusermount() is None:
        return "fusermount is not installed (apt-get install fuse3 libfuse2)"
    try:
        import fuse  # noqa: F401  (fusepy; loads libfuse2)
    except (ImportError, OSError) as exc:
        return (
            f"fusepy cannot be loaded ({exc}): pip install 'dataferry[fuse]' and "
            "apt-get install libfuse2"
        )
    return None


def _fusermount() -> str | None:
    return shutil.which("fusermount3") or shutil.which("fusermount")


def _unmount(mount_point: str) -> None:
    """Unmount, lazily if the mount is busy (it goes once its last user does)."""
    tool = _fusermount()
    if tool is None or not os.path.ismount(mount_point):
        return
    for args in (["-u"], ["-uz"]):
        subprocess.run([tool, *args, mount_point], capture_output=True, check=False)
        if not os.path.ismount(mount_point):
            return


class FuseMount:
    """A running mount: ``start`` it, ``stop`` it (also on any failure of the step)."""

    def __init__(self, mount_point: Path, record: Path) -> None:
        self.mount_point = mount_point
        self.record = record
        self._process: subprocess.Popen[bytes] | None = None

    def start(
        self,
        fs: fsspec.AbstractFileSystem,
        files: list[MountedFile],
        pin: MountPin | None = None,
        step_log: Path | None = None,
    ) -> None:
        """Mount ``files`` of ``fs`` read-only at ``mount_point`` (made, must not exist).

        ``pin``: the commit markers the files were listed under; while the mount lives,
        a read of an output overwritten since fails with EIO and one line saying so is
        appended to ``step_log`` (``mount_guard``). None: nothing is checked.

        Raises:
            MountError: the helper did not show the mount within its time; the message
                holds what it said.
        """
        self.mount_point.mkdir(parents=True)
        log = self.mount_point.with_name(self.mount_point.name + ".fuse.log")
        with open(log, "wb") as out:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dataferry.storage.fuse_mount",
                    str(self.mount_point),
                ],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=out,
            )
        self._write_record()
        assert self._process.stdin is not None
        with self._process.stdin as pipe:
            pipe.write(pickle.dumps((fs, files, pin, step_log)))
        self._wait_ready(log)

    def _write_record(self) -> None:
        assert self._process is not None
        self.record.parent.mkdir(parents=True, exist_ok=True)
        data = {"mount_point": str(self.mount_point), "pid": self._process.pid}
        self.record.write_text(json.dumps(data), encoding="utf-8")

    def _wait_ready(self, log: Path) -> None:
        assert self._process is not None
        deadline = time.monotonic() + _READY_S
        while not os.path.ismount(self.mount_point):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                said = log.read_text(errors="replace").strip()[-2000:]
                raise MountError(
                    f"the FUSE mount at {self.mount_point} did not start: "
                    f"{said or 'the helper said nothing'}; set the workspace's "
                    "mount_fallback to 'download' (or DATAFERRY_FUSE=off) to download "
                    "the input instead"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Unmount and end the helper; forget the record. Safe to call twice."""
        _unmount(str(self.mount_point))
        if self._process is not None:
            try:
                self._process.wait(_STOP_S)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        _unmount(str(self.mount_point))  # one the helper made after the first try
        self.record.unlink(missing_ok=True)


def clean_recorded_mounts(folder: Path) -> list[str]:
    """Remove the mounts recorded under ``folder`` by a dead driver: unmount each one
    still mounted (FUSE or a read-only bind) and end its helper. Returns the mount
    points cleaned."""
    records = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return [point for record in records if (point := clean_recorded_mount(record))]


def clean_recorded_mount(record: Path) -> str | None:
    """Remove the one mount ``record`` describes (as ``clean_recorded_mounts``) and
    the record; its mount point, or None if there was no readable record."""
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    point, pid = str(data.get("mount_point", "")), data.get("pid")
    if point and data.get("kind") == bind_mount.RECORD_KIND:
        bind_mount.unmount(point)
    elif point:
        _unmount(point)
    if isinstance(pid, int) and _is_helper(pid):
        os.kill(pid, signal.SIGKILL)
    record.unlink(missing_ok=True)
    return point or None


def _is_helper(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"dataferry.storage.fuse_mount" in cmdline


# -- the helper process -----------------------------------------------------------------


class _ReadOnlyView:
    """fusepy operations over a fixed set of files: read-only, nothing else visible."""

    def __init__(
        self,
        fs: fsspec.AbstractFileSystem,
        files: list[MountedFile],
        guard: MountGuard | None = None,
    ) -> None:
        self.fs = fs
        self.guard = guard
        self.files = {"/" + f.display.strip("/"): f for f in files}
        self.dirs: dict[str, set[str]] = {"/": set()}
        for path in self.files:
            child = path
            while child != "/":
                parent = os.path.dirname(child)
                self.dirs.setdefault(parent, set()).add(os.path.basename(child))
                child = parent
        self.handles: dict[int, Any] = {}
        self.sizes: dict[str, int] = {}  # asked of the store once, when first listed
        self.lock = threading.Lock()
        self.started = time.time()

    def __call__(self, op: str, *args: Any) -> Any:
        from fuse import FuseOSError

        handler = getattr(self, op, None)
        if handler is None:  # every writing operation: the mount is read-only
            raise FuseOSError(errno.EROFS)
        return handler(*args)

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        from fuse import FuseOSError

        now = self.started
        base = {
            "st_atime": now,
            "st_mtime": now,
            "st_ctime": now,
            "st_uid": 0,
            "st_gid": 0,
        }
        if path in self.dirs:
            return {**base, "st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2}
        found = self.files.get(path)
        if found is None:
            raise FuseOSError(errno.ENOENT)
        if path not in self.sizes:
            self.sizes[path] = int(self.fs.size(found.full))
        size = self.sizes[path]
        return {**base, "st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": size}

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *sorted(self.dirs.get(path, ()))]

    def open(self, path: str, flags: int) -> int:
        from fuse import FuseOSError

        if flags & (os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_TRUNC):
            raise FuseOSError(errno.EROFS)
        found = self.files.get(path)
        if found is None:
            raise FuseOSError(errno.ENOENT)
        if self.guard is not None:
            self.guard.opening(found.full)
        handle = self.fs.open(
            found.full, "rb", block_size=_BLOCK, cache_type="blockcache"
        )
        with self.lock:
            number = len(self.handles) + 1
            while number in self.handles:
                number += 1
            self.handles[number] = handle
        return number

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        handle = self.handles[fh]
        if self.guard is None:
            handle.seek(offset)
            data: bytes = handle.read(size)
            return data
        self.guard.refuse_if_broken()
        fetches = _fetches(handle)
        handle.seek(offset)
        data = handle.read(size)
        if fetches is None or _fetches(handle) != fetches:
            self.guard.fetched(self.files[path].full)
        return data

    def release(self, path: str, fh: int) -> int:
        with self.lock:
            handle = self.handles.pop(fh, None)
        if handle is not None:
            handle.close()
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        return {"f_bsize": _BLOCK, "f_namemax": 255}

    def access(self, path: str, amode: int) -> int:
        from fuse import FuseOSError

        if amode & os.W_OK:
            raise FuseOSError(errno.EROFS)
        return 0

    def init(self, path: str) -> None:
        return None

    def destroy(self, path: str) -> None:
        for handle in list(self.handles.values()):
            handle.close()

    def flush(self, path: str, fh: int) -> int:
        return 0

    def opendir(self, path: str) -> int:
        return 0

    def releasedir(self, path: str, fh: int) -> int:
        return 0


def _fetches(handle: Any) -> int | None:
    """How many blocks ``handle`` fetched from the store so far (fsspec's read cache
    counts them); None for a file with no such cache: its every read is a fetch."""
    count = getattr(getattr(handle, "cache", None), "miss_count", None)
    return count if isinstance(count, int) else None


def _watch_parent(mount_point: str) -> None:
    """Unmount when the process that started this helper is gone (the FUSE loop then
    returns and the helper exits): a driver killed with ``kill -9`` leaves no mount."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.5)
    _unmount(mount_point)


def _serve(mount_point: str) -> None:
    from fuse import FUSE

    # the driver that started this helper wrote it, through a pipe only it holds
    fs, files, pin, step_log = pickle.loads(sys.stdin.buffer.read())  # noqa: S301
    threading.Thread(target=_watch_parent, args=(mount_point,), daemon=True).start()
    guard = MountGuard(fs, pin, mount_point, step_log) if pin and pin.markers else None
    view = _ReadOnlyView(fs, files, guard)
    FUSE(view, mount_point, foreground=True, ro=True, nothreads=True)


if __name__ == "__main__":
    _serve(sys.argv[1])
