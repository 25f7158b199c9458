"""A tabular dataset's records file by file, for work that must not mix two files
(a ParallelRunStep's mini-batches never span two source files)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dataferry.data import transforms as tf
from dataferry.data.tabular_dataset import with_extra_columns

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dataferry.data.tabular_dataset import TabularDataset

# a column naming each row's source file while the transforms run; no dataset has it
_FILE_COLUMN = "__dataferry_source_file__"


def tables_by_file(dataset: TabularDataset) -> Iterator[tuple[str, pa.Table]]:
    """``(file, records)`` for each source file, in order, with the dataset's
    transforms applied to the whole stream (``take(5)`` keeps 5 rows in all).

    A file the transforms leave no row of is not yielded.

    Raises:
        PathNotFoundError, DataFormatError: as ``to_arrow``.
    """
    reader = dataset._reader()
    fmt = dataset._definition["format"]
    names = [f.display for f in reader.files]
    index = {id(f): i for i, f in enumerate(reader.files)}

    def tagged() -> Iterator[Any]:
        for f, chunk in reader.tables(streaming=False):
            chunk = with_extra_columns(chunk, f, fmt)
            tag = pa.array([index[id(f)]] * chunk.num_rows, pa.int32())
            yield chunk.append_column(_FILE_COLUMN, tag)

    transforms = [_keeping_tag(t) for t in dataset._definition.get("transforms", [])]
    pending: list[pa.Table] = []
    current = -1
    for chunk in tf.apply(tagged(), transforms):
        table = chunk if isinstance(chunk, pa.Table) else pa.Table.from_batches([chunk])
        for file_no, part in _runs(table):
            if file_no != current and pending:
                yield names[current], pa.concat_tables(pending)
                pending = []
            current = file_no
            pending.append(part)
    if pending:
        yield names[current], pa.concat_tables(pending)


def _keeping_tag(transform: dict[str, Any]) -> dict[str, Any]:
    """``keep_columns`` keeps the file column too; other transforms as they are."""
    if transform["op"] != "keep_columns":
        return transform
    return {**transform, "columns": [*transform["columns"], _FILE_COLUMN]}


def _runs(table: pa.Table) -> Iterator[tuple[int, pa.Table]]:
    """The table cut where the file column changes, without the column."""
    tags = table.column(_FILE_COLUMN).to_pylist()
    body = table.drop_columns([_FILE_COLUMN])
    start = 0
    for i in range(1, len(tags) + 1):
        if i == len(tags) or tags[i] != tags[start]:
            yield tags[start], body.slice(start, i - start)
            start = i
