"""FileDataset: a set of files, to download, mount or hand to a step."""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from typing import TYPE_CHECKING

from dataferry.data import transforms as tf
from dataferry.data.abstract_dataset import AbstractDataset
from dataferry.data.whole_read import read_whole
from dataferry.errors import DatasetError, PathNotFoundError, TargetExistsError

if TYPE_CHECKING:
    from dataferry.data.consumption import DatasetConsumptionConfig
    from dataferry.data.mount import MountContext
    from dataferry.data.sources import ResolvedFile


def local_target(folder: str, file: ResolvedFile) -> str:
    """Where ``file`` goes under ``folder``: its display path, never outside the folder.

    Raises:
        DatasetError: the display path climbs out of ``folder`` (``..``).
    """
    local = os.path.normpath(os.path.join(folder, file.display.lstrip("/")))
    base = os.path.normpath(folder)
    inside = base if base.endswith(os.sep) else base + os.sep  # "/" ends with it
    # a prefix test, as commonpath would say (which costs 0.1 ms a file)
    if local != base and not local.startswith(inside):
        raise DatasetError(
            f"file {file.full} would be placed outside {folder} (as {file.display!r}); "
            "this is a bug in resolving the dataset's paths, please report it."
        )
    return local


class FileDataset(AbstractDataset):
    """Files on datastores, URLs or local paths; sampling and splitting pick files."""

    _kind = "file"

    def _files(self, *, ignore_not_found: bool = False) -> list[ResolvedFile]:
        """The dataset's files after its transforms, in a stable order."""
        try:
            files = self._source_files(check_urls=False)
        except PathNotFoundError:
            if ignore_not_found:
                return []
            raise
        transforms = self._definition.get("transforms", [])
        if not transforms:
            return files
        kept: list[ResolvedFile] = []
        for chunk in tf.apply(iter([tf.FileList(files)]), transforms):
            kept.extend(chunk.items)
        return kept

    def to_path(self) -> list[str]:
        """The files' paths relative to the common base of the sources (``'/a/b.csv'``)."""
        return [f.display for f in self._files()]

    def download(
        self,
        target_path: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        ignore_not_found: bool = False,
    ) -> list[str]:
        """Copy the files into ``target_path`` (default: a new temporary folder).

        Returns the absolute local paths. Every collision is checked before anything is
        copied; each file is written beside its target and renamed, so an interrupted
        download never leaves a half file under its real name.

        Raises:
            TargetExistsError: a target file exists and ``overwrite`` is False.
            PathNotFoundError: a source matches nothing (unless ``ignore_not_found``).
            OutputChangedError: an output on an object store was overwritten during
                each download (one that overlaps an overwrite is downloaded again: the
                copy is the old output or the new one, never a mix).
        """
        if target_path is None:
            target = tempfile.mkdtemp(prefix="dataferry-")
        else:
            target = os.path.abspath(target_path)
        written: list[str] = []  # by an earlier attempt: ours to replace or remove

        def attempt(files: list[ResolvedFile]) -> list[str]:
            pairs = [(f, local_target(target, f)) for f in files]
            _check_free([local for _, local in pairs], written, overwrite=overwrite)
            for stale in set(written) - {local for _, local in pairs}:
                os.unlink(stale)  # an old file the re-listed output no longer has
            written[:] = [local for _, local in pairs]
            os.makedirs(target, exist_ok=True)
            _get_all(pairs, target)
            return list(written)

        return read_whole(
            lambda: self._files(ignore_not_found=ignore_not_found),
            attempt,
            "downloading the dataset",
        )

    def mount(
        self, mount_point: str | os.PathLike[str] | None = None, **kwargs: object
    ) -> MountContext:
        """A context manager that makes the files appear under a folder.

        On a local datastore nothing is copied: a dataset that is a whole folder mounts
        as that folder, any other as a folder of links to the files.

        Raises:
            MountError: the mount point is not empty, or the files are not local.
        """
        from dataferry.data.mount import MountContext

        if kwargs:
            raise TypeError(
                f"mount() got unexpected keyword arguments {sorted(kwargs)}"
            )
        return MountContext(
            self, None if mount_point is None else os.fspath(mount_point)
        )

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """Bind to a step, mounted, under an automatic name."""
        from dataferry.data.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(None, self).as_mount(path_on_compute)

    def as_download(
        self, path_on_compute: str | None = None
    ) -> DatasetConsumptionConfig:
        """Bind to a step, downloaded, under an automatic name."""
        from dataferry.data.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(None, self).as_download(path_on_compute)

    def _validate(self) -> None:
        """Check that every source resolves to at least one file."""
        self._source_files(check_urls=True)


def _check_free(locals_: list[str], ours: list[str], *, overwrite: bool) -> None:
    """Raise unless every target is free, ours, or may be overwritten.

    Raises:
        TargetExistsError: the first target taken, and how many are.
    """
    if overwrite:
        return
    mine = set(ours)
    taken = [p for p in locals_ if p not in mine and os.path.exists(p)]
    if taken:
        raise TargetExistsError(
            f'File "{taken[0]}" already exists. Set overwrite=True to replace it '
            f"({len(taken)} file(s) would be overwritten)."
        )


def _get_all(pairs: list[tuple[ResolvedFile, str]], target: str) -> None:
    """Copy each ``(file, local)`` pair, in one bulk transfer per datastore."""
    by_location: dict[str, list[tuple[str, str]]] = defaultdict(list)
    locations = {}
    for f, local in pairs:
        by_location[f.location.name].append((f.full, local))
        locations[f.location.name] = f.location
    for name, items in by_location.items():
        locations[name].get_files(
            items, overwrite=True, show_progress=True, resume_in=target
        )
