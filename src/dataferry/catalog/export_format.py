"""The portable file of a catalog export: JSON lines, one header then one line a row.

The header (line 1) names the format, the schema revision and every table's count::

    {"format": "dataferry-catalog", "format_version": 1, "revision": "0008",
     "tables": {"settings": 2, "datastores": 3, ...}}

Each further line is one row, ``{"table": "runs", "row": {column: value, ...}}``; the
tables come in dependency order (a row's foreign keys point at lines above it) and each
table's rows in primary-key order. Times are ISO 8601 with their UTC offset; JSON
columns hold their value as it is; every other value is a JSON string or number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dataferry.catalog.schema import UtcDateTime, metadata
from dataferry.errors import CatalogTransferError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from sqlalchemy import Table

FORMAT = "dataferry-catalog"
FORMAT_VERSION = 1
# every table, parents before children: the order rows are written and inserted in
TABLES: tuple[Table, ...] = tuple(metadata.sorted_tables)
_BY_NAME = {t.name: t for t in TABLES}


@dataclass(frozen=True)
class ExportHeader:
    """What an export holds: its schema ``revision`` and each table's row count."""

    revision: str
    counts: dict[str, int]

    def line(self) -> str:
        """The header as the file's first line."""
        return _dump(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "revision": self.revision,
                "tables": self.counts,
            }
        )


def row_line(table: Table, row: Mapping[Any, Any]) -> str:
    """One row of ``table`` as a line of the file."""
    values = {c.name: _encode(row[c.name]) for c in table.columns}
    return _dump({"table": table.name, "row": values})


def read_header(file: Path) -> ExportHeader:
    """The header of the export ``file``.

    Raises:
        CatalogTransferError: the file is missing, empty, or not a catalog export.
    """
    try:
        with file.open(encoding="utf-8") as lines:
            first = lines.readline()
    except OSError as exc:
        raise _bad(file, 1, f"it cannot be read ({exc.strerror})") from exc
    head = _parse(file, 1, first)
    tables = head.get("tables")
    if head.get("format") != FORMAT or not isinstance(tables, dict):
        raise _bad(file, 1, f"it has no {FORMAT!r} header; is it a catalog export?")
    if head.get("format_version") != FORMAT_VERSION:
        raise _bad(
            file,
            1,
            f"format version {head.get('format_version')!r} is not "
            f"{FORMAT_VERSION}, the one this dataferry reads",
        )
    unknown = sorted(set(tables) - set(_BY_NAME))
    if unknown or not all(isinstance(n, int) and n >= 0 for n in tables.values()):
        raise _bad(file, 1, f"its header counts unknown tables or bad counts {unknown}")
    return ExportHeader(str(head.get("revision")), {t.name: 0 for t in TABLES} | tables)


def read_rows(file: Path) -> Iterator[tuple[Table, dict[str, Any]]]:
    """Every row of the export ``file`` (after its header), decoded for inserting.

    Raises:
        CatalogTransferError: a line is not a row of a known table with exactly its
            columns, or a table's rows come after a table that depends on it.
    """
    order = {t.name: i for i, t in enumerate(TABLES)}
    last = TABLES[0].name
    with file.open(encoding="utf-8") as lines:
        next(lines, None)
        for number, text in enumerate(lines, start=2):
            item = _parse(file, number, text)
            table = _BY_NAME.get(str(item.get("table")))
            row = item.get("row")
            if table is None or not isinstance(row, dict):
                raise _bad(file, number, "it is not a row of a catalog table")
            if set(row) != set(table.columns.keys()):
                raise _bad(file, number, f"its columns are not those of {table.name}")
            if order[table.name] < order[last]:
                raise _bad(
                    file,
                    number,
                    f"{table.name} rows come after {last} rows, out of the "
                    "dependency order the export writes tables in",
                )
            last = table.name
            yield table, _decode(file, number, table, row)


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _decode(
    file: Path, number: int, table: Table, row: dict[str, Any]
) -> dict[str, Any]:
    decoded = dict(row)
    for column in table.columns:
        value = row[column.name]
        if isinstance(column.type, UtcDateTime) and value is not None:
            try:
                decoded[column.name] = datetime.fromisoformat(value)
            except (TypeError, ValueError) as exc:
                raise _bad(file, number, f"{column.name} is not a time") from exc
    return decoded


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def _parse(file: Path, number: int, text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _bad(file, number, "it is not JSON") from exc
    if not isinstance(value, dict):
        raise _bad(file, number, "it is not a JSON object")
    return value


def _bad(file: Path, number: int, why: str) -> CatalogTransferError:
    return CatalogTransferError(
        f"cannot import {file}: line {number}: {why}. Import a file written by "
        "`dataferry catalog export`, unchanged."
    )
