"""How tabular files are read, as light definitions: column types and header modes.

``set_column_types`` takes the original SDK's ``DataType`` or plain names; ``header``
takes True/False or a ``PromoteHeadersBehavior`` name. Both are checked where a dataset
or an output is defined, so this module imports neither pyarrow nor storage (the
pipeline layer uses it); the Arrow types are in ``coercion.arrow_type``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.errors import DatasetValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

HEADER_MODES = (
    "ALL_FILES_HAVE_SAME_HEADERS",
    "NO_HEADERS",
    "ONLY_FIRST_FILE_HAS_HEADERS",
    "COMBINE_ALL_FILES_HEADERS",
)
_ALIASES = {
    "str": "string",
    "string": "string",
    "int": "int64",
    "long": "int64",
    "int64": "int64",
    "float": "float64",
    "double": "float64",
    "float64": "float64",
    "bool": "bool",
    "boolean": "bool",
    "datetime": "timestamp",
    "timestamp": "timestamp",
    "date": "date",
}


class DataType:
    """A column type, as ``DataType.to_long()`` etc. build it in the original SDK."""

    def __init__(self, name: str, formats: Sequence[str] = ()) -> None:
        self.name = name
        self.formats = tuple(formats)

    @staticmethod
    def to_string() -> DataType:
        """Text."""
        return DataType("string")

    @staticmethod
    def to_long() -> DataType:
        """64-bit integers."""
        return DataType("int64")

    @staticmethod
    def to_float(decimal_mark: str = ".") -> DataType:
        """64-bit floats (only ``.`` as decimal mark)."""
        if decimal_mark != ".":
            raise DatasetValidationError("only '.' is supported as decimal_mark")
        return DataType("float64")

    @staticmethod
    def to_bool() -> DataType:
        """Booleans (true/false, 1/0, yes/no are not all accepted; see pyarrow's rules)."""
        return DataType("bool")

    @staticmethod
    def to_datetime(formats: str | Sequence[str] | None = None) -> DataType:
        """Timestamps, parsed with the given strptime ``formats`` (default: ISO 8601)."""
        if isinstance(formats, str):
            formats = [formats]
        return DataType("timestamp", formats or ())

    def __repr__(self) -> str:
        return (
            f"DataType({self.name!r})"
            if not self.formats
            else f"DataType({self.name!r}, {list(self.formats)!r})"
        )


def normalise(types: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``set_column_types`` as JSON: ``{column: {"type": name, "formats": [...]}}``.

    Raises:
        DatasetValidationError: a type is not one of the known names.
    """
    out: dict[str, dict[str, Any]] = {}
    for column, value in (types or {}).items():
        if isinstance(value, DataType):
            out[column] = {"type": value.name, "formats": list(value.formats)}
            continue
        name = str(value).lower()
        if name not in _ALIASES:
            raise DatasetValidationError(
                f"set_column_types: unknown type {value!r} for column '{column}'; use a "
                f"DataType or one of {sorted(set(_ALIASES))}"
            )
        out[column] = {"type": _ALIASES[name], "formats": []}
    return out


def header_mode(header: bool | str) -> str:
    """``header=True/False`` or a ``PromoteHeadersBehavior`` name, as a mode name.

    Raises:
        DatasetValidationError: ``header`` is none of those.
    """
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
