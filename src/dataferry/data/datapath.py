"""Pointers to data on a datastore: DataPath (for datasets) and DataReference."""

from __future__ import annotations

import copy
import os
from pathlib import PurePath
from typing import TYPE_CHECKING

from dataferry.data.compute_path import check_path_on_compute
from dataferry.errors import (
    DatastoreNotFoundError,
    WorkspaceNotFoundError,
    did_you_mean,
)
from dataferry.storage.paths import normalise_datastore_path

if TYPE_CHECKING:
    from dataferry.data.datastore import Datastore
    from dataferry.data.workspace import Workspace


def resolve_datastore(
    datastore: object, workspace: Workspace | None = None
) -> Datastore:
    """The Datastore ``datastore`` stands for: a Datastore as is, or one by its name.

    A name is looked up in ``workspace``, or else in the workspace that
    ``Workspace.from_config()`` finds from the current folder.

    Raises:
        TypeError: ``datastore`` is neither a Datastore nor a name.
        DatastoreNotFoundError: no datastore of that name is registered there (the
            message names the registered ones), or no workspace is found to look in.
    """
    from dataferry.data.datastore import Datastore
    from dataferry.data.workspace import Workspace

    if isinstance(datastore, Datastore):
        return datastore
    if not isinstance(datastore, str):
        raise TypeError(
            f"a datastore must be a Datastore or its name, not {type(datastore).__name__}"
        )
    opened = workspace is None
    if workspace is None:
        try:
            workspace = Workspace.from_config()
        except WorkspaceNotFoundError as exc:
            raise DatastoreNotFoundError(
                f"datastore '{datastore}' is given by name, but no workspace was found "
                f"from {os.getcwd()} to look it up in; pass the Datastore instead: "
                f"Datastore.get(ws, '{datastore}')."
            ) from exc
    try:
        return Datastore.get(workspace, datastore)
    except DatastoreNotFoundError as exc:
        names = sorted(s.name for s in workspace.catalog.list_datastores())
        if opened:  # nothing will use the workspace found for this lookup
            workspace.close()
        raise DatastoreNotFoundError(
            f"no datastore named '{datastore}' in workspace '{workspace.name}' "
            f"({workspace.path}).{did_you_mean(datastore.lower(), names)} Registered: "
            f"{', '.join(names) or 'none'}. Register it first, or use one of those."
        ) from exc


def datastore_path(path: object, datastore: str, role: str = "path") -> str:
    """A path read from the user, normalised; ``"/"`` for the datastore's root.

    Raises:
        TypeError: ``path`` is not a string.
        DatastorePathError: ``path`` leaves the datastore's root.
    """
    if isinstance(path, PurePath):
        path = path.as_posix()
    if not isinstance(path, str):
        raise TypeError(f"{role} must be a string, not {type(path).__name__}")
    return normalise_datastore_path(path, datastore=datastore, role=role) or "/"


class DataPath:
    """A path (or glob such as ``dir/**/*.csv``) on a datastore."""

    def __init__(
        self,
        datastore: Datastore | str | None = None,
        path_on_datastore: str | None = None,
        name: str | None = None,
    ) -> None:
        """Point at ``path_on_datastore`` (default: the root) on ``datastore``.

        The path is normalised here (``a/./b//`` is ``a/b``); a leading ``/`` means the
        datastore's root. A datastore given by name is looked up as in
        :func:`resolve_datastore`.

        Raises:
            ValueError: no datastore is given.
            DatastoreNotFoundError: the named datastore is not registered.
            DatastorePathError: the path leaves the datastore's root.
        """
        if datastore is None:
            raise ValueError(
                "DataPath needs a datastore: DataPath(datastore, 'path/on/it')"
            )
        store = resolve_datastore(datastore)
        self._datastore = store
        self._path = datastore_path(path_on_datastore or "/", store.name)
        # a generated name says nothing about the data: it stays out of fingerprints
        self._auto_name = not name
        self._name = name or f"{store.name}_{os.urandom(4).hex()}"

    @property
    def datastore(self) -> Datastore:
        """The datastore the path is on."""
        return self._datastore

    @property
    def datastore_name(self) -> str:
        """The datastore's name."""
        return self._datastore.name

    @property
    def path_on_datastore(self) -> str:
        """The path (or glob) relative to the datastore's root."""
        return self._path

    @property
    def is_auto_named(self) -> bool:
        """True if the name was generated (none was given), False if the user chose it."""
        return self._auto_name

    def create_data_reference(
        self,
        data_reference_name: str | None = None,
        datapath_compute_binding: DataPathComputeBinding | None = None,
    ) -> DataReference:
        """A ``DataReference`` to the same place, with the binding's mode."""
        binding = datapath_compute_binding or DataPathComputeBinding()
        reference = DataReference(
            self._datastore,
            data_reference_name=data_reference_name or self._name,
            path_on_datastore=self._path,
            mode=binding.mode,
            path_on_compute=binding.path_on_compute,
            overwrite=binding.overwrite,
        )
        reference._auto_name = not data_reference_name and self._auto_name
        return reference

    @staticmethod
    def create_from_data_reference(data_reference: DataReference) -> DataPath:
        """The ``DataPath`` a ``DataReference`` points at."""
        path = DataPath(
            data_reference.datastore,
            data_reference.path_on_datastore,
            data_reference.data_reference_name,
        )
        path._auto_name = data_reference.is_auto_named
        return path

    def __repr__(self) -> str:
        return f"DataPath(datastore='{self.datastore_name}', path_on_datastore='{self._path}')"


