"""Pointers to data on a datastore: DataPath (for datasets) and DataReference."""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING

from dataferry.data.compute_path import check_path_on_compute

if TYPE_CHECKING:
    from dataferry.data.datastore import Datastore


class DataPath:
    """A path (or glob such as ``dir/**/*.csv``) on a datastore."""

    def __init__(
        self,
        datastore: Datastore | None = None,
        path_on_datastore: str | None = None,
        name: str | None = None,
    ) -> None:
        if datastore is None:
            raise ValueError(
                "DataPath needs a datastore: DataPath(datastore, 'path/on/it')"
            )
        self._datastore = datastore
        self._path = path_on_datastore or "/"
        self._name = name or f"{datastore.name}_{uuid.uuid4().hex[:8]}"

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

    def create_data_reference(
        self,
        data_reference_name: str | None = None,
        datapath_compute_binding: DataPathComputeBinding | None = None,
    ) -> DataReference:
        """A ``DataReference`` to the same place, with the binding's mode."""
        binding = datapath_compute_binding or DataPathComputeBinding()
        return DataReference(
            self._datastore,
            data_reference_name=data_reference_name or self._name,
            path_on_datastore=self._path,
            mode=binding.mode,
            path_on_compute=binding.path_on_compute,
            overwrite=binding.overwrite,
        )

    @staticmethod
    def create_from_data_reference(data_reference: DataReference) -> DataPath:
        """The ``DataPath`` a ``DataReference`` points at."""
        return DataPath(
            data_reference.datastore,
            data_reference.path_on_datastore,
            data_reference.data_reference_name,
        )

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
        datastore: Datastore,
        data_reference_name: str | None = None,
        path_on_datastore: str | None = None,
        mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool = False,
    ) -> None:
        if mode not in ("mount", "download", "upload"):
            raise ValueError(
                f"mode must be 'mount', 'download' or 'upload', not {mode!r}"
            )
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore
        has_path = path_on_datastore not in (None, "/", ".", "./")
        self.data_reference_name = data_reference_name or (
            uuid.uuid4().hex if has_path else datastore.name
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
