"""Reading tabular files into Arrow: CSV, Parquet and JSON lines, whole or streamed.

Whole-file reads use pyarrow's multi-threaded readers (the fast path); streamed reads
yield record batches so a filtered dataset (a sample, one half of a split) is read in
bounded memory. The schema is decided once, from the first file, so every file and
every batch agrees on it. A value that does not fit its column's type becomes null
(``on_error='null'``, the original SDK's default) or raises ``DataFormatError``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dataferry.data.column_types import arrow_type
from dataferry.errors import DataFormatError, DatasetValidationError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from dataferry.data.sources import ResolvedFile

log = logging.getLogger(__name__)

# Bytes pyarrow parses at a time: a task for one thread in a whole-file read, a
# record batch in a streamed one. The streaming reader reads and parses several blocks
# ahead, so a stream holds a few times this much: streaming one half of a split of an
# 800 MiB file peaked 700 MiB above the baseline with 16 MiB blocks, 100 MiB with 1 MiB
# (pyarrow's default). Whole-file reads take as long either way.
STREAM_BLOCK_BYTES = 1 << 20
# A row longer than a block fails with "straddling object"; the read then restarts
# with blocks 16 times larger, up to this (the old fixed size), so long rows still read.
_MAX_BLOCK_BYTES = 16 << 20
_JSON_BLOCK_BYTES = 16 << 20  # a JSON line must fit in one block; no retry there
_SAMPLE_BLOCK_BYTES = 1 << 20
_ENCODINGS = {
    "utf8": "utf8",
    "iso88591": "iso-8859-1",
    "latin1": "latin-1",
    "ascii": "ascii",
    "utf16": "utf-16",
    "utf32": "utf-32",
    "utf8bom": "utf-8-sig",
    "windows1252": "cp1252",
}
HEADER_MODES = (
    "ALL_FILES_HAVE_SAME_HEADERS",
    "NO_HEADERS",
    "ONLY_FIRST_FILE_HAS_HEADERS",
    "COMBINE_ALL_FILES_HEADERS",
)
_CONVERSION = re.compile(
    r"In CSV column #(\d+): .*CSV conversion error to (\S+): invalid value '(.*)'", re.S
)
_PARSE = re.compile(r"Expected (\d+) columns, got (\d+)")


def python_encoding(name: str) -> str:
    """The Python codec for one of the original SDK's encoding names.

    Raises:
        DatasetValidationError: the encoding is not one of them.
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in _ENCODINGS:
        raise DatasetValidationError(
            f"unknown encoding {name!r}; use one of {sorted(_ENCODINGS)}"
        )
    return _ENCODINGS[key]


def header_mode(header: bool | str) -> str:
    """``header=True/False`` or a ``PromoteHeadersBehavior`` name, as a mode name."""
    if header is True:
        return "ALL_FILES_HAVE_SAME_HEADERS"
    if header is False:
        return "NO_HEADERS"
    value = str(getattr(header, "value", header)).upper()
    if value not in HEADER_MODES:
        raise DatasetValidationError(
            f"header must be True, False or one of {HEADER_MODES}, not {header!r}"
        )
    return value


def _open_binary(f: ResolvedFile) -> Any:
    """What pyarrow reads from: the local path (fast, native I/O) or a file object."""
    return (
        f.local_path if f.local_path is not None else f.location.fs.open(f.full, "rb")
    )


# -- CSV ------------------------------------------------------------------------------


