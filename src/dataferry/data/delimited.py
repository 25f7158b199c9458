"""Reading delimited files into Arrow, whole or streamed, with pyarrow's CSV reader.

dataferry reads each file's header itself (``delimited_text``) and hands pyarrow the
column names, so names are made unique the way pandas makes them and the header modes
behave as in Azure ML: with ``ALL_FILES_HAVE_SAME_HEADERS`` the first file names the
columns and the first line of every other file is dropped without being compared (a
line that differs is logged). Types are inferred from the first rows of the dataset,
across files; a file without rows (even a 0-byte one) adds no rows. Every byte passes
through ``DecodedStream``: an undecodable byte, or a quote that never closes, is a
``DataFormatError`` naming the file and row, in whole and in streamed reads alike.
"""

from __future__ import annotations

import logging
import re
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from dataferry.data import delimited_errors
from dataferry.data.arrow_input import open_input, whole_input
from dataferry.data.coercion import arrow_type, coerce_columns
from dataferry.data.delimited_text import (
    DecodedStream,
    first_record,
    python_encoding,
    unique_names,
)
from dataferry.errors import DataFormatError, DatasetValidationError
from dataferry.storage.growing_file import GrowingFile

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
_SAMPLE_BLOCK_BYTES = 1 << 20
# Type inference reads the first block of files in order until it has this many rows
# (Azure ML infers from the first 200 rows of the dataset).
_SAMPLE_ROWS = 200
_CONVERSION = re.compile(r"In CSV column #(\d+): .*CSV conversion error to (\S+)", re.S)


@dataclass(frozen=True)
class _Layout:
    """Where a dataset's columns come from."""

    names: list[str]  # the dataset's columns, in order
    first: list[str]  # the first record of the first file that has one, as written
    first_index: int  # that file's position; the files before it are empty
    per_file: dict[int, list[str]] = field(default_factory=dict)  # COMBINE mode only


@dataclass(frozen=True)
class _Opened:
    """One file as pyarrow reads it, and what ``DecodedStream`` saw of it."""

    index: int
    file: ResolvedFile
    stream: Any
    state: DecodedStream


