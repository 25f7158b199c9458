"""A tabular dataset version's per-column profile, computed on demand and cached.

Per column: its arrow type, how many values and nulls, min and max of numbers and
dates, the most frequent values of text. The data is read in record batches (bounded
memory, but every row). The profile is kept as JSON under
``<workspace>/cache/profiles/<key>.json``, ``key`` hashed from the saved definition's
fingerprint and the size, time and identity of every file it reads: a new version (a
new definition, or new bytes under the same one) gets a new profile.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

from dataferry.errors import DatasetPreviewError
from dataferry.execution.views.datasets import get_dataset, json_cell

if TYPE_CHECKING:
    from pathlib import Path

    import pyarrow as pa

    from dataferry.data import TabularDataset
    from dataferry.data.workspace import Workspace

__all__ = ["TOP_VALUES", "dataset_profile", "profile_path"]

TOP_VALUES = 5  # the most frequent values shown per text column


def dataset_profile(
    workspace: Workspace, name: str, version: int | str = "latest"
) -> dict[str, Any]:
    """``{"name", "version", "rows", "cached", "columns": [{"name", "type", "count",
    "nulls", "min", "max", "top": [[value, count], ...]}]}`` of a tabular version;
    ``cached`` says whether it was read from the cache rather than computed now.

    Raises:
        DatasetPreviewError: the dataset is a file dataset (it has no columns).
        DatasetNotFoundError, InvalidVersionError: no such dataset or version.
        PathNotFoundError, DataFormatError: its data cannot be read.
    """
    from dataferry.data import TabularDataset

    ds = get_dataset(workspace, name, version)
    if not isinstance(ds, TabularDataset):
        raise DatasetPreviewError(
            f"dataset '{name}' version {ds.version} is a file dataset: it has no "
            "columns to profile; its schema gives its file count and size."
        )
    path = profile_path(workspace, ds)
    cached = _read_cached(path)
    if cached is not None:
        return {**cached, "cached": True}
    profile = {"name": name, "version": ds.version, **_compute(ds)}
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    part.write_text(json.dumps(profile), encoding="utf-8")
    os.replace(part, path)  # two servers profiling at once: either whole file wins
    return {**profile, "cached": False}


def _read_cached(path: Path) -> dict[str, Any] | None:
    """The profile cached at ``path``; None when there is none or it is not one (a
    file damaged or cut short outside this module: it is computed again)."""
    try:
        found = json.loads(path.read_bytes())
    except (OSError, ValueError):  # missing, undecodable or not JSON
        return None
    if not isinstance(found, dict) or not found.keys() >= _KEYS:
        return None
    return found


_KEYS = frozenset({"name", "version", "rows", "columns"})


def profile_path(workspace: Workspace, ds: TabularDataset) -> Path:
    """Where the profile of ``ds`` is cached (see the module docstring)."""
    assert ds.id is not None  # a registered dataset has a saved definition
    digest = hashlib.sha256(workspace.catalog.get_dataset(ds.id).fingerprint.encode())
    for f in ds._source_files():
        sig = f.location.signature(f.full)
        digest.update(f"\0{sig.path}\0{sig.size}\0{sig.mtime_ns}\0{sig.etag}".encode())
    return workspace.path / "cache" / "profiles" / f"{digest.hexdigest()}.json"


def _compute(ds: TabularDataset) -> dict[str, Any]:
    stats: dict[str, _Column] = {}
    rows = 0
    for batch in ds.to_record_batches():
        rows += batch.num_rows
        for field, array in zip(batch.schema, batch.columns, strict=True):
            stats.setdefault(field.name, _Column(str(field.type))).add(array)
    if not stats:  # no batch: the empty table still has its columns
        for field in ds.to_arrow().schema:
            stats[field.name] = _Column(str(field.type))
    return {"rows": rows, "columns": [s.summary(n) for n, s in stats.items()]}


class _Column:
    """One column's running counts over the batches."""

    def __init__(self, type_name: str) -> None:
        self.type = type_name
        self.count = 0
        self.nulls = 0
        self.low: Any = None
        self.high: Any = None
        self.values: Counter[str] | None = None

    def add(self, array: pa.Array) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        self.nulls += array.null_count
        self.count += len(array) - array.null_count
        kind = array.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            self.values = self.values or Counter()
            self.values.update(v for v in array.to_pylist() if v is not None)
        elif _ordered(kind) and len(array) > array.null_count:
            bounds = pc.min_max(array).as_py()
            for key in ("min", "max"):
                if bounds[key] is not None:
                    self._widen(key, bounds[key])

    def _widen(self, key: str, value: Any) -> None:
        if isinstance(value, float) and value != value:  # NaN orders with nothing
            return
        if key == "min":
            self.low = value if self.low is None else min(self.low, value)
        else:
            self.high = value if self.high is None else max(self.high, value)

    def summary(self, name: str) -> dict[str, Any]:
        top = self.values.most_common(TOP_VALUES) if self.values else []
        return {
            "name": name,
            "type": self.type,
            "count": self.count,
            "nulls": self.nulls,
            "min": json_cell(self.low),
            "max": json_cell(self.high),
            "top": [[v, n] for v, n in top],
        }


def _ordered(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_temporal(kind)
    )
