"""A run's files (artifacts): kept under the run's folder, listed by the catalog.

``upload`` copies the bytes to ``<run folder>/files/<name>`` through a part file renamed
into place, then records the row: a listed file is always whole. Names are the SDK's
artifact names (``outputs/model.pkl``): relative, ``/``-separated, no ``..``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from dataferry.errors import RunArgumentError, RunFileExistsError, RunFileNotFoundError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.catalog.run_annotations import RunAnnotations, RunFileRecord
    from dataferry.data.workspace import Workspace


def normalise_name(run_id: str, name: str) -> str:
    """The artifact name ``name`` as stored: ``/``-separated, without a leading ``./``.

    Raises:
        RunArgumentError: the name is empty, absolute or climbs out with ``..``.
    """
    if not isinstance(name, str) or not name.strip():
        raise RunArgumentError(f"run {run_id}: a run file needs a name, got {name!r}")
    posix = PurePosixPath(name.replace("\\", "/"))
    parts = [p for p in posix.parts if p not in ("", ".")]
    if posix.is_absolute() or ".." in parts or not parts:
        raise RunArgumentError(
            f"run {run_id}: run file name {name!r} must be a relative path inside the "
            "run, such as 'outputs/model.pkl'"
        )
    return "/".join(parts)


class RunFiles:
    """The files of one run: upload, list, download.

    Args:
        annotations: the catalog's run annotations.
        workspace_root: the workspace folder (stored paths are relative to it).
        run_id: the run (or step run) the files belong to.
        folder: where this run's files are kept (``run_layout.files_dir``).
    """

    def __init__(
        self,
        annotations: RunAnnotations,
        workspace_root: Path,
        run_id: str,
        folder: Path,
    ) -> None:
        self.annotations = annotations
        self.root = workspace_root
        self.run_id = run_id
        self.folder = folder

    def upload(self, name: str, source: str | os.PathLike[str] | BinaryIO) -> str:
        """Keep ``source`` (a file path or a readable binary stream) as ``name``.

        Returns:
            The stored name.

        Raises:
            RunArgumentError: a bad name, or ``source`` is not a file.
            RunFileExistsError: the run already has a file of that name.
        """
        stored = normalise_name(self.run_id, name)
        self._check_free(stored)
        if isinstance(source, str | os.PathLike) and not Path(source).is_file():
            raise RunArgumentError(
                f"run {self.run_id}: cannot upload '{os.fspath(source)}' as '{stored}': "
                "it is not a file"
            )
        target = self.folder / stored
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        with part.open("wb") as out:
            if isinstance(source, str | os.PathLike):
                with Path(source).open("rb") as src:
                    shutil.copyfileobj(src, out)
            else:
                shutil.copyfileobj(source, out)
        os.replace(part, target)
        relative = target.relative_to(self.root).as_posix()
        self.annotations.record_file(
            self.run_id, stored, relative, target.stat().st_size
        )
        return stored

    def _check_free(self, stored: str) -> None:
        if self.annotations.has_file(self.run_id, stored):
            raise RunFileExistsError(
                f"run {self.run_id} already has a file named '{stored}'; upload it "
                "under another name"
            )

    def names(self) -> list[str]:
        """Every file name of the run, sorted."""
        return [f.name for f in self.annotations.files_of(self.run_id)]

    def paths(self) -> dict[str, Path]:
        """``{file name: where its bytes are}`` of every file of the run, by name."""
        return {
            f.name: self.root / f.path for f in self.annotations.files_of(self.run_id)
        }

    def _record(self, name: str) -> RunFileRecord:
        stored = normalise_name(self.run_id, name)
        files = {f.name: f for f in self.annotations.files_of(self.run_id)}
        if stored not in files:
            from dataferry.errors import did_you_mean

            raise RunFileNotFoundError(
                f"Cannot find the artifact '{stored}' in run {self.run_id}; it has "
                f"{sorted(files) or 'no files'}.{did_you_mean(stored, files)}"
            )
        return files[stored]

    def read_bytes(self, name: str) -> bytes:
        """The content of the run's file ``name``.

        Raises:
            RunFileNotFoundError: the run has no such file.
        """
        return (self.root / self._record(name).path).read_bytes()

    def download(self, name: str, output_file_path: str | None = None) -> Path:
        """Copy the file ``name`` (see :func:`download_one`).

        Raises:
            RunFileNotFoundError: the run has no such file.
        """
        return download_one(self.paths(), self.run_id, name, output_file_path)


def download_one(
    files: Mapping[str, Path], run_id: str, name: str, output_file_path: str | None
) -> Path:
    """Copy the run file ``name`` of ``files`` (``{artifact name: local path}``) to
    ``output_file_path`` (default: its base name in the current folder; an existing
    folder gets ``<folder>/<base name>``); the path written.

    Raises:
        RunFileNotFoundError: ``files`` has no file of that name.
    """
    stored = normalise_name(run_id, name)
    source = files.get(stored)
    if source is None:
        from dataferry.errors import did_you_mean

        raise RunFileNotFoundError(
            f"Cannot find the artifact '{stored}' in run {run_id}; it has "
            f"{sorted(files) or 'no files'}.{did_you_mean(stored, files)}"
        )
    base = PurePosixPath(stored).name
    target = Path(output_file_path) if output_file_path is not None else Path(base)
    if target.is_dir():
        target = target / base
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def download_many(
    files: Mapping[str, Path],
    run_id: str,
    prefix: str | None,
    output_directory: str | None,
    append_prefix: bool,
) -> list[Path]:
    """Copy every file of ``files`` under ``prefix`` into ``output_directory``
    (default: the current folder), keeping its name, or its name after ``prefix`` when
    ``append_prefix`` is False. Returns the paths written, in name order."""
    folder = Path(output_directory) if output_directory is not None else Path()
    start = normalise_name(run_id, prefix) if prefix else ""
    written = []
    for name, source in sorted(files.items()):
        if start and not (name == start or name.startswith(start + "/")):
            continue
        local = name if append_prefix or not start else name[len(start) :]
        target = folder / (local.lstrip("/") or PurePosixPath(name).name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        written.append(target)
    return written


def step_run_files(workspace: Workspace, step_run_id: str) -> RunFiles:
    """The files a step run uploaded; a reused step run's are those of the step run it
    reused (its files are those).

    Raises:
        RunNotFoundError: no step run has this id.
    """
    from dataferry.catalog.run_annotations import RunAnnotations
    from dataferry.catalog.run_store import RunStore
    from dataferry.execution import run_layout

    store = RunStore(workspace.catalog)
    record = store.get_step_run(step_run_id)
    source = store.get_step_run(record.reused_from) if record.reused_from else record
    folder = run_layout.files_dir(
        run_layout.step_dir(workspace, source.run_id, source.id)
    )
    return RunFiles(
        RunAnnotations(workspace.catalog), workspace.path, source.id, folder
    )
