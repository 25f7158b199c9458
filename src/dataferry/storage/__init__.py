"""Storage layer: datastores over fsspec (open, list, glob, transfer, signatures)."""

from dataferry.storage.location import FileSignature, StorageLocation
from dataferry.storage.secrets import SecretStore
from dataferry.storage.spec import (
    KINDS,
    DatastoreSpec,
    open_location,
    validate_datastore_name,
)

__all__ = [
    "KINDS",
    "DatastoreSpec",
    "FileSignature",
    "SecretStore",
    "StorageLocation",
    "open_location",
    "validate_datastore_name",
]
