"""Data layer: workspaces, datastores, data paths and lazy dataset definitions.

The names are loaded on first use: importing one light module of this package (as the
pipeline layer does) must not load the catalog, storage and pyarrow that the dataset
and workspace classes bring with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry._lazy import lazy_exports

if TYPE_CHECKING:
    from dataferry.data.abstract_dataset import AbstractDataset as AbstractDataset
    from dataferry.data.column_types import DataType as DataType
    from dataferry.data.consumption import (
        DatasetConsumptionConfig as DatasetConsumptionConfig,
    )
    from dataferry.data.datapath import DataPath as DataPath
    from dataferry.data.datapath import (
        DataPathComputeBinding as DataPathComputeBinding,
    )
    from dataferry.data.datapath import DataReference as DataReference
    from dataferry.data.dataset_factory import Dataset as Dataset
    from dataferry.data.dataset_factory import FileDatasetFactory as FileDatasetFactory
    from dataferry.data.dataset_factory import (
        TabularDatasetFactory as TabularDatasetFactory,
    )
    from dataferry.data.datastore import AzureBlobDatastore as AzureBlobDatastore
    from dataferry.data.datastore import (
        AzureDataLakeGen2Datastore as AzureDataLakeGen2Datastore,
    )
    from dataferry.data.datastore import AzureFileDatastore as AzureFileDatastore
    from dataferry.data.datastore import Datastore as Datastore
    from dataferry.data.datastore import FsspecDatastore as FsspecDatastore
    from dataferry.data.datastore import LocalDatastore as LocalDatastore
    from dataferry.data.file_dataset import FileDataset as FileDataset
    from dataferry.data.mount import MountContext as MountContext
    from dataferry.data.tabular_dataset import TabularDataset as TabularDataset
    from dataferry.data.workspace import Workspace as Workspace

_LAZY = {
    "AbstractDataset": "dataferry.data.abstract_dataset",
    "AzureBlobDatastore": "dataferry.data.datastore",
    "AzureDataLakeGen2Datastore": "dataferry.data.datastore",
    "AzureFileDatastore": "dataferry.data.datastore",
    "DataPath": "dataferry.data.datapath",
    "DataPathComputeBinding": "dataferry.data.datapath",
    "DataReference": "dataferry.data.datapath",
    "DataType": "dataferry.data.column_types",
    "Dataset": "dataferry.data.dataset_factory",
    "DatasetConsumptionConfig": "dataferry.data.consumption",
    "Datastore": "dataferry.data.datastore",
    "FileDataset": "dataferry.data.file_dataset",
    "FileDatasetFactory": "dataferry.data.dataset_factory",
    "FsspecDatastore": "dataferry.data.datastore",
    "LocalDatastore": "dataferry.data.datastore",
    "MountContext": "dataferry.data.mount",
    "TabularDataset": "dataferry.data.tabular_dataset",
    "TabularDatasetFactory": "dataferry.data.dataset_factory",
    "Workspace": "dataferry.data.workspace",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
