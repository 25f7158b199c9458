"""Reading tabular files into Arrow: CSV, Parquet and JSON lines, whole or streamed.

Whole-file reads use pyarrow's multi-threaded readers (the fast path); streamed reads
yield record batches so a filtered dataset (a sample, one half of a split) is read in
bounded memory. The schema is decided once, before any row is read, so every file and
every batch agrees on it: from the first rows of the dataset for delimited files
(``delimited``), from the first file for Parquet and JSON lines. A value that does not
fit its column's type becomes null (``on_error='null'``, the original SDK's default)
or raises ``DataFormatError``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dataferry.data.arrow_input import opened_input
from dataferry.data.coercion import arrow_type, coerce_columns, set_batch_column
from dataferry.data.delimited import CsvReader
from dataferry.errors import DataFormatError, DatasetValidationError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from dataferry.data.sources import ResolvedFile

log = logging.getLogger(__name__)

_JSON_BLOCK_BYTES = 16 << 20  # a JSON line must fit in one block; no retry there
_SAMPLE_BLOCK_BYTES = 1 << 20


# -- Parquet and JSON lines -----------------------------------------------------------


class _ConformingReader:
    """What the Parquet and JSON-lines readers share: casting to the dataset schema."""

    def __init__(
        self,
        files: Sequence[ResolvedFile],
        fmt: Mapping[str, Any],
        on_error: str = "null",
    ) -> None:
        self.files = files
        self.fmt = fmt
        self.on_error = on_error
        self._schema: pa.Schema | None = None

    def _conform(
        self, table: Any, schema: pa.Schema, f: ResolvedFile, first_row: int = 0
    ) -> Any:
        return _conform(table, schema, f, self.fmt, self.on_error, first_row)


class ParquetReader(_ConformingReader):
    """Reads Parquet files; the first file's schema (plus set_column_types) rules."""

    def schema(self) -> pa.Schema:
        """The dataset's schema."""
        import pyarrow.parquet as pq

        if self._schema is None:
            try:
                with opened_input(self.files[0]) as source:
                    schema = pq.read_schema(source)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataFormatError(
                    f"{self.files[0].display}: not a Parquet file: {exc}"
                ) from exc
            self._schema = _with_types(schema, self.fmt)
        return self._schema

    def tables(self, *, streaming: bool) -> Iterator[tuple[ResolvedFile, Any]]:
        """``(file, chunk)`` for every file in order: whole tables, or record batches."""
        import pyarrow.parquet as pq

        schema = self.schema()
        for f in self.files:
            try:
                if streaming:
                    first_row = 0
                    with opened_input(f) as source:
                        for batch in pq.ParquetFile(source).iter_batches(
                            batch_size=65536
                        ):
                            yield f, self._conform(batch, schema, f, first_row)
                            first_row += batch.num_rows
                else:
                    with opened_input(f) as source:
                        table = pq.read_table(source)
                    yield f, self._conform(table, schema, f)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataFormatError(
                    f"{f.display}: cannot read as Parquet: {exc}"
                ) from exc


class JsonLinesReader(_ConformingReader):
    """Reads JSON-lines files with one schema, inferred from the first file."""

    def __init__(
        self,
        files: Sequence[ResolvedFile],
        fmt: Mapping[str, Any],
        on_error: str = "null",
    ) -> None:
        super().__init__(files, fmt, on_error)
        # what the JSON holds (as inferred); pyarrow's JSON parser cannot convert types,
        # so set_column_types are applied by casting afterwards
        self._parsed: pa.Schema | None = None

    def _read(
        self, f: ResolvedFile, schema: pa.Schema | None, block: int = _JSON_BLOCK_BYTES
    ) -> Any:
        import pyarrow.json as pajson

        parse = pajson.ParseOptions(
            explicit_schema=schema,
            unexpected_field_behavior="ignore" if schema else "infer",
        )
        with opened_input(f) as source:
            return pajson.read_json(
                source,
                read_options=pajson.ReadOptions(block_size=block),
                parse_options=parse,
            )

    def schema(self) -> pa.Schema:
        """The dataset's schema."""
        if self._schema is None:
            f = self.files[0]
            try:
                import pyarrow.json as pajson

                with opened_input(f) as source:
                    reader = pajson.open_json(
                        source,
                        read_options=pajson.ReadOptions(block_size=_SAMPLE_BLOCK_BYTES),
                    )
                    schema = reader.schema
            except pa.ArrowInvalid as exc:
                raise DataFormatError(f"{f.display}: not JSON lines: {exc}") from exc
            self._schema = _with_types(schema, self.fmt)
            self._parsed = schema
        return self._schema

    def tables(self, *, streaming: bool) -> Iterator[tuple[ResolvedFile, Any]]:
        """``(file, chunk)`` for every file in order: whole tables, or record batches."""
        import pyarrow.json as pajson

        schema = self.schema()
        parsed = self._parsed
        for f in self.files:
            try:
                if streaming:
                    with opened_input(f) as source:
                        reader = pajson.open_json(
                            source,
                            read_options=pajson.ReadOptions(
                                block_size=_JSON_BLOCK_BYTES
                            ),
                            parse_options=pajson.ParseOptions(
                                explicit_schema=parsed,
                                unexpected_field_behavior="ignore",
                            ),
                        )
                        first_row = 0
                        for b in reader:
                            yield f, self._conform(b, schema, f, first_row)
                            first_row += b.num_rows
                else:
                    yield f, self._conform(self._read(f, parsed), schema, f)
            except pa.ArrowInvalid as exc:
                raise DataFormatError(
                    f"{f.display}: cannot read as JSON lines: {exc}"
                ) from exc


