"""Column types for ``set_column_types``: the original SDK's ``DataType`` and plain names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.errors import DatasetValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pyarrow as pa

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


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type for a normalised type name."""
    import pyarrow as pa

    return {
        "string": pa.string(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("ns"),
        "date": pa.date32(),
    }[name]
