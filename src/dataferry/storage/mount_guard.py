"""A FUSE mount's read pin: a mounted input is read as its output's old version whole,
or its reads fail with EIO; never a mix of old and new files.

The mount's helper (``fuse_mount``) is given the commit markers its files were listed
under (``read_pin.MountPin``). An overwrite removes the old marker before it publishes
its first file, and its own marker differs (a commit id), so the bytes fetched from the
store are the old version's if the marker is unchanged *after* they were fetched: the
guard reads the markers after every fetch from the store (bytes already in the read
cache were checked when they came). It also reads them when a file is opened, to fail
early, unless they were read within ``FRESH_S`` (a step reading many small files then
pays one marker read per file, not two).

Once a marker has changed the old files are gone or being replaced (a blob overwrite
deletes them), so the mount stays failed: every later open and read gives EIO, also of
files read before, and one line naming the output and what to do goes to the helper's
log and to the step's log (``step_log``).
"""

from __future__ import annotations

import contextlib
import errno
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    import fsspec

    from dataferry.storage.read_pin import MountPin

FRESH_S = 1.0  # an open does not read a marker read this recently again


class MountGuard:
    """The checks of one mount's helper; every method raises ``FuseOSError(EIO)``
    (an ``OSError``) once the mounted output has been overwritten."""

    def __init__(
        self,
        fs: fsspec.AbstractFileSystem,
        pin: MountPin,
        mount_point: str,
        step_log: Path | None,
    ) -> None:
        self.fs = fs
        self.pin = pin
        self.mount_point = mount_point
        self.step_log = step_log
        self.read_at: dict[str, float] = {}  # marker -> when its last check began
        self.governing: dict[str, tuple[str, ...]] = {}
        self.broken: str | None = None  # the output found overwritten

    def opening(self, full: str) -> None:
        """Check before ``full`` (a file's full path) is opened."""
        self._refuse_if_broken()
        now = time.monotonic()
        stale = [
            m
            for m in self._markers(full)
            if now - self.read_at.get(m, -FRESH_S) >= FRESH_S
        ]
        self._check(stale)

    def fetched(self, full: str) -> None:
        """Check after bytes of ``full`` were fetched from the store."""
        self._refuse_if_broken()
        self._check(self._markers(full))

    def refuse_if_broken(self) -> None:
        """Fail a read served from the cache once the output was found overwritten."""
        self._refuse_if_broken()

    def _markers(self, full: str) -> tuple[str, ...]:
        if full not in self.governing:
            self.governing[full] = self.pin.governing(full)
        return self.governing[full]

    def _check(self, markers: list[str] | tuple[str, ...]) -> None:
        from fuse import FuseOSError

        for marker in markers:
            began = time.monotonic()
            try:
                now: bytes | None = bytes(self.fs.cat_file(marker))
            except FileNotFoundError:
                now = None
            except OSError as exc:  # the store did not answer: this read only fails
                print(f"dataferry: {marker}: {exc}", file=sys.stderr, flush=True)
                raise FuseOSError(errno.EIO) from exc
            if now != self.pin.markers[marker]:
                self._break(self.pin.outputs[marker])
            self.read_at[marker] = began

    def _refuse_if_broken(self) -> None:
        from fuse import FuseOSError

        if self.broken is not None:
            raise FuseOSError(errno.EIO)

    def _break(self, output: str) -> None:
        """Fail the mount for good and say so, once."""
        self.broken = output
        line = (
            f"dataferry: input mounted at {self.mount_point}: output {output} was "
            "overwritten while this step read it, so its files could mix the old and "
            "new version; every further read of the mount fails with EIO (Input/output "
            "error). Run the step again to read the new version.\n"
        )
        sys.stderr.write(line)
        sys.stderr.flush()
        if self.step_log is not None:
            # appended as one write: the step's own output goes to the same file;
            # a log that cannot be written leaves the line in the helper's own log
            with contextlib.suppress(OSError), open(self.step_log, "a") as fh:
                fh.write(line)
        self._refuse_if_broken()