class DataPathComputeBinding:
    """How a DataPath appears to a step: mounted, downloaded or uploaded."""

    def __init__(
        self,
        mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool = False,
    ) -> None:
        if mode not in ("mount", "download", "upload"):
            raise ValueError(
                f"mode must be 'mount', 'download' or 'upload', not {mode!r}"
            )
        self.mode = mode
        self.path_on_compute = check_path_on_compute(path_on_compute)
        self.overwrite = overwrite


class DataReference:
    """A named reference to a path on a datastore, with an access mode."""

    def __init__(
        self,
        datastore: Datastore | str,
        data_reference_name: str | None = None,
        path_on_datastore: str | None = None,
        mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool = False,
    ) -> None:
        """Refer to ``path_on_datastore`` (None: the root) on ``datastore``.

        A datastore given by name is looked up as in :func:`resolve_datastore`.

        Raises:
            ValueError: ``mode`` is not mount, download or upload.
            TypeError: ``datastore`` is neither a Datastore nor a name.
            DatastoreNotFoundError: the named datastore is not registered (the message
                names the registered ones).
            DatastorePathError: the path leaves the datastore's root.
        """
        if mode not in ("mount", "download", "upload"):
            raise ValueError(
                f"mode must be 'mount', 'download' or 'upload', not {mode!r}"
            )
        datastore = resolve_datastore(datastore)
        self.datastore = datastore
        self.path_on_datastore = (
            None
            if path_on_datastore is None
            else datastore_path(path_on_datastore, datastore.name, "path_on_datastore")
        )
        has_path = self.path_on_datastore not in (None, "/")
        # a random name says nothing about the data: it stays out of fingerprints (the
        # datastore's name, used for its root, is no random name)
        self._auto_name = not data_reference_name and has_path
        self._reference_name = data_reference_name or (
            os.urandom(16).hex() if has_path else datastore.name
        )
        self.mode = mode
        self.path_on_compute = check_path_on_compute(
            path_on_compute, port=self.data_reference_name
        )
        self.overwrite = overwrite

    @property
    def datastore_name(self) -> str:
        """The datastore's name."""
        return self.datastore.name

    @property
    def data_reference_name(self) -> str:
        """The reference's name: the step sees it as ``AZUREML_DATAREFERENCE_<name>``."""
        return self._reference_name

    @data_reference_name.setter
    def data_reference_name(self, value: str) -> None:
        self._reference_name = value
        self._auto_name = False

    @property
    def is_auto_named(self) -> bool:
        """True if the name was generated (none was given), False if the user chose it."""
        return self._auto_name

    def _clone(
        self, mode: str, path_on_compute: str | None, overwrite: bool | None
    ) -> DataReference:
        clone = copy.copy(self)
        clone.mode = mode
        clone.path_on_compute = (
            check_path_on_compute(path_on_compute, port=self.data_reference_name)
            if path_on_compute is not None
            else self.path_on_compute
        )
        # Unlike the original SDK, which keeps the old value, overwrite= is honoured here.
        if overwrite is not None:
            clone.overwrite = overwrite
        return clone

    def as_mount(self) -> DataReference:
        """A copy of this reference in mount mode."""
        return self._clone("mount", None, None)

    def as_download(
        self, path_on_compute: str | None = None, overwrite: bool | None = None
    ) -> DataReference:
        """A copy of this reference in download mode."""
        return self._clone("download", path_on_compute, overwrite)

    def as_upload(
        self, path_on_compute: str | None = None, overwrite: bool | None = None
    ) -> DataReference:
        """A copy of this reference in upload mode."""
        return self._clone("upload", path_on_compute, overwrite)

    def path(
        self, path: str | None = None, data_reference_name: str | None = None
    ) -> DataReference:
        """A reference to ``path`` below this one."""
        base = (self.path_on_datastore or "").rstrip("/")
        joined = f"{base}/{(path or '').lstrip('/')}" if base else path
        return DataReference(
            self.datastore,
            data_reference_name,
            joined,
            self.mode,
            self.path_on_compute,
            self.overwrite,
        )

    def __str__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name}"

    def __repr__(self) -> str:
        return (
            f"DataReference(datastore='{self.datastore_name}', "
            f"path_on_datastore='{self.path_on_datastore}', mode='{self.mode}')"
        )
