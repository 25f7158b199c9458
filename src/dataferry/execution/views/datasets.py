"""Registered datasets as the page and the CLI show them: the list, a dataset's
versions, a version's schema and a preview of its first rows.

Lineage is ``dataferry.data.dataset_lineage`` (``Dataset.get_lineage()`` reads it too)
and the profile ``views.dataset_profile``; both are re-exported by this package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from dataferry.errors import DatasetPreviewError

if TYPE_CHECKING:
    from dataferry.data import AbstractDataset
    from dataferry.data.workspace import Workspace

__all__ = [
    "MAX_PREVIEW_ROWS",
    "DatasetSchema",
    "DatasetSummary",
    "DatasetVersionView",
    "dataset_preview",
    "dataset_schema",
    "dataset_versions",
    "get_dataset",
    "json_cell",
    "list_datasets",
]

DEFAULT_PREVIEW_ROWS = 20
MAX_PREVIEW_ROWS = 1000  # a preview is for a page: more rows belong in a download


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    """A registered dataset by its latest version; ``kind`` is Tabular or File."""

    name: str
    latest_version: int
    kind: str
    description: str | None
    created_at: datetime | None


@dataclass(frozen=True, slots=True)
class DatasetVersionView:
    """One registered version; ``producer_step_run_id`` made it (None: by hand)."""

    name: str
    version: int
    dataset_id: str
    description: str | None
    tags: dict[str, str]
    created_at: datetime | None
    producer_step_run_id: str | None


@dataclass(frozen=True, slots=True)
class DatasetSchema:
    """A version's shape: ``columns`` (name, arrow type) of a tabular dataset, or
    ``file_count`` and ``total_bytes`` of a file dataset."""

    name: str
    version: int
    kind: str
    columns: tuple[tuple[str, str], ...] | None
    file_count: int | None
    total_bytes: int | None


def get_dataset(workspace: Workspace, name: str, version: int | str) -> AbstractDataset:
    """Dataset ``name`` at ``version`` (a number, its text, or ``'latest'``).

    Raises:
        DatasetNotFoundError: no such name or version.
        InvalidVersionError: ``version`` is neither a positive number nor 'latest'.
    """
    from dataferry.data import Dataset

    return Dataset.get_by_name(workspace, name, version=version)


def _kind(ds: AbstractDataset) -> str:
    return type(ds).__name__.removesuffix("Dataset")


def list_datasets(workspace: Workspace) -> list[DatasetSummary]:
    """Every registered dataset by name, with its latest version."""
    kinds = {"tabular": "Tabular", "file": "File"}
    return [
        DatasetSummary(
            r.name,
            r.version,
            kinds.get(workspace.catalog.get_dataset(r.dataset_id).kind, "File"),
            r.description,
            r.created_at,
        )
        for r in sorted(workspace.catalog.latest_versions(), key=lambda r: r.name)
    ]


def dataset_versions(workspace: Workspace, name: str) -> list[DatasetVersionView]:
    """Every version of dataset ``name``, oldest first.

    Raises:
        DatasetNotFoundError: no dataset has that name.
    """
    records = workspace.catalog.list_versions(name)
    if not records:
        workspace.catalog.get_version(name)  # raises, with a suggestion
    return [
        DatasetVersionView(
            r.name,
            r.version,
            r.dataset_id,
            r.description,
            dict(r.tags),
            r.created_at,
            r.producer_step_run_id,
        )
        for r in records
    ]


def dataset_schema(
    workspace: Workspace, name: str, version: int | str = "latest"
) -> DatasetSchema:
    """The columns of a tabular version (from its first batch), or a file version's
    file count and total size.

    Raises:
        DatasetNotFoundError, InvalidVersionError: as ``get_dataset``.
        PathNotFoundError, DataFormatError: its data cannot be read.
    """
    from dataferry.data import FileDataset, TabularDataset

    ds = get_dataset(workspace, name, version)
    assert ds.version is not None  # got by name: registered
    if isinstance(ds, FileDataset):
        files = ds._files()
        size = sum(f.location.signature(f.full).size for f in files)
        return DatasetSchema(name, ds.version, "File", None, len(files), size)
    assert isinstance(ds, TabularDataset)  # the only other kind
    schema = ds.take(1).to_arrow().schema
    columns = tuple((f.name, str(f.type)) for f in schema)
    return DatasetSchema(name, ds.version, "Tabular", columns, None, None)


def check_rows(rows: int) -> int:
    """``rows`` if a preview may show that many.

    Raises:
        DatasetPreviewError: not 1 to ``MAX_PREVIEW_ROWS``.
    """
    if isinstance(rows, bool) or not isinstance(rows, int):
        raise DatasetPreviewError(f"rows must be a whole number, not {rows!r}")
    if not 1 <= rows <= MAX_PREVIEW_ROWS:
        raise DatasetPreviewError(
            f"rows={rows} is out of range; a preview shows 1 to {MAX_PREVIEW_ROWS} rows "
            "(download the dataset for more)."
        )
    return rows


def dataset_preview(
    workspace: Workspace,
    name: str,
    version: int | str = "latest",
    rows: int = DEFAULT_PREVIEW_ROWS,
) -> dict[str, Any]:
    """The first ``rows`` records of a tabular version: ``{"name", "version",
    "columns": [[name, type], ...], "rows": [[cell, ...], ...]}``, cells JSON-safe.

    Raises:
        DatasetPreviewError: ``rows`` is not 1 to 1,000, or the dataset is a file
            dataset (it has no rows: see its schema).
        DatasetNotFoundError, InvalidVersionError: as ``get_dataset``.
    """
    from dataferry.data import TabularDataset

    check_rows(rows)
    ds = get_dataset(workspace, name, version)
    if not isinstance(ds, TabularDataset):
        raise DatasetPreviewError(
            f"dataset '{name}' version {ds.version} is a file dataset: it has no rows "
            "to preview; its schema gives its file count and size."
        )
    table = ds.take(rows).to_arrow()
    return {
        "name": name,
        "version": ds.version,
        "columns": [[f.name, str(f.type)] for f in table.schema],
        "rows": [[json_cell(v) for v in row.values()] for row in table.to_pylist()],
    }


def json_cell(value: Any) -> Any:
    """``value`` as JSON carries it: NaN and infinities as None (JSON has neither),
    dates and times as ISO text, bytes and anything else as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)
