"""TabularDataset: rows from CSV, Parquet or JSON-lines files, read through pyarrow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dataferry.data import transforms as tf
from dataferry.data.abstract_dataset import AbstractDataset
from dataferry.data.partitions import PartitionFormat
from dataferry.data.readers import READERS
from dataferry.data.whole_read import check_unchanged, read_whole
from dataferry.errors import DatasetValidationError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import pandas as pd

    from dataferry.data.sources import ResolvedFile

# transforms that read only part of the data: stream, so memory stays bounded
_STREAMED = frozenset({"take", "skip", "sample", "split"})


class TabularDataset(AbstractDataset):
    """Records from delimited, Parquet or JSON-lines files, as a lazy definition."""

    _kind = "tabular"

    # -- transforms -------------------------------------------------------------------

    def keep_columns(
        self, columns: str | Sequence[str], validate: bool = False
    ) -> TabularDataset:
        """Only the named columns (``validate=True``: fail if one is missing)."""
        names = [columns] if isinstance(columns, str) else list(columns)
        if validate:
            present = self._schema().names
            missing = [c for c in names if c not in present]
            if missing:
                raise DatasetValidationError(
                    f"keep_columns: no column(s) {missing}; the columns are {present}"
                )
        return self._derive({"op": "keep_columns", "columns": names})

    def drop_columns(self, columns: str | Sequence[str]) -> TabularDataset:
        """All columns but the named ones."""
        names = [columns] if isinstance(columns, str) else list(columns)
        return self._derive({"op": "drop_columns", "columns": names})

    # -- reading ----------------------------------------------------------------------

    def _reader(
        self, on_error: str = "null", files: list[ResolvedFile] | None = None
    ) -> Any:
        if on_error not in ("null", "fail"):
            raise ValueError(f"on_error must be 'null' or 'fail', not {on_error!r}")
        fmt = self._definition["format"]
        if files is None:
            files = self._source_files(check_urls=True)
        return READERS[fmt["type"]](files, fmt, on_error)

    def _schema(self) -> pa.Schema:
        reader = self._reader()
        schema = reader.schema()
        fmt = self._definition["format"]
        _check_added_columns(reader, fmt)
        extra = _extra_columns(reader.files[0], fmt)
        for name, value in extra.items():
            schema = schema.append(pa.field(name, pa.scalar(value).type))
        return schema

    def _chunks(
        self,
        files: list[ResolvedFile],
        *,
        on_error: str = "null",
        streaming: bool | None = None,
    ) -> Iterator[Any]:
        transforms = self._definition.get("transforms", [])
        if streaming is None:
            streaming = any(t["op"] in _STREAMED for t in transforms)
        reader = self._reader(on_error, files)
        fmt = self._definition["format"]
        if fmt.get("include_path") or fmt.get("partition_format"):
            _check_added_columns(reader, fmt)

        def chunks() -> Iterator[Any]:
            for f, chunk in reader.tables(streaming=streaming):
                yield with_extra_columns(chunk, f, fmt)

        return tf.apply(chunks(), transforms)

    def to_record_batches(self, on_error: str = "null") -> Iterator[pa.RecordBatch]:
        """Stream the records as Arrow record batches, in bounded memory.

        Raises the errors ``to_arrow`` raises, when the stream reaches them, and
        ``OutputChangedError`` at its end if an output it read from an object store
        was overwritten meanwhile (the batches may mix old and new files).
        """
        files = self._source_files(check_urls=True)
        for chunk in self._chunks(files, on_error=on_error, streaming=True):
            yield from (chunk.to_batches() if isinstance(chunk, pa.Table) else [chunk])
        check_unchanged(files, "streaming the dataset's records")

    def to_arrow(self, on_error: str = "null") -> pa.Table:
        """All records as one Arrow table.

        Raises:
            PathNotFoundError: a source path matches no file.
            DataFormatError: a file is malformed (the message names the file and row).
            DatasetValidationError: ``include_path`` or ``partition_format`` adds a
                column the data already has.
            OutputChangedError: an output on an object store was overwritten during
                each of the reads (a read that overlaps an overwrite is read again:
                the table holds the old output or the new one, never a mix).
        """
        return read_whole(
            lambda: self._source_files(check_urls=True),
            lambda files: self._table(files, on_error),
            "reading the dataset",
        )

    def _table(self, files: list[ResolvedFile], on_error: str) -> pa.Table:
        chunks = [
            c if isinstance(c, pa.Table) else pa.Table.from_batches([c])
            for c in self._chunks(files, on_error=on_error)
        ]
        if not chunks:
            schema = self._schema()
            names = tf.column_names(
                schema.names, self._definition.get("transforms", [])
            )
            return pa.schema([schema.field(n) for n in names]).empty_table()
        return chunks[0] if len(chunks) == 1 else pa.concat_tables(chunks)

    def to_pandas_dataframe(
        self, on_error: str = "null", out_of_range_datetime: str = "null"
    ) -> pd.DataFrame:
        """All records as a pandas DataFrame.

        ``on_error='null'`` turns values that do not fit their column's type into nulls;
        ``'fail'`` raises ``DataFormatError`` naming the file, row and column. Date
        columns come as ``datetime64``, as timestamps do.
        ``out_of_range_datetime='fail'`` raises on timestamps pandas cannot hold.
        """
        if out_of_range_datetime not in ("null", "fail"):
            raise ValueError(
                f"out_of_range_datetime must be 'null' or 'fail', not {out_of_range_datetime!r}"
            )
        table = self.to_arrow(on_error)
        try:
            # date_as_object=False: a date column is datetime64, as timestamps are
            return table.to_pandas(
                split_blocks=True, self_destruct=True, date_as_object=False
            )
        except pa.ArrowInvalid as exc:
            if out_of_range_datetime == "fail":
                raise DatasetValidationError(
                    f"a timestamp is out of pandas' range: {exc}"
                ) from exc
            return table.to_pandas(
                timestamp_as_object=False,
                coerce_temporal_nanoseconds=True,
                date_as_object=False,
            )

    def to_polars(self, on_error: str = "null") -> Any:
        """All records as a polars DataFrame (needs ``pip install polars``)."""
        try:
            import polars as pl
        except ImportError as exc:
            raise ImportError(
                "to_polars() needs polars: pip install 'dataferry[polars]'"
            ) from exc
        return pl.from_arrow(self.to_arrow(on_error))

    def _validate(self) -> None:
        """Check that the paths resolve and the first rows parse.

        A value that does not fit its column's type is not a validation failure: reading
        turns it into null (or fails) as ``on_error`` says, as in the original SDK.
        """
        reader = self._reader("null")
        if hasattr(reader, "check_separator"):
            reader.check_separator()
        fmt = self._definition["format"]
        _check_added_columns(reader, fmt)
        if fmt.get("partition_format"):
            for f in reader.files:
                _extra_columns(f, fmt)
        for _, chunk in reader.tables(streaming=True):
            _ = chunk.num_rows  # the first block parses
            break


def _check_added_columns(reader: Any, fmt: dict[str, Any]) -> None:
    """Fail if ``include_path`` or ``partition_format`` adds a column already there.

    The data's column is named with the file it comes from: the first file, or the
    reader's ``column_file`` where files have columns of their own.

    Raises:
        DatasetValidationError: the clash, and what to rename.
    """
    added: list[tuple[str, str, str]] = []  # (column, what adds it, what to do)
    if fmt.get("partition_format"):
        pattern = fmt["partition_format"]
        for name, _ in PartitionFormat(pattern).columns:
            fix = f"give it another name in partition_format, e.g. '{{{name}_part}}'"
            added.append((name, f"partition_format {pattern!r}", fix))
    if fmt.get("include_path"):
        fix = "rename that column, or read the files without include_path=True"
        added.append(("Path", "include_path=True", fix))
    column_file = getattr(reader, "column_file", lambda name: reader.files[0])
    present = {
        name: f"the data ({column_file(name).display})"
        for name in reader.schema().names
    }
    for name, source, fix in added:
        if name in present:
            raise DatasetValidationError(
                f"{source} adds a column '{name}', and {present[name]} has a column "
                f"'{name}' too; {fix}"
            )
        present[name] = source


def _extra_columns(f: ResolvedFile, fmt: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if fmt.get("partition_format"):
        extra.update(PartitionFormat(fmt["partition_format"]).values(f.display))
    if fmt.get("include_path"):
        extra["Path"] = f.display
    return extra


def with_extra_columns(chunk: Any, f: ResolvedFile, fmt: dict[str, Any]) -> Any:
    extra = _extra_columns(f, fmt)
    for name, value in extra.items():
        column = (
            pa.array([value] * chunk.num_rows)
            if chunk.num_rows
            else pa.array([], pa.scalar(value).type)
        )
        chunk = chunk.append_column(name, column)
    return chunk
