"""Row (or file) transforms applied lazily to a stream of Arrow tables.

Each transform is a JSON-able dict in a dataset's definition. They run over a stream of
chunks; every stage counts positions itself, so the result is the same for any chunking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from dataferry.errors import DatasetValidationError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

Transform = dict[str, Any]


class Chunk(Protocol):
    """What the stages need of a chunk: a pyarrow Table or RecordBatch, or a file list."""

    @property
    def num_rows(self) -> int: ...

    def slice(self, offset: int = 0, length: int | None = None) -> Any: ...

    def filter(self, mask: Any) -> Any: ...


C = TypeVar("C", bound=Chunk)

ROW_FILTERS = frozenset({"sample", "split"})


def _take(chunks: Iterator[C], count: int) -> Iterator[C]:
    left = count
    for chunk in chunks:
        if left <= 0:
            return
        if chunk.num_rows > left:
            chunk = chunk.slice(0, left)
        left -= chunk.num_rows
        yield chunk


def _skip(chunks: Iterator[C], count: int) -> Iterator[C]:
    left = count
    for chunk in chunks:
        if left >= chunk.num_rows:
            left -= chunk.num_rows
            continue
        if left:
            chunk = chunk.slice(left)
            left = 0
        yield chunk


def _select(chunks: Iterator[C], seed: int, purpose: str, keep: Any) -> Iterator[C]:
    position = 0
    for chunk in chunks:
        n = chunk.num_rows
        # imported here: a driver or a step that never samples loads no numpy
        from dataferry.data.sampling import draws

        u = draws(seed, purpose, position, n)
        position += n
        yield chunk.filter(keep(u))


def apply(chunks: Iterator[C], transforms: Sequence[Transform]) -> Iterator[C]:
    """Chain the transforms over ``chunks``; nothing is read until the result is iterated."""
    for t in transforms:
        op = t["op"]
        if op == "take":
            chunks = _take(chunks, t["count"])
        elif op == "skip":
            chunks = _skip(chunks, t["count"])
        elif op == "sample":
            p = t["probability"]
            chunks = _select(chunks, t["seed"], "sample", lambda u, p=p: u < p)
        elif op == "split":
            p = t["percentage"]
            if t["part"] == 0:
                chunks = _select(chunks, t["seed"], "split", lambda u, p=p: u < p)
            else:
                chunks = _select(chunks, t["seed"], "split", lambda u, p=p: u >= p)
        elif op in ("keep_columns", "drop_columns"):
            chunks = _columns(chunks, t)
        elif op == "where_equal":
            chunks = _where_equal(chunks, t["values"])
        else:  # a definition from a newer dataferry
            raise DatasetValidationError(
                f"unknown dataset transform {op!r}; upgrade dataferry"
            )
    return chunks


def _where_equal(chunks: Iterator[Any], values: dict[str, Any]) -> Iterator[Any]:
    """Rows whose columns equal ``values`` (a partition's key values)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for chunk in chunks:
        mask = pa.array([True] * chunk.num_rows)
        for column, value in values.items():
            mask = pc.and_(mask, pc.equal(chunk.column(column), value))
        yield chunk.filter(pc.fill_null(mask, False))


def _columns(chunks: Iterator[Any], t: Transform) -> Iterator[Any]:
    names = list(t["columns"])
    for chunk in chunks:
        present = chunk.schema.names
        missing = [c for c in names if c not in present]
        if missing and t["op"] == "keep_columns" and t.get("validate", False):
            raise DatasetValidationError(
                f"keep_columns: no column(s) {missing}; the columns are {present}"
            )
        if t["op"] == "keep_columns":
            yield chunk.select([c for c in names if c in present])
        else:
            yield chunk.select([c for c in present if c not in names])


def column_names(names: Sequence[str], transforms: Sequence[Transform]) -> list[str]:
    """The columns left after the column transforms, for previews and schemas."""
    out = list(names)
    for t in transforms:
        if t["op"] == "keep_columns":
            out = [c for c in t["columns"] if c in out]
        elif t["op"] == "drop_columns":
            out = [c for c in out if c not in t["columns"]]
    return out


class FileList:
    """A chunk of files, so file datasets reuse the row stages (a file is a row)."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = list(items)

    @property
    def num_rows(self) -> int:
        return len(self.items)

    def slice(self, offset: int = 0, length: int | None = None) -> FileList:
        end = None if length is None else offset + length
        return FileList(self.items[offset:end])

    def filter(self, mask: Any) -> FileList:
        import numpy as np  # here: listing files needs no numpy

        return FileList(
            [
                item
                for item, keep in zip(self.items, np.asarray(mask), strict=True)
                if keep
            ]
        )
