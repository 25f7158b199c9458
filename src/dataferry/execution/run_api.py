"""The run API beside metrics, shared by every run class that has a record: tags,
properties and files (A.9 of the SDK reference).

A class mixes these in and supplies ``id`` and ``_run_files()``; the writes go straight
to the workspace's catalog, as metrics do, from the step's process or the submitting one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from dataferry._lazy import logger
from dataferry.errors import RunArgumentError, RunArgumentTypeError

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path
    from typing import BinaryIO

    from dataferry.catalog.run_annotations import RunAnnotations
    from dataferry.data.workspace import Workspace
    from dataferry.execution.run_files import RunFiles


def _as_text(run_id: str, what: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as the SDK stores them: str, None kept; others through ``str()``."""
    if not hasattr(values, "items"):
        raise RunArgumentTypeError(
            f"run {run_id}: {what} must be a dict of key -> value, "
            f"not {type(values).__name__}"
        )
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            logger(__name__).warning(
                "run %s: %s %r converted to str: %r", run_id, what, key, value
            )
            value = str(value)
        out[str(key)] = value
    return out


class _RunRecordHost(ABC):
    """A run class with a record in the catalog: it names its files' place."""

    if TYPE_CHECKING:  # each host has an ``id``, an attribute or a property

        @property
        def id(self) -> str: ...

    @abstractmethod
    def _run_files(self) -> RunFiles:
        """The run's files (and, through them, its catalog annotations)."""

    @property
    def _record_id(self) -> str:
        """The id the run's annotations are kept under: its ``id``, except inside a
        script run, whose code annotates the one step run that runs it."""
        return self.id


class RunTagsApi(_RunRecordHost):
    """``tag``/``set_tags``/``get_tags``/``remove_tags`` and write-once properties."""

    @property
    def _annotations(self) -> RunAnnotations:
        return self._run_files().annotations

    def tag(self, key: str, value: str | None = None) -> None:
        """Set one tag (``set_tags({key: value})``)."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Set tags; a value that is not a str (nor None) is stored as ``str(value)``.

        Raises:
            RunArgumentTypeError: ``tags`` is not a dict.
        """
        self._annotations.set_tags(self._record_id, _as_text(self.id, "tag", tags))

    def get_tags(self) -> dict[str, str | None]:
        """The run's tags, read fresh from the catalog."""
        return self._annotations.tags_of(self._record_id)

    def remove_tags(self, tags: Iterable[str] | Mapping[str, Any]) -> None:
        """Remove the named tags (a list of keys or a dict whose keys are removed)."""
        keys = [tags] if isinstance(tags, str) else list(tags)
        self._annotations.remove_tags(self._record_id, keys)

    @property
    def tags(self) -> dict[str, str | None]:
        """The run's tags."""
        return self.get_tags()

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Add properties; they are written once (an empty dict does nothing).

        Raises:
            RunPropertyError: a key already has another value; nothing is written.
            RunArgumentTypeError: ``properties`` is not a dict.
        """
        values = _as_text(self.id, "property", properties)
        if values:
            self._annotations.add_properties(
                self._record_id, {k: "" if v is None else v for k, v in values.items()}
            )

    def get_properties(self) -> dict[str, str]:
        """The run's properties."""
        return self._annotations.properties_of(self._record_id)

    @property
    def properties(self) -> dict[str, str]:
        """The run's properties."""
        return self.get_properties()


def _no_datastore(run_id: str, datastore_name: str | None) -> None:
    if datastore_name is not None:
        raise RunArgumentError(
            f"run {run_id}: run files are kept in the workspace's run folder; "
            f"datastore_name={datastore_name!r} cannot be used, leave it out"
        )


def _check_timeout(run_id: str, timeout_seconds: float | None) -> None:
    if timeout_seconds is not None and not timeout_seconds > 0:
        raise RunArgumentError(
            f"run {run_id}: timeout_seconds must be positive, got {timeout_seconds!r}"
        )


