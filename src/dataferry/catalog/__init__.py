"""Catalog layer: the metadata database (datastores, datasets, runs, outputs, lineage)."""

from dataferry.catalog.records import DatasetRecord, DatasetVersionRecord
from dataferry.catalog.sql_catalog import SqlCatalog, fingerprint_of, now

__all__ = [
    "DatasetRecord",
    "DatasetVersionRecord",
    "SqlCatalog",
    "fingerprint_of",
    "now",
]
