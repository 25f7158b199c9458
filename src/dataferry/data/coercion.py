"""Casting text columns to their type when pyarrow could not: bad values become null.

Shared by the delimited reader (a column that failed to convert is read again as text)
and the Parquet and JSON-lines readers (a column whose values do not cast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type for a normalised type name (see ``column_types.normalise``)."""
    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("ns"),
        "date": pa.date32(),
    }[name]


def coerce_columns(
    table: Any,
    schema: pa.Schema,
    columns: set[str],
    types: Mapping[str, Any] | None = None,
) -> Any:
    """Cast text columns to their schema type, with null where a value does not parse.

    ``types`` is the normalised ``set_column_types``: its timestamp formats are used, so
    a fallback parse reads ``02/01/2024`` with ``%d/%m/%Y`` exactly as pyarrow would.
    """
    import pandas as pd

    for name in columns:
        target = schema.field(name).type
        series = table.column(name).to_pandas()
        if pa.types.is_integer(target) or pa.types.is_floating(target):
            values = pd.to_numeric(series, errors="coerce")
            if pa.types.is_integer(target):
                values = values.where(values == values.round())
            array = pa.array(values, from_pandas=True).cast(target, safe=False)
        elif pa.types.is_timestamp(target) or pa.types.is_date(target):
            formats = (types or {}).get(name, {}).get("formats")
            parsed = _parse_datetimes(series, formats)
            array = pa.array(parsed, from_pandas=True).cast(target)
        elif pa.types.is_boolean(target):
            mapping = {"true": True, "false": False, "1": True, "0": False}
            array = pa.array(
                series.str.lower().map(mapping), type=pa.bool_(), from_pandas=True
            )
        else:
            array = table.column(name)
        index = table.schema.get_field_index(name)
        table = (
            table.set_column(index, name, array)
            if isinstance(table, pa.Table)
            else set_batch_column(table, index, name, array)
        )
    return table


def _parse_datetimes(series: Any, formats: Sequence[str] | None) -> Any:
    """Timestamps from text: the first of ``formats`` that parses, else ISO 8601."""
    import pandas as pd

    if not formats:
        return pd.to_datetime(series, errors="coerce", format="ISO8601")
    parsed = pd.to_datetime(series, errors="coerce", format=formats[0])
    for fmt in formats[1:]:
        parsed = parsed.fillna(pd.to_datetime(series, errors="coerce", format=fmt))
    return parsed


def set_batch_column(
    batch: pa.RecordBatch, index: int, name: str, array: Any
) -> pa.RecordBatch:
    arrays = list(batch.columns)
    arrays[index] = array
    names = list(batch.schema.names)
    return pa.RecordBatch.from_arrays(arrays, names=names)
