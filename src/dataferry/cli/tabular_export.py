"""Writing a tabular dataset's records to one local CSV or Parquet file, streamed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import DataFormatError, StorageError, TargetExistsError

if TYPE_CHECKING:
    from dataferry.data import TabularDataset

FORMATS = ("csv", "parquet")


def choose_format(target: Path, fmt: str | None) -> str:
    """``fmt`` if given, else ``csv`` for a ``.csv`` target, else ``parquet``."""
    if fmt is not None:
        return fmt
    return "csv" if target.suffix.lower() == ".csv" else "parquet"


def write_records(
    ds: TabularDataset, target: str, *, fmt: str | None, overwrite: bool
) -> tuple[Path, int]:
    """Write every record of ``ds`` to ``target``; return the file and the count.

    The file is written beside the target and renamed when complete, so an interrupted
    download never leaves a half file under the target's name. A folder as ``target``
    (an existing one, or a path ending in ``/``) gets ``<dataset name>.<format>`` in it.

    Raises:
        TargetExistsError: the file exists and ``overwrite`` is False.
        StorageError: the file cannot be written.
        DataFormatError: the source files' columns do not agree.
    """
    path = Path(target)
    if target.endswith(("/", os.sep)) or path.is_dir():
        fmt = fmt or "parquet"
        path = path / f"{ds.name or 'dataset'}.{fmt}"
    return path, _write_file(ds, path, choose_format(path, fmt), overwrite=overwrite)


def _write_file(ds: TabularDataset, target: Path, fmt: str, *, overwrite: bool) -> int:
    if target.exists() and not overwrite:
        raise TargetExistsError(
            f'File "{target}" already exists. Pass --overwrite to replace it.'
        )
    partial = target.with_name(f".{target.name}.part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        rows = _write(ds, partial, fmt)
        os.replace(partial, target)
    except OSError as exc:
        if isinstance(
            exc, StorageError
        ):  # reading the dataset failed: already explained
            raise
        raise StorageError(f"cannot write {target}: {exc}") from exc
    finally:
        if partial.exists():
            partial.unlink()
    return rows


def _write(ds: TabularDataset, path: Path, fmt: str) -> int:
    import pyarrow as pa

    writer: Any = None
    schema: Any = None
    rows = 0
    try:
        for batch in ds.to_record_batches():
            if writer is None:
                schema = batch.schema
                writer = _open_writer(path, fmt, schema)
            table = pa.Table.from_batches([batch])
            if table.schema != schema:
                table = _conform(table, schema)
            writer.write_table(table)
            rows += batch.num_rows
        if writer is None:  # no records: still write the columns
            empty = ds.to_arrow()
            writer = _open_writer(path, fmt, empty.schema)
            writer.write_table(empty)
    finally:
        if writer is not None:
            writer.close()
    return rows


def _open_writer(path: Path, fmt: str, schema: Any) -> Any:
    if fmt == "csv":
        import pyarrow.csv as pacsv

        return pacsv.CSVWriter(str(path), schema)
    import pyarrow.parquet as pq

    return pq.ParquetWriter(str(path), schema)


def _conform(table: Any, schema: Any) -> Any:
    import pyarrow as pa

    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, KeyError) as exc:
        raise DataFormatError(
            f"the dataset's files do not share one set of columns ({exc}); "
            f"expected {schema.names}, found {table.schema.names}."
        ) from exc
