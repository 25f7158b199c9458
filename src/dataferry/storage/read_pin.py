"""Read pins: how a reader of an object store sees an output whole, old or new.

An object store cannot rename a folder, so an overwrite publishes the new files onto
the old names (``staging_object``). A reader that listed the output under its old
commit marker could then read some old files and some new ones. So a reader keeps the
bytes of every marker its listing went through (a ``ReadPin``) and, once it has read
the files, reads those markers again: the publish removes the old marker before the
first file is copied, and every commit writes a marker of its own (a commit id), so a
file read after the publish began shows up as a changed marker. The reader then lists
again and reads again (``READ_ATTEMPTS`` in all) or gives up with a typed error.

On a local filesystem an output is replaced by a rename, and a file open is served
whole by the kernel: its pins hold no marker and never change.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataferry.errors import OutputChangedError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from dataferry.storage.location import FileSignature, StorageLocation

READ_ATTEMPTS = 3  # a reader lists and reads this often before giving up


@dataclass(frozen=True)
class ReadPin:
    """The commit markers a listing went through, with the bytes read then, and the
    signature of each file the listing gave (object stores only: size and etag as
    listed, so fingerprinting the files asks the store nothing more)."""

    location: StorageLocation
    markers: Mapping[str, bytes] = field(default_factory=dict)
    listed: Mapping[str, FileSignature] = field(default_factory=dict)

    def changed(self) -> list[str]:
        """The outputs (relative to the root) whose marker is not the one listed:
        rewritten, removed, or taken away by an overwrite that is publishing.

        Raises:
            StorageError: the store could not be read (an ``OSError`` from fsspec
                other than a missing marker, passed on).
        """
        changed = []
        for path, raw in sorted(self.markers.items()):
            try:
                now: bytes | None = bytes(self.location.fs.cat_file(path))
            except FileNotFoundError:
                now = None
            if now != raw:
                changed.append(self.location.relative_path(posixpath.dirname(path)))
        return changed


def changed_outputs(pins: Iterable[ReadPin]) -> list[str]:
    """``datastore:/output`` of every output some pin finds changed (each pin once)."""
    unique = {id(pin): pin for pin in pins}
    return [pin.location.url(rel) for pin in unique.values() for rel in pin.changed()]


def changed_error(outputs: list[str], what: str, attempts: int) -> OutputChangedError:
    """The error for a read that found ``outputs`` changed on each of ``attempts``."""
    times = "once" if attempts == 1 else f"{attempts} times in a row"
    return OutputChangedError(
        f"{what}: output {', '.join(outputs)} was overwritten while it was read "
        f"({times}), so what was read could mix its old and new files; read it "
        "again once the step writing it is done."
    )


@dataclass(frozen=True)
class MountPin:
    """The pins of a mount's files as its helper process checks them: no location
    (the helper has the filesystem already), so it pickles small.

    ``markers``: each commit marker's full path and the bytes read when the files were
    listed; ``outputs``: each marker's output as ``datastore:/output``, for messages.
    """

    markers: Mapping[str, bytes] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)

    def governing(self, full: str) -> tuple[str, ...]:
        """The markers of the outputs ``full`` (a file's full path) belongs to."""
        return tuple(
            m for m in self.markers if full.startswith(posixpath.dirname(m) + "/")
        )


def mount_pin(pins: Iterable[ReadPin]) -> MountPin:
    """One ``MountPin`` of every marker the ``pins`` went through (each pin once)."""
    unique = {id(pin): pin for pin in pins}
    markers: dict[str, bytes] = {}
    outputs: dict[str, str] = {}
    for pin in unique.values():
        for path, raw in pin.markers.items():
            markers[path] = raw
            folder = pin.location.relative_path(posixpath.dirname(path))
            outputs[path] = pin.location.url(folder)
    return MountPin(markers, outputs)