class RunFilesApi(_RunRecordHost):
    """Upload, list and download a run's files (artifacts)."""

    def upload_file(
        self,
        name: str,
        path_or_stream: str | os.PathLike[str] | BinaryIO,
        datastore_name: str | None = None,
    ) -> None:
        """Keep a file (or the bytes of a binary stream) as the run file ``name``.

        Raises:
            RunArgumentError: a bad name, a missing file, or a ``datastore_name``.
            RunFileExistsError: the run already has a file of that name.
        """
        _no_datastore(self.id, datastore_name)
        self._run_files().upload(name, path_or_stream)

    def upload_files(
        self,
        names: Sequence[str],
        paths: Sequence[str | os.PathLike[str]],
        return_artifacts: bool = False,
        timeout_seconds: float | None = None,
        datastore_name: str | None = None,
    ) -> list[str] | None:
        """Upload ``paths[i]`` as ``names[i]``; every name is checked first.

        ``timeout_seconds`` is checked but bounds nothing: a local copy does not wait
        on a service. Returns the stored names when ``return_artifacts``.

        Raises:
            RunArgumentTypeError: names and paths differ in length.
            RunArgumentError: a bad name or path, or a ``datastore_name``.
            RunFileExistsError: a name is taken; nothing is uploaded.
        """
        _no_datastore(self.id, datastore_name)
        _check_timeout(self.id, timeout_seconds)
        if len(names) != len(paths):
            raise RunArgumentTypeError(
                f"run {self.id}: upload_files got {len(names)} names for "
                f"{len(paths)} paths; pass one name per path"
            )
        stored = self._upload_all(list(zip(names, paths, strict=True)))
        return stored if return_artifacts else None

    def _upload_all(self, pairs: list[tuple[str, str | os.PathLike[str]]]) -> list[str]:
        from pathlib import Path

        from dataferry.execution.run_files import normalise_name

        files = self._run_files()
        taken = set(files.names())
        for name, path in pairs:
            stored = normalise_name(self.id, name)
            if stored in taken or not Path(path).is_file():
                files.upload(name, path)  # raises the error that says which and why
        return [files.upload(name, path) for name, path in pairs]

    def upload_folder(
        self, name: str, path: str | os.PathLike[str], datastore_name: str | None = None
    ) -> list[str]:
        """Upload every file under folder ``path`` as ``name/<path inside it>``.

        Raises:
            RunArgumentError: ``path`` is not a folder, or a ``datastore_name``.
            RunFileExistsError: one of the names is taken; nothing is uploaded.
        """
        from pathlib import Path

        _no_datastore(self.id, datastore_name)
        folder = Path(path)
        if not folder.is_dir():
            raise RunArgumentError(
                f"Cannot upload path: {folder} since it is not a valid directory "
                f"(run {self.id})."
            )
        found = sorted(p for p in folder.rglob("*") if p.is_file())
        prefix = name.rstrip("/")
        return self._upload_all(
            [(f"{prefix}/{p.relative_to(folder).as_posix()}", p) for p in found]
        )

    def _files(self) -> dict[str, Path]:
        """Every file of the run, ``{artifact name: local path}``: what it uploaded.
        A run that also keeps files of its own (a script run's ``./outputs``) adds
        them here; every reader below goes through this."""
        return self._run_files().paths()

    def get_file_names(self) -> list[str]:
        """The names of the run's files, sorted."""
        return sorted(self._files())

    def download_file(
        self,
        name: str,
        output_file_path: str | None = None,
        _validate_checksum: bool = False,
    ) -> None:
        """Copy the run file ``name`` to ``output_file_path`` (default: its base name
        in the current folder; into it when it is an existing folder).

        Raises:
            RunFileNotFoundError: the run has no file of that name.
        """
        from dataferry.execution.run_files import download_one

        download_one(self._files(), self.id, name, output_file_path)

    def download_files(
        self,
        prefix: str | None = None,
        output_directory: str | None = None,
        output_paths: str | None = None,
        batch_size: int = 100,
        append_prefix: bool = True,
        timeout_seconds: float | None = None,
    ) -> list[Path]:
        """Copy every run file under ``prefix`` (all without one) into
        ``output_directory``; ``append_prefix=False`` drops the prefix from the local
        names. ``output_paths`` is the SDK's older name of ``output_directory``.
        Returns the paths written (``batch_size`` and ``timeout_seconds`` are checked
        but bound nothing locally).

        Raises:
            RunArgumentError: both ``output_directory`` and ``output_paths``, or a
                batch size or timeout that is not positive.
        """
        if output_paths is not None and not isinstance(output_paths, str):
            raise RunArgumentTypeError(
                f"run {self.id}: output_paths is the older name of output_directory "
                f"(one folder, a str), not {type(output_paths).__name__}"
            )
        if output_directory is not None and output_paths is not None:
            raise RunArgumentError(
                f"run {self.id}: pass output_directory or output_paths, not both"
            )
        if batch_size < 1:
            raise RunArgumentError(
                f"run {self.id}: batch_size must be at least 1, got {batch_size}"
            )
        _check_timeout(self.id, timeout_seconds)
        from dataferry.execution.run_files import download_many

        return download_many(
            self._files(),
            self.id,
            prefix,
            output_directory or output_paths,
            append_prefix,
        )


_MECHANISMS = {"direct": "Direct", "mount": "Mount", "download": "Download"}


def input_datasets(
    workspace: Workspace, lineage_rows: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``get_details()['inputDatasets']`` in the SDK's shape: per input that read a
    saved dataset, ``{"dataset": <the dataset>, "consumptionDetails": {"type":
    "RunInput", "inputName": ..., "mechanism": "Direct"|"Mount"|"Download"}}``."""
    from dataferry.data.abstract_dataset import AbstractDataset

    out = []
    for row in lineage_rows:
        if row["role"] != "input" or not row.get("dataset_id"):
            continue
        mode = row.get("mode") or "direct"
        out.append(
            {
                "dataset": AbstractDataset.get_by_id(workspace, row["dataset_id"]),
                "consumptionDetails": {
                    "type": "RunInput",
                    "inputName": row["name"],
                    "mechanism": _MECHANISMS.get(mode, mode.capitalize()),
                },
            }
        )
    return out
