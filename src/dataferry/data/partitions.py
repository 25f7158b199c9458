"""``partition_format``: values taken from file paths, such as ``/{state}/{year:yyyy}/*.csv``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from dataferry.errors import DatasetValidationError

_TOKEN = re.compile(r"\{(\w+)(?::([^}]+))?\}")
_DATE_PARTS = [
    ("yyyy", r"\d{4}", "%Y"),
    ("MM", r"\d{2}", "%m"),
    ("dd", r"\d{2}", "%d"),
    ("HH", r"\d{2}", "%H"),
    ("mm", r"\d{2}", "%M"),
    ("ss", r"\d{2}", "%S"),
]


def _date_pattern(fmt: str) -> tuple[str, str]:
    regex, strptime = re.escape(fmt), fmt
    for token, rx, code in _DATE_PARTS:
        regex = regex.replace(token, rx)
        strptime = strptime.replace(token, code)
    return regex, strptime


class PartitionFormat:
    """A compiled ``partition_format``; ``values(path)`` gives the columns for one file."""

    def __init__(self, fmt: str) -> None:
        """Compile ``fmt``.

        Raises:
            DatasetValidationError: ``fmt`` names no column, or one column twice.
        """
        self.fmt = fmt
        self.columns: list[tuple[str, str | None]] = []
        regex, pos = "", 0
        for m in _TOKEN.finditer(fmt):
            regex += re.escape(fmt[pos : m.start()]).replace(r"\*", "[^/]*")
            name, date_fmt = m.group(1), m.group(2)
            if name in (c for c, _ in self.columns):
                raise DatasetValidationError(
                    f"partition_format {fmt!r} names the column {{{name}}} twice; give "
                    "each {column} its own name"
                )
            # groups by position, not by name: a column name need not be one re takes
            if date_fmt:
                rx, strptime = _date_pattern(date_fmt)
                regex += f"({rx})"
                self.columns.append((name, strptime))
            else:
                regex += "([^/]+)"
                self.columns.append((name, None))
            pos = m.end()
        regex += re.escape(fmt[pos:]).replace(r"\*", "[^/]*")
        if not self.columns:
            raise DatasetValidationError(
                f"partition_format {fmt!r} names no {{column}}"
            )
        self.regex = re.compile(regex + "$")

    def values(self, path: str) -> dict[str, Any]:
        """The partition values in ``path``.

        Raises:
            DatasetValidationError: the path does not fit the format.
        """
        m = self.regex.search(path)
        if not m:
            raise DatasetValidationError(
                f"file {path} does not match partition_format {self.fmt!r}"
            )
        out: dict[str, Any] = {}
        for group, (name, strptime) in enumerate(self.columns, start=1):
            raw = m.group(group)
            out[name] = (
                datetime.strptime(raw, strptime.replace("/", "/")) if strptime else raw
            )
        return out
