"""The commit protocol: where a step writes an output, and how it becomes visible whole.

One implementation per kind of location, chosen by the location itself
(``StorageLocation.staging``), so nothing above the storage layer asks whether a
datastore is local:

- ``LocalStaging`` (``staging_local``): the step writes into
  ``<root>/.dataferry-staging/<step run>/<output>`` on the destination's filesystem and
  the commit is a rename (a ``renameat2`` exchange to merge into an existing folder).
- ``ObjectStoreStaging`` (``staging_object``): the step writes into a local scratch
  folder; the commit uploads it under the staging prefix on the store, publishes it
  with server-side copies and writes a commit marker last (``commit_marker``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataferry.storage.commit_marker import STAGING_DIR

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from dataferry.storage.location import FileSignature, StorageLocation


@dataclass(frozen=True, slots=True)
class StagedPlace:
    """An output being written: the local folder the step writes, and its destination.

    ``write_dir`` may be replaced by the step with a single file: then that file is
    the output.
    """

    path: str  # destination, relative to the datastore root
    write_dir: Path
    step_run_id: str
    name: str


class Staging(ABC):
    """Stage, commit, discard and remove outputs on one storage location."""

    def __init__(self, location: StorageLocation) -> None:
        self.location = location

    def staging_prefix(self, step_run_id: str, name: str = "") -> str:
        """``.dataferry-staging/<step run>[/<output>]``, relative to the root."""
        return "/".join(p for p in (STAGING_DIR, step_run_id, name) if p)

    @abstractmethod
    def stage(self, path: str, step_run_id: str, name: str, scratch: Path) -> Path:
        """Make the empty folder a step writes output ``name`` (for ``path``) into.

        ``scratch`` is the step's own folder on this machine; a location that cannot
        be written in place stages there. Whatever was left by an earlier attempt is
        removed first.
        """

    @abstractmethod
    def commit(self, staged: StagedPlace, *, merge: bool) -> None:
        """Make what the step left at ``staged.write_dir`` the output at ``staged.path``.

        ``merge``: a destination that holds data already keeps the files the step did
        not rewrite (overwrite and mount mode); without it the destination must be
        absent. A reader sees the old output or the new one, never a mix.

        Raises:
            TargetExistsError: the destination exists and ``merge`` is False.
            RunError: the step wrote one file where a folder is committed already.
            StorageError: the store failed (the message names datastore and path).
        """

    def commit_staged(
        self, staged: StagedPlace, files: Mapping[str, int], *, merge: bool
    ) -> None:
        """Commit an output another machine put at its staging prefix
        (``staging_prefix(step run, name)``) with ``files`` (``{relative path:
        size}``; ``{"": size}``: one file), as ``commit`` commits a local one.

        Here (a filesystem every node sees, which stages in place) the files are at
        ``staged.write_dir`` already, so this is ``commit``.

        Raises:
            TargetExistsError, RunError, StorageError: as ``commit``.
        """
        self.commit(staged, merge=merge)

    @abstractmethod
    def discard(self, staged: StagedPlace) -> None:
        """Remove what a failed or cancelled step wrote for one output."""

    @abstractmethod
    def discard_step(self, step_run_id: str) -> None:
        """Remove every staging leftover of a step run (after a crash)."""

    @abstractmethod
    def staged_steps(self) -> list[str]:
        """The ids of the step runs that have something staged here."""

    @abstractmethod
    def remove(self, path: str) -> None:
        """Delete the output at ``path`` (a folder or a file), sealed or not; nothing
        there is not an error.

        Raises:
            OSError: it is there and cannot be deleted.
        """

    @abstractmethod
    def local_path(self, full: str) -> str | None:
        """A path on this machine holding the file ``full`` (as listed), or None.

        Takes the full path a listing gives (not a root-relative one), so files of a
        rootless location (a URL source) are served alike.
        """

    @abstractmethod
    def markers_for(self, base: str, *, below: bool) -> list[str]:
        """Commit markers (full paths) that govern a listing of the folder ``base``:
        in the folders above it, and with ``below`` (a glob's listing, which holds no
        marker itself) in the folders under it."""

    @abstractmethod
    def tree_signatures(self, path: str) -> dict[str, FileSignature] | None:
        """``{path below path: signature}`` of a committed output; None if absent.

        A single file is keyed ``""``. On an object store an output reads as absent
        unless its commit marker is complete.
        """


def staging_for(location: StorageLocation) -> Staging:
    """The commit protocol of ``location``'s kind of filesystem."""
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(location.fs, LocalFileSystem):
        from dataferry.storage.staging_local import LocalStaging

        return LocalStaging(location)
    from dataferry.storage.staging_object import ObjectStoreStaging

    return ObjectStoreStaging(location)