def _with_types(schema: pa.Schema, fmt: Mapping[str, Any]) -> pa.Schema:
    types = fmt.get("set_column_types", {})
    missing = [c for c in types if c not in schema.names]
    if missing:
        raise DatasetValidationError(
            f"set_column_types names column(s) {missing} that the data lacks; columns: {schema.names}"
        )
    return pa.schema(
        [
            (f.name, arrow_type(types[f.name]["type"]) if f.name in types else f.type)
            for f in schema
        ]
    )


_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError)


def _conform(
    table: Any,
    schema: pa.Schema,
    f: ResolvedFile,
    fmt: Mapping[str, Any],
    on_error: str,
    first_row: int = 0,
) -> Any:
    """``table`` with the dataset's columns and types (``first_row``: offset in ``f``).

    A value that does not cast becomes null (``on_error='null'``) or raises a
    ``DataFormatError`` naming the file, the 1-based row and the column.
    """
    if table.schema.equals(schema):
        return table
    missing = [n for n in schema.names if n not in table.schema.names]
    if missing:
        raise DataFormatError(
            f"{f.display}: lacks column(s) {missing} that the first file has"
        )
    table = table.select(schema.names)
    try:
        return table.cast(schema)
    except _CAST_ERRORS as exc:
        error = exc
    bad = [fld for fld in schema if not _casts(table.column(fld.name), fld.type)]
    if not bad:
        raise DataFormatError(
            f"{f.display}: columns do not match the dataset's types: {error}"
        ) from error
    if on_error == "fail":
        name, target = bad[0].name, bad[0].type
        row, value = _first_bad_value(table.column(name), target)
        raise DataFormatError(
            f"{f.display}: row {first_row + row}, column '{name}': value {value!r} is "
            f"not {target}; fix the file, or read the column as text with "
            f"set_column_types={{'{name}': DataType.to_string()}}"
        ) from error
    for fld in bad:
        index = schema.get_field_index(fld.name)
        try:
            text = table.column(fld.name).cast(pa.string())
        except _CAST_ERRORS as exc:  # nested values: no text to parse
            raise DataFormatError(
                f"{f.display}: column '{fld.name}' ({table.column(fld.name).type}) "
                f"cannot be read as {fld.type}"
            ) from exc
        log.warning(
            "%s: column '%s' has values that are not %s; they become null",
            f.display,
            fld.name,
            fld.type,
        )
        if isinstance(table, pa.Table):
            table = table.set_column(index, fld.name, text)
        else:
            table = set_batch_column(table, index, fld.name, text)
    types = fmt.get("set_column_types", {})
    return coerce_columns(table, schema, {fld.name for fld in bad}, types).cast(schema)


def _casts(column: Any, target: pa.DataType) -> bool:
    try:
        column.cast(target)
    except _CAST_ERRORS:
        return False
    return True


def _first_bad_value(column: Any, target: pa.DataType) -> tuple[int, Any]:
    """The 1-based row and the value of the first element that does not cast."""
    for row, value in enumerate(column.to_pylist(), start=1):
        if value is None:
            continue
        if not _casts(pa.array([value], type=column.type), target):
            return row, value
    return 0, None


READERS: dict[str, type[CsvReader] | type[ParquetReader] | type[JsonLinesReader]] = {
    "delimited": CsvReader,
    "parquet": ParquetReader,
    "json_lines": JsonLinesReader,
}