class CsvReader:
    """Reads the delimited files of one dataset with one schema."""

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
        self.codec = python_encoding(fmt["encoding"])
        self.separator: str = fmt["separator"]
        self._layout: _Layout | None = None
        self._schema: pa.Schema | None = None
        self._noted: set[int] = set()  # files whose first line was already compared
        self._span: tuple[int, int] | None = None  # bytes read by ``read_range``

    # -- columns ----------------------------------------------------------------------

    def layout(self) -> _Layout:
        """The dataset's column names, read from the files' first records (once)."""
        if self._layout is None:
            self._layout = self._find_layout()
        return self._layout

    def _find_layout(self) -> _Layout:
        records = self._first_records()
        if not records:
            raise delimited_errors.no_lines(self.files)
        first_index = min(records)
        first = records[first_index]
        if self.mode == "NO_HEADERS":
            names = [f"Column{i + 1}" for i in range(len(first))]
            return _Layout(names, first, first_index)
        if self.mode != "COMBINE_ALL_FILES_HEADERS":
            return _Layout(unique_names(first), first, first_index)
        per_file = {i: unique_names(r) for i, r in records.items()}
        names = list(dict.fromkeys(n for i in sorted(per_file) for n in per_file[i]))
        return _Layout(names, first, first_index, per_file)

    def _first_records(self) -> dict[int, list[str]]:
        """The first record of the first file that has one; of every file if combining."""
        records: dict[int, list[str]] = {}
        for index, f in enumerate(self.files):
            try:
                with f.location.fs.open(f.full, "rb") as raw:
                    record = first_record(
                        raw, self.codec, self.separator, name=f.display
                    )
            except UnicodeError as exc:  # also a UTF-16/32 file without its mark
                header = self.mode != "NO_HEADERS"
                raise self._encoding_error(f, None, header=header) from exc
            if record is not None:
                records[index] = record
                if self.mode != "COMBINE_ALL_FILES_HEADERS":
                    break
        return records

    def column_file(self, name: str) -> ResolvedFile:
        """The first file whose header has column ``name`` (else the first with a line)."""
        layout = self.layout()
        for index in sorted(
            layout.per_file
        ):  # only COMBINE_ALL_FILES_HEADERS has these
            if name in layout.per_file[index]:
                return self.files[index]
        return self.files[layout.first_index]

    def _names_of(self, index: int) -> list[str] | None:
        """The columns of the ``index``-th file, as pyarrow reads it; None: no lines."""
        layout = self.layout()
        if index < layout.first_index:
            return None
        if self.mode == "COMBINE_ALL_FILES_HEADERS":
            return layout.per_file.get(index)
        return layout.names

    def _has_header(self, index: int) -> bool:
        """Whether the ``index``-th file's first line is a header (dropped)."""
        if self.mode == "ONLY_FIRST_FILE_HAS_HEADERS":
            return index == self.layout().first_index
        return bool(self.mode != "NO_HEADERS")

    # -- schema -----------------------------------------------------------------------

    def schema(self) -> pa.Schema:
        """The dataset's columns and types, inferred from the first rows of the dataset."""
        if self._schema is None:
            self._schema = self._infer()
        return self._schema

    def _infer(self) -> pa.Schema:
        names = self.layout().names
        if self.fmt.get("infer_column_types", True):
            types = self._sample_types()
        else:
            types = {n: pa.string() for n in names}
        for column, spec in self.fmt.get("set_column_types", {}).items():
            if column not in types:
                raise DatasetValidationError(
                    f"set_column_types names column '{column}', which "
                    f"{self.files[self.layout().first_index].display} does not have; "
                    f"its columns are {names}"
                )
            types[column] = arrow_type(spec["type"])
        return pa.schema(
            [(n, pa.string() if pa.types.is_null(t) else t) for n, t in types.items()]
        )

    def _sample_types(self) -> dict[str, pa.DataType]:
        """Column types from the first block of files in order, skipping files without
        rows, until ``_SAMPLE_ROWS`` rows (and a row of every column) were seen."""
        names = self.layout().names
        types: dict[str, pa.DataType] = {n: pa.null() for n in names}
        missing, rows = set(names), 0
        for index, f in enumerate(self.files):
            columns = self._names_of(index)
            if columns is None:
                continue
            sample, count = self._sample(index, f, columns)
            if count:
                for fld in sample:
                    types[fld.name] = _unify(types[fld.name], fld.type)
                missing -= set(columns)
                rows += count
            if rows >= _SAMPLE_ROWS and not missing:
                break
        return types

    def _sample(
        self, index: int, f: ResolvedFile, columns: list[str]
    ) -> tuple[pa.Schema, int]:
        """The types pyarrow infers from the file's first block, and its row count."""
        import pyarrow.csv as pacsv

        read, parse, convert = self._options(columns, {})
        read.block_size = _SAMPLE_BLOCK_BYTES
        read.use_threads = False  # only the first block is wanted: no read-ahead
        opened = self._open(index, f)
        try:
            reader = pacsv.open_csv(
                opened.stream,
                read_options=read,
                parse_options=parse,
                convert_options=convert,
            )
            self._note_first_line(opened)
            batch = reader.read_next_batch()
        except StopIteration:
            return reader.schema, 0
        except pa.ArrowInvalid as exc:
            if opened.state.bytes_out == 0:  # nothing after the header: no rows
                return pa.schema([]), 0
            raise self._parse_error(f, exc, index) from exc
        except UnicodeError as exc:
            header = self._has_header(index)
            raise self._encoding_error(f, columns, header=header) from exc
        finally:
            opened.stream.close()
        return reader.schema, batch.num_rows

    def _options(
        self, names: list[str], types: Mapping[str, pa.DataType]
    ) -> tuple[Any, Any, Any]:
        import pyarrow.csv as pacsv

        read = pacsv.ReadOptions(
            encoding="utf8",  # DecodedStream hands pyarrow UTF-8
            block_size=STREAM_BLOCK_BYTES,
            column_names=names,
        )
        parse = pacsv.ParseOptions(
            delimiter=self.separator,
            newlines_in_values=bool(self.fmt.get("support_multi_line")),
        )
        strings_null = not self.fmt.get("empty_as_string", False)
        formats = [
            f
            for spec in self.fmt.get("set_column_types", {}).values()
            for f in spec.get("formats", [])
        ]
        convert = pacsv.ConvertOptions(
            column_types=dict(types),
            strings_can_be_null=strings_null,
            quoted_strings_can_be_null=strings_null,
            timestamp_parsers=formats or None,
        )
        return read, parse, convert

    def _open(
        self, index: int, f: ResolvedFile, whole: str | GrowingFile | None = None
    ) -> _Opened:
        """The file as pyarrow reads it: decoded, checked, header dropped if it has
        one; ``whole`` all of it (``whole_input``: a local path or a file filling), if
        any."""
        span = self._span
        drop = self._has_header(index) and (span is None or span[0] == 0)
        state = DecodedStream(
            self.codec, self.separator, drop_header=drop, name=f.display
        )
        if isinstance(whole, GrowingFile):  # read as its download fills it
            source: Any = whole.reader()
        else:
            source = whole if whole is not None else open_input(f)
        if span is None:
            raw = pa.input_stream(source)
        else:  # a worker's mini-batch: only its bytes are read
            handle = pa.OSFile(source) if isinstance(source, str) else source
            raw = handle.get_stream(span[0], span[1] - span[0])
        # closing the stream closes the file (a remote one is a pyarrow input file)
        stream = pa.TransformInputStream(raw, state)
        return _Opened(index, f, stream, state)

    def _note_first_line(self, opened: _Opened) -> None:
        """Log a dropped first line that is not the dataset's header (once per file)."""
        layout, state = self.layout(), opened.state
        if (
            self.mode != "ALL_FILES_HAVE_SAME_HEADERS"
            or opened.index in (layout.first_index, *self._noted)
            or not state.header_found
        ):
            return
        self._noted.add(opened.index)
        if state.header is not None and state.header != layout.first:
            log.warning(
                "%s: its first line %s differs from the header of %s, %s; it is "
                "dropped as a header all the same (header=True: every file starts with "
                "the same header). If the files have no header line, pass "
                "header=False; if their columns differ, pass "
                "header='COMBINE_ALL_FILES_HEADERS'",
                opened.file.display,
                state.header,
                self.files[layout.first_index].display,
                layout.first,
            )

    # -- rows -------------------------------------------------------------------------

    def tables(self, *, streaming: bool) -> Iterator[tuple[ResolvedFile, Any]]:
        """``(file, chunk)`` for every file in order: whole tables, or record batches."""
        schema = self.schema()
        for index, f in enumerate(self.files):
            for chunk in self._read_file(index, f, schema, streaming):
                yield f, chunk

    def read_range(self, index: int, start: int, stop: int) -> Iterator[Any]:
        """The records of bytes ``[start, stop)`` of file ``index`` (both at line
        starts), read as a whole read reads them: same columns, types and null rules.
        Only the range that starts the file has its header dropped.
        """
        self._span = (start, stop)
        try:
            yield from self._read_file(index, self.files[index], self.schema(), False)
        finally:
            self._span = None

    def _read_file(
        self, index: int, f: ResolvedFile, schema: pa.Schema, streaming: bool
    ) -> Iterator[Any]:
        columns = self._names_of(index)
        if columns is None:
            log.info("%s is empty: it adds no rows", f.display)
            return
        # a whole file from a network store is fetched once, in parallel blocks; a
        # worker's byte range is read where it is
        held = whole_input(f) if self._span is None else nullcontext(None)
        with held as whole:
            yield from self._read_columns(index, f, schema, streaming, columns, whole)

    def _read_columns(
        self,
        index: int,
        f: ResolvedFile,
        schema: pa.Schema,
        streaming: bool,
        columns: list[str],
        whole: str | GrowingFile | None,
    ) -> Iterator[Any]:
        as_text: set[str] = set()  # columns read again as text after a bad value
        rows = _Progress()
        block = STREAM_BLOCK_BYTES
        while True:
            types = {
                n: (pa.string() if n in as_text else schema.field(n).type)
                for n in columns
            }
            options = self._options(columns, types)
            options[0].block_size = block
            opened = self._open(index, f, whole)
            try:
                for chunk in self._parse(opened, options, streaming, rows):
                    yield self._finish(chunk, schema, as_text)
                return
            except pa.ArrowInvalid as exc:
                if opened.state.bytes_out == 0:  # nothing after the header: no rows
                    self._no_rows(opened)
                    return
                block = self._retry(exc, opened, schema, as_text, block)
            except UnicodeError as exc:
                header = self._has_header(index)
                raise self._encoding_error(f, columns, header=header) from exc
            finally:
                opened.stream.close()

    def _parse(
        self,
        opened: _Opened,
        options: tuple[Any, Any, Any],
        streaming: bool,
        rows: _Progress,
    ) -> Iterator[Any]:
        """The file's chunks: one table, or the batches not given before a restart.

        The last chunk comes only after the whole file was read and its quotes checked,
        so a streamed read yields no row that a quote that never closes has swallowed.
        """
        import pyarrow.csv as pacsv

        read, parse, convert = options
        kwargs = {
            "read_options": read,
            "parse_options": parse,
            "convert_options": convert,
        }
        if not streaming:
            table = pacsv.read_csv(opened.stream, **kwargs)
            self._note_first_line(opened)
            self._check_quotes(opened)
            yield table
            return
        reader = pacsv.open_csv(opened.stream, **kwargs)
        self._note_first_line(opened)
        held = None
        for batch in rows.unseen(reader):
            if held is not None:
                yield rows.given(held)
            held = batch
        self._check_quotes(opened)
        if held is not None:
            yield rows.given(held)

    def _no_rows(self, opened: _Opened) -> None:
        """A file with nothing after its header (if it has one): no rows."""
        self._check_quotes(opened)  # a header whose quote never closes
        if opened.state.header is None:  # not even a header: an empty file
            log.info("%s is empty: it adds no rows", opened.file.display)

    def _retry(
        self,
        exc: pa.ArrowInvalid,
        opened: _Opened,
        schema: pa.Schema,
        as_text: set[str],
        block: int,
    ) -> int:
        """The block size to read the file again with, after ``exc``; or raise.

        A row longer than the block gets a larger one; a value that does not convert
        (``on_error='null'``) sends its column to ``as_text``, to become null later.
        """
        f = opened.file
        if "straddl" in str(exc) and block < _MAX_BLOCK_BYTES:
            log.debug("%s: a row outgrew the block of %d B", f.display, block)
            return min(block * 16, _MAX_BLOCK_BYTES)
        column = _failed_column(exc, self._names_of(opened.index) or [])
        if column is None or column in as_text or self.on_error == "fail":
            raise self._parse_error(f, exc, opened.index) from exc
        log.warning(
            "%s: column '%s' has values that are not %s; they become null",
            f.display,
            column,
            schema.field(column).type,
        )
        as_text.add(column)
        return block

    def _finish(self, table: Any, schema: pa.Schema, as_text: set[str]) -> Any:
        """Coerce text-read columns to their type (bad values become null); align columns."""
        if as_text:
            types = self.fmt.get("set_column_types", {})
            table = coerce_columns(table, schema, as_text, types)
        if table.schema.names == schema.names:
            return table
        arrays = [  # a file of a COMBINE_ALL_FILES_HEADERS dataset
            table.column(n).cast(schema.field(n).type)
            if n in table.schema.names
            else pa.nulls(table.num_rows, schema.field(n).type)
            for n in schema.names
        ]
        if isinstance(table, pa.Table):
            return pa.Table.from_arrays(arrays, schema=schema)
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    # -- errors -----------------------------------------------------------------------

    def _check_quotes(self, opened: _Opened) -> None:
        """Fail if a quote never closes (an odd count of quotes makes it worth a look)."""
        if opened.state.quotes % 2:
            f = opened.file
            line = delimited_errors.unclosed_quote_line(f, self.codec, self.separator)
            if line is not None:
                raise delimited_errors.unclosed_quote(f, line)

    def _parse_error(
        self, f: ResolvedFile, exc: Exception, index: int
    ) -> DataFormatError:
        """The error for a file pyarrow cannot parse: an unclosed quote, or what it says."""
        if not _CONVERSION.search(str(exc)):
            line = delimited_errors.unclosed_quote_line(f, self.codec, self.separator)
            if line is not None:
                return delimited_errors.unclosed_quote(f, line)
        return delimited_errors.format_error(
            f,
            exc,
            columns=self._names_of(index) or [],
            has_header=self._has_header(index),
            codec=self.codec,
            separator=self.separator,
        )

    def _encoding_error(
        self, f: ResolvedFile, columns: list[str] | None, *, header: bool
    ) -> DataFormatError:
        return delimited_errors.undecodable(
            f,
            self.codec,
            self.separator,
            encoding=self.fmt["encoding"],
            columns=columns,
            has_header=header,
        )

    def check_separator(self) -> None:
        """Fail when the header reads as one column but another separator splits it."""
        if self.mode == "NO_HEADERS":
            return
        layout = self.layout()
        line = layout.first
        if len(line) != 1:
            return
        for other in (",", ";", "\t", "|"):
            if other != self.separator and len(line[0].split(other)) > 1:
                raise DatasetValidationError(
                    f"{self.files[layout.first_index].display}: the header has one column "
                    f"with separator {self.separator!r}, but {other!r} splits it into "
                    f"{len(line[0].split(other))}; pass separator={other!r}"
                )