class CsvReader:
    """Reads delimited files of one dataset with one schema."""

    def __init__(
        self,
        files: Sequence[ResolvedFile],
        fmt: Mapping[str, Any],
        on_error: str = "null",
    ) -> None:
        self.files = files
        self.fmt = fmt
        self.on_error = on_error
        self.mode = fmt["header"]
        self.encoding = python_encoding(fmt["encoding"])
        self._schema: pa.Schema | None = None

    def _csv_options(
        self, index: int, column_types: Mapping[str, pa.DataType] | None
    ) -> tuple[Any, Any, Any]:
        import pyarrow.csv as pacsv

        names = None if self._schema is None else self._schema.names
        has_header = self._has_header(index)
        read = pacsv.ReadOptions(
            encoding=self.encoding,
            block_size=STREAM_BLOCK_BYTES,
            column_names=None if has_header else names,
            autogenerate_column_names=False,
        )
        parse = pacsv.ParseOptions(
            delimiter=self.fmt["separator"],
            newlines_in_values=bool(self.fmt.get("support_multi_line")),
        )
        strings_null = not self.fmt.get("empty_as_string", False)
        formats = [
            f
            for spec in self.fmt.get("set_column_types", {}).values()
            for f in spec.get("formats", [])
        ]
        convert = pacsv.ConvertOptions(
            column_types=dict(column_types or {}),
            strings_can_be_null=strings_null,
            quoted_strings_can_be_null=strings_null,
            timestamp_parsers=formats or None,
        )
        return read, parse, convert

    def _has_header(self, index: int) -> bool:
        """Whether the ``index``-th file's first line is a header."""
        if self.mode == "ONLY_FIRST_FILE_HAS_HEADERS":
            return index == 0
        return bool(self.mode != "NO_HEADERS")

    def schema(self) -> pa.Schema:
        """The dataset's columns and types, inferred from the first file's first block."""
        if self._schema is None:
            self._schema = self._infer()
        return self._schema

    def _first_line_names(self, f: ResolvedFile) -> list[str]:
        with f.location.fs.open(f.full, "rb") as fh:
            head = fh.read(_SAMPLE_BLOCK_BYTES)
        text = head.decode(self.encoding, errors="replace").splitlines()
        row = next(csv.reader(text[:1], delimiter=self.fmt["separator"]), [])
        return row

    def _infer(self) -> pa.Schema:
        import pyarrow.csv as pacsv

        first = self.files[0]
        line = self._first_line_names(first)
        names = (
            line
            if self.mode != "NO_HEADERS"
            else [f"Column{i + 1}" for i in range(len(line))]
        )
        read, parse, convert = self._csv_options(0, None)
        read.block_size = _SAMPLE_BLOCK_BYTES
        read.use_threads = False  # only the first block is wanted: no read-ahead
        if self.mode == "NO_HEADERS":
            read.column_names = names
        if not self.fmt.get("infer_column_types", True):
            convert.column_types = {n: pa.string() for n in names}
        try:
            source = _open_binary(first)
            reader = pacsv.open_csv(
                source, read_options=read, parse_options=parse, convert_options=convert
            )
            sample = reader.schema
        except pa.ArrowInvalid as exc:
            raise self._format_error(first, exc, 0) from exc
        schemas = [sample]
        if self.mode == "COMBINE_ALL_FILES_HEADERS":
            schemas += [self._file_schema(f) for f in self.files[1:]]
        fields: dict[str, pa.DataType] = {}
        for s in schemas:
            for field in s:
                fields.setdefault(field.name, field.type)
        for column, spec in self.fmt.get("set_column_types", {}).items():
            if column not in fields:
                raise DatasetValidationError(
                    f"set_column_types names column '{column}', which {first.display} does not "
                    f"have; its columns are {list(fields)}"
                )
            fields[column] = arrow_type(spec["type"])
        for name, typ in fields.items():
            if pa.types.is_null(typ):  # an all-empty sample column: read it as text
                fields[name] = pa.string()
        return pa.schema(list(fields.items()))

    def _file_schema(self, f: ResolvedFile) -> pa.Schema:
        import pyarrow.csv as pacsv

        read, parse, convert = self._csv_options(1, None)
        read.block_size = _SAMPLE_BLOCK_BYTES
        read.use_threads = False  # only the first block is wanted: no read-ahead
        read.column_names = []  # this file's header (the setter rejects None)
        return pacsv.open_csv(
            _open_binary(f),
            read_options=read,
            parse_options=parse,
            convert_options=convert,
        ).schema

    def tables(self, *, streaming: bool) -> Iterator[tuple[ResolvedFile, Any]]:
        """``(file, chunk)`` for every file in order: whole tables, or record batches."""
        schema = self.schema()
        for index, f in enumerate(self.files):
            for chunk in self._read_file(index, f, schema, streaming):
                yield f, chunk

    def _read_file(
        self, index: int, f: ResolvedFile, schema: pa.Schema, streaming: bool
    ) -> Iterator[Any]:
        import pyarrow.csv as pacsv

        as_text: set[str] = set()
        done = 0  # rows already yielded from this file, skipped after a restart
        block = STREAM_BLOCK_BYTES
        while True:
            types = {
                n: (pa.string() if n in as_text else schema.field(n).type)
                for n in schema.names
            }
            read, parse, convert = self._csv_options(index, types)
            read.block_size = block
            if self.mode == "COMBINE_ALL_FILES_HEADERS":
                read.column_names = []  # this file's header (the setter rejects None)
            try:
                source = _open_binary(f)
                if streaming:
                    reader = pacsv.open_csv(
                        source,
                        read_options=read,
                        parse_options=parse,
                        convert_options=convert,
                    )
                    seen = 0
                    for batch in reader:
                        start = max(0, done - seen)
                        seen += batch.num_rows
                        if start < batch.num_rows:
                            out = self._finish(batch.slice(start), schema, as_text, f)
                            done += out.num_rows
                            yield out
                else:
                    table = pacsv.read_csv(
                        source,
                        read_options=read,
                        parse_options=parse,
                        convert_options=convert,
                    )
                    yield self._finish(table, schema, as_text, f)
                return
            except pa.ArrowInvalid as exc:
                if "straddl" in str(exc) and block < _MAX_BLOCK_BYTES:
                    block = min(block * 16, _MAX_BLOCK_BYTES)
                    log.debug("%s: a row outgrew the block; now %d B", f.display, block)
                    continue
                column = self._failed_column(exc, schema)
                if column is None or column in as_text or self.on_error == "fail":
                    raise self._format_error(f, exc, index) from exc
                log.warning(
                    "%s: column '%s' has values that are not %s; they become null",
                    f.display,
                    column,
                    schema.field(column).type,
                )
                as_text.add(column)

    def _failed_column(self, exc: Exception, schema: pa.Schema) -> str | None:
        m = _CONVERSION.search(str(exc))
        if not m:
            return None
        position = int(m.group(1))
        return schema.names[position] if position < len(schema.names) else None

    def _finish(
        self, table: Any, schema: pa.Schema, as_text: set[str], f: ResolvedFile
    ) -> Any:
        """Coerce text-read columns to their type (bad values become null); align columns."""
        if as_text:
            types = self.fmt.get("set_column_types", {})
            table = _coerce(table, schema, as_text, types)
        if (
            self.mode == "COMBINE_ALL_FILES_HEADERS"
            and table.schema.names != schema.names
        ):
            arrays = [
                table.column(n).cast(schema.field(n).type)
                if n in table.schema.names
                else pa.nulls(table.num_rows, schema.field(n).type)
                for n in schema.names
            ]
            table = (
                pa.Table.from_arrays(arrays, schema=schema)
                if isinstance(table, pa.Table)
                else pa.RecordBatch.from_arrays(arrays, schema=schema)
            )
        elif table.schema.names != schema.names:
            raise DataFormatError(
                f"{f.display}: its columns {table.schema.names} differ from the dataset's "
                f"{schema.names}; use header='COMBINE_ALL_FILES_HEADERS' to combine them"
            )
        return table

    def _format_error(
        self, f: ResolvedFile, exc: Exception, index: int
    ) -> DataFormatError:
        """A message naming the file, the row and what to do."""
        text = str(exc)
        m = _CONVERSION.search(text)
        if m:
            column = int(m.group(1))
            names = self.schema().names if self._schema is not None else []
            name = names[column] if column < len(names) else f"#{column}"
            value = m.group(3)
            row = self._find_row(
                f, index, lambda r: len(r) > column and r[column] == value
            )
            where = f"row {row}" if row else "a row"
            return DataFormatError(
                f"{f.display}: {where}, column '{name}': value {m.group(3)!r} is not "
                f"{m.group(2)}; fix the file, or read the column as text with "
                f"set_column_types={{'{name}': DataType.to_string()}}"
            )
        m = _PARSE.search(text)
        if m:
            expected = int(m.group(1))
            row = self._find_row(f, index, lambda r: len(r) != expected)
            return DataFormatError(
                f"{f.display}: row {row or '?'} has {m.group(2)} fields where the header has "
                f"{expected} (separator {self.fmt['separator']!r}); {text.splitlines()[0]}"
            )
        if "newlines_in_values" in text:  # pyarrow's hint names its option, not ours
            return DataFormatError(
                f"{f.display}: a quoted value spans lines; pass support_multi_line=True"
            )
        return DataFormatError(f"{f.display}: cannot parse as delimited text: {text}")

    def _find_row(self, f: ResolvedFile, index: int, bad: Any) -> int | None:
        """The 1-based line number of the first row for which ``bad(fields)`` holds.

        ``index`` is the file's position: with ``ONLY_FIRST_FILE_HAS_HEADERS`` only the
        first file's first line is a header.
        """
        has_header = self._has_header(index)
        with f.location.fs.open(f.full, "rb") as raw:
            text = io.TextIOWrapper(
                raw, encoding=self.encoding, errors="replace", newline=""
            )
            rows = csv.reader(text, delimiter=self.fmt["separator"])
            for number, row in enumerate(rows, start=1):
                if number == 1 and has_header:
                    continue
                if row and bad(row):
                    return number
        return None

    def check_separator(self) -> None:
        """Fail when the header reads as one column but another separator splits it."""
        if self.mode == "NO_HEADERS":
            return
        line = self._first_line_names(self.files[0])
        if len(line) != 1:
            return
        for other in (",", ";", "\t", "|"):
            if other != self.fmt["separator"] and len(line[0].split(other)) > 1:
                raise DatasetValidationError(
                    f"{self.files[0].display}: the header has one column with separator "
                    f"{self.fmt['separator']!r}, but {other!r} splits it into "
                    f"{len(line[0].split(other))}; pass separator={other!r}"
                )


