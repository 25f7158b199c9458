"""The errors of the delimited reader: each names the file, the row and what to do.

These run after something went wrong, so they may read a file again to find the row.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from typing import TYPE_CHECKING, Any

from dataferry.data.delimited_text import (
    find_unclosed_quote,
    find_undecodable,
    text_chunks,
    unique_names,
)
from dataferry.errors import DataEncodingError, DataFormatError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dataferry.data.sources import ResolvedFile

_CONVERSION = re.compile(
    r"In CSV column #(\d+): .*CSV conversion error to (\S+): invalid value '(.*)'", re.S
)
_PARSE = re.compile(r"Expected (\d+) columns, got (\d+)")
_UTF8 = ("utf8", "utf8sig")
_SHOWN_FILES = 5
# Byte-order marks of the wide encodings, UTF-32 first: its little-endian mark starts
# with UTF-16's.
_WIDE_MARKS = (
    (codecs.BOM_UTF32_LE, "utf32"),
    (codecs.BOM_UTF32_BE, "utf32"),
    (codecs.BOM_UTF16_LE, "utf16"),
    (codecs.BOM_UTF16_BE, "utf16"),
)


def no_lines(files: Sequence[ResolvedFile]) -> DataFormatError:
    """No file of the dataset has a line to take its columns from."""
    shown = [f.display for f in files[:_SHOWN_FILES]]
    more = f" and {len(files) - _SHOWN_FILES} more" if len(files) > _SHOWN_FILES else ""
    return DataFormatError(
        f"no file has a line to read columns from: {', '.join(shown)}{more} "
        f"{'is' if len(files) == 1 else 'are'} empty; point the dataset at files "
        "with data"
    )


def unclosed_quote_line(f: ResolvedFile, codec: str, separator: str) -> int | None:
    """The line of ``f`` where a quoted value opens that never closes, or None."""
    with f.location.fs.open(f.full, "rb") as raw:
        return find_unclosed_quote(text_chunks(raw, codec), separator)


def unclosed_quote(f: ResolvedFile, line: int) -> DataFormatError:
    """A quoted value that opens on ``line`` and runs to the end of ``f``."""
    return DataFormatError(
        f"{f.display}: row {line}: a quoted value opens there and is never closed, so "
        "it would run to the end of the file; close the quote (a quote inside a quoted "
        'value is written twice: "")'
    )


def undecodable(
    f: ResolvedFile,
    codec: str,
    separator: str,
    *,
    encoding: str,
    columns: Sequence[str] | None,
    has_header: bool,
) -> DataEncodingError:
    """Bytes of ``f`` that ``encoding`` cannot decode: where they are, what to pass.

    A file that starts with a UTF-16/32 byte-order mark gets that encoding as the
    hint; a file read as UTF-16/32 without the mark (Python's codecs need it for the
    byte order) gets its own message.
    """
    with f.location.fs.open(f.full, "rb") as raw:
        wide = _wide_encoding(raw.read(4))
    if codec in ("utf-16", "utf-32") and wide != codec.replace("-", ""):
        return _unmarked(f, encoding, wide)
    hint = "e.g. encoding='latin1' or encoding='windows1252'"
    if codec.replace("-", "") not in _UTF8:
        hint = "e.g. encoding='utf8', encoding='latin1' or encoding='windows1252'"
    if wide is not None and codec.replace("-", "") != wide:
        hint = f"encoding='{wide}' (the file starts with a {wide} byte-order mark)"
    found = find_undecodable(lambda: f.location.fs.open(f.full, "rb"), codec, separator)
    if found is None:  # the codec failed on something the scan decodes: say what it can
        return DataEncodingError(
            f"{f.display}: has bytes that are not valid {encoding}; pass the file's "
            f"encoding, {hint}"
        )
    row, index, bad, first = found
    if columns is None:  # the header was being read: name the column as it will be
        count = range(len(first))
        columns = (
            unique_names(first) if has_header else [f"Column{i + 1}" for i in count]
        )
    if has_header and row == 1:
        where = f"row 1 (the header), field {index + 1}"
    elif index < len(columns):
        where = f"row {row}, column '{columns[index]}'"
    else:
        where = f"row {row}, field {index + 1}"
    return DataEncodingError(
        f"{f.display}: {where}: bytes {bad!r} are not valid {encoding}; pass the "
        f"file's encoding, {hint}"
    )


def _unmarked(f: ResolvedFile, encoding: str, wide: str | None) -> DataEncodingError:
    """A file read as UTF-16/32 that does not start with that encoding's mark."""
    if wide is not None:
        return DataEncodingError(
            f"{f.display}: starts with a {wide} byte-order mark, not a {encoding} one; "
            f"pass encoding='{wide}'"
        )
    return DataEncodingError(
        f"{f.display}: does not start with a byte-order mark, which "
        f"encoding={encoding!r} needs to know the order of its bytes; if the file is "
        "UTF-16/32, save it again with the mark (or as UTF-8); if it is not, pass its "
        "encoding, e.g. encoding='utf8' or encoding='latin1'"
    )


def _wide_encoding(start: bytes) -> str | None:
    """``'utf16'`` or ``'utf32'`` if ``start`` opens with that byte-order mark."""
    for mark, name in _WIDE_MARKS:
        if start.startswith(mark):
            return name
    return None


def format_error(
    f: ResolvedFile,
    exc: Exception,
    *,
    columns: Sequence[str],
    has_header: bool,
    codec: str,
    separator: str,
) -> DataFormatError:
    """What pyarrow could not parse or convert, with the file, the row and what to do."""
    text = str(exc)
    m = _CONVERSION.search(text)
    if m:
        column = int(m.group(1))
        name = columns[column] if column < len(columns) else f"#{column}"
        value = m.group(3)
        row = _find_row(
            f,
            lambda r: len(r) > column and r[column] == value,
            has_header=has_header,
            codec=codec,
            separator=separator,
        )
        where = f"row {row}" if row else "a row"
        return DataFormatError(
            f"{f.display}: {where}, column '{name}': value {value!r} is not "
            f"{m.group(2)}; fix the file, or read the column as text with "
            f"set_column_types={{'{name}': DataType.to_string()}}"
        )
    m = _PARSE.search(text)
    if m:
        expected = int(m.group(1))
        row = _find_row(
            f,
            lambda r: len(r) != expected,
            has_header=has_header,
            codec=codec,
            separator=separator,
        )
        return DataFormatError(
            f"{f.display}: row {row or '?'} has {m.group(2)} fields where the header has "
            f"{expected} (separator {separator!r}); {text.splitlines()[0]}"
        )
    if "newlines_in_values" in text:  # pyarrow's hint names its option, not ours
        return DataFormatError(
            f"{f.display}: a quoted value spans lines; pass support_multi_line=True"
        )
    return DataFormatError(f"{f.display}: cannot parse as delimited text: {text}")


def _find_row(
    f: ResolvedFile,
    bad: Callable[[list[str]], Any],
    *,
    has_header: bool,
    codec: str,
    separator: str,
) -> int | None:
    """The 1-based number of the first row (the header counts) where ``bad`` holds."""
    raw = f.location.fs.open(f.full, "rb")
    with io.TextIOWrapper(raw, encoding=codec, errors="replace", newline="") as text:
        rows = csv.reader(text, delimiter=separator)
        for number, row in enumerate(rows, start=1):
            if number == 1 and has_header:
                continue
            if row and bad(row):
                return number
    return None
