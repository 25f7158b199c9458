"""Data layer: workspaces, datastores, data paths and lazy dataset definitions."""

from dataferry.data.abstract_dataset import AbstractDataset
from dataferry.data.column_types import DataType
from dataferry.data.consumption import DatasetConsumptionConfig
from dataferry.data.datapath import DataPath, DataPathComputeBinding, DataReference
from dataferry.data.dataset_factory import (
    Dataset,
    FileDatasetFactory,
    TabularDatasetFactory,
)
from dataferry.data.datastore import (
    AzureBlobDatastore,
    AzureDataLakeGen2Datastore,
    AzureFileDatastore,
    Datastore,
    FsspecDatastore,
    LocalDatastore,
)
from dataferry.data.file_dataset import FileDataset
from dataferry.data.mount import MountContext
from dataferry.data.tabular_dataset import TabularDataset
from dataferry.data.workspace import Workspace

__all__ = [
    "AbstractDataset",
    "AzureBlobDatastore",
    "AzureDataLakeGen2Datastore",
    "AzureFileDatastore",
    "DataPath",
    "DataPathComputeBinding",
    "DataReference",
    "DataType",
    "Dataset",
    "DatasetConsumptionConfig",
    "Datastore",
    "FileDataset",
    "FileDatasetFactory",
    "FsspecDatastore",
    "LocalDatastore",
    "MountContext",
    "TabularDataset",
    "TabularDatasetFactory",
    "Workspace",
]