def _coerce(
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
            else _set_batch_column(table, index, name, array)
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


def _set_batch_column(
    batch: pa.RecordBatch, index: int, name: str, array: Any
) -> pa.RecordBatch:
    arrays = list(batch.columns)
    arrays[index] = array
    names = list(batch.schema.names)
    return pa.RecordBatch.from_arrays(arrays, names=names)


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
                schema = pq.read_schema(_open_binary(self.files[0]))
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
                    for batch in pq.ParquetFile(_open_binary(f)).iter_batches(
                        batch_size=65536
                    ):
                        yield f, self._conform(batch, schema, f, first_row)
                        first_row += batch.num_rows
                else:
                    table = pq.read_table(_open_binary(f))
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
        return pajson.read_json(
            _open_binary(f),
            read_options=pajson.ReadOptions(block_size=block),
            parse_options=parse,
        )

    def schema(self) -> pa.Schema:
        """The dataset's schema."""
        if self._schema is None:
            f = self.files[0]
            try:
                import pyarrow.json as pajson

                reader = pajson.open_json(
                    _open_binary(f),
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
                    reader = pajson.open_json(
                        _open_binary(f),
                        read_options=pajson.ReadOptions(block_size=_JSON_BLOCK_BYTES),
                        parse_options=pajson.ParseOptions(
                            explicit_schema=parsed, unexpected_field_behavior="ignore"
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
            table = _set_batch_column(table, index, fld.name, text)
    types = fmt.get("set_column_types", {})
    return _coerce(table, schema, {fld.name for fld in bad}, types).cast(schema)


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