class _Progress:
    """Rows of one file already given, so a restarted read skips them."""

    def __init__(self) -> None:
        self.done = 0
        self._seen = 0

    def unseen(self, batches: Iterator[Any]) -> Iterator[Any]:
        """The part of each batch not given before (a read restarts from row 0)."""
        self._seen = 0
        for batch in batches:
            start = max(0, self.done - self._seen)
            self._seen += batch.num_rows
            if start < batch.num_rows:
                yield batch.slice(start)

    def given(self, batch: Any) -> Any:
        self.done += batch.num_rows
        return batch


def _failed_column(exc: Exception, columns: Sequence[str]) -> str | None:
    m = _CONVERSION.search(str(exc))
    if not m:
        return None
    position = int(m.group(1))
    return columns[position] if position < len(columns) else None


def _unify(known: pa.DataType, found: pa.DataType) -> pa.DataType:
    """The type that holds a column's values from two files' samples."""
    if pa.types.is_date(found):
        found = pa.timestamp(
            "s"
        )  # a date-only column reads as timestamps, as in Azure ML
    if pa.types.is_null(known) or known == found:
        return found
    if pa.types.is_null(found):
        return known
    numbers = (pa.types.is_integer, pa.types.is_floating)
    if any(t(known) for t in numbers) and any(t(found) for t in numbers):
        return pa.float64()
    if (
        pa.types.is_timestamp(known)
        and pa.types.is_timestamp(found)
        and known.tz == found.tz
    ):
        return known if _UNITS.index(known.unit) >= _UNITS.index(found.unit) else found
    return pa.string()


_UNITS = ("s", "ms", "us", "ns")
