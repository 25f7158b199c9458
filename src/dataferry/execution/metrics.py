"""Metrics as ``get_metrics()`` returns them: the original SDK's shapes (B.13).

A metric is a series of logged values. One stored value comes back bare, several as a
list: ``log`` once gives the scalar, n times a list; ``log_list([a, b])`` gives
``[a, b]`` but ``log_list([a])`` gives ``a``; rows (``log_row``, ``log_table``) come
back as ``{col: value}`` for one row and ``{col: [values]}`` for several; an
artifact-backed metric (``log_image``, ``log_confusion_matrix``...) as its URI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence


class MetricRecord(Protocol):
    """One logged value, as the catalog record and the read model's view both give it."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> Any: ...


def _unwrap(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


def _columns(recs: Sequence[MetricRecord]) -> dict[str, Any]:
    columns: dict[str, list[Any]] = {}
    for r in recs:
        if r.kind == "row":
            for col, v in r.value.items():
                columns.setdefault(col, []).append(v)
        else:  # a table: a dict of column lists
            for col, vs in r.value.items():
                columns.setdefault(col, []).extend(vs)
    return {col: _unwrap(vs) for col, vs in columns.items()}


def metrics_dict(
    records: Sequence[MetricRecord], name: str | None = None
) -> dict[str, Any]:
    """``{name: value}`` in the original SDK's shapes (see the module docstring)."""
    grouped: dict[str, list[MetricRecord]] = {}
    for rec in records:
        if name is None or rec.name == name:
            grouped.setdefault(rec.name, []).append(rec)
    out: dict[str, Any] = {}
    for key, recs in grouped.items():
        kind = recs[0].kind
        if kind in ("scalar", "artifact"):  # an artifact's value is its aml:// URI
            out[key] = _unwrap([r.value for r in recs])
        elif kind == "list":
            out[key] = _unwrap([v for r in recs for v in r.value])
        else:  # row, table
            out[key] = _columns(recs)
    return out
