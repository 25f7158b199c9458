"""Metrics as ``get_metrics()`` returns them: the original SDK's shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataferry.catalog.run_store import MetricRecord


def metrics_dict(records: Sequence[MetricRecord], name: str | None = None) -> dict[str, Any]:
    """``{name: value}``: a scalar logged once is the value, n times a list; rows become
    ``{col: [..]}``; lists and tables as logged."""
    grouped: dict[str, list[MetricRecord]] = {}
    for rec in records:
        if name is None or rec.name == name:
            grouped.setdefault(rec.name, []).append(rec)
    out: dict[str, Any] = {}
    for key, recs in grouped.items():
        kind = recs[0].kind
        if kind == "scalar":
            values = [r.value for r in recs]
            out[key] = values[0] if len(values) == 1 else values
        elif kind == "row":
            if len(recs) == 1:
                out[key] = dict(recs[0].value)
            else:
                columns: dict[str, list[Any]] = {}
                for r in recs:
                    for col, v in r.value.items():
                        columns.setdefault(col, []).append(v)
                out[key] = columns
        else:  # list, table: the last logged value
            out[key] = recs[-1].value
    return out
