"""``PipelineParameter``: a value a run can override at submit."""

from __future__ import annotations

import numbers
import re
from typing import Any

from dataferry._lazy import LazyPattern
from dataferry.data.kinds import is_datapath, is_dataset, is_tabular_dataset
from dataferry.errors import ParameterTypeError, StepDefinitionError
from dataferry.pipeline.checks import type_error


def _allowed(value: Any) -> bool:
    return isinstance(value, bool | int | float | str) or _is_data(value)


def _is_data(value: Any) -> bool:
    """A dataset or DataPath (recognised without importing the data layer's classes)."""
    return is_dataset(value) or is_datapath(value)


class PipelineParameter:
    """A named value with a default; ``pipeline.submit(pipeline_parameters={...})`` overrides it.

    Raises:
        PipelineTypeError: ``name`` is not a str, or the default is not an int, float,
            bool, str, DataPath or dataset (a ``TypeError``).
        StepDefinitionError: ``name`` is empty.
    """

    def __init__(self, name: str, default_value: Any) -> None:
        if not isinstance(name, str):
            raise type_error("PipelineParameter: name", "a str", name)
        if not name:
            raise StepDefinitionError(
                f"PipelineParameter name must be a non-empty string, not {name!r}"
            )
        if not _allowed(default_value):
            raise type_error(
                f"PipelineParameter '{name}': the default",
                "an int, float, bool, str, DataPath or dataset",
                default_value,
            )
        self.name = name
        self.default_value = default_value

    @property
    def env_name(self) -> str:
        """``AML_PARAMETER_<name>`` with non-word characters as ``_``."""
        return "AML_PARAMETER_" + re.sub(r"[~\W]", "_", self.name)

    def __str__(self) -> str:
        return f"PipelineParameter_Name:{self.name}_Default:{self.default_value}"

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"

    @property
    def _is_tabular(self) -> bool:
        return is_tabular_dataset(self.default_value)


# re.ASCII: \d is 0-9 only, as the service's parser reads it ('١٢' is not 12)
_INT_TEXT = LazyPattern(r"\s*[+-]?\d+\s*", re.ASCII)
_FLOAT_TEXT = LazyPattern(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", re.ASCII)


def coerce_override(param: PipelineParameter, value: Any) -> Any:
    """The value a run gets when ``value`` overrides ``param`` at submit.

    A dataset or DataPath default takes only a value of its own kind. A scalar is read
    as the default's type, as in the original SDK, which sends it as ``str(value)`` for
    the service to parse: a string of digits for an int parameter is that int (``'3'``
    gives 3), a number as text or an int for a float parameter is that float, ``'true'``
    or ``'false'`` (any case) for a bool parameter is that bool, and any str, int,
    float or bool for a str parameter is its text.

    Raises:
        ParameterTypeError: ``value`` cannot be read as the parameter's type (a
            ``TypeError``), e.g. ``'three'`` for an int parameter.
    """
    default = param.default_value
    for kind in (is_dataset, is_datapath):
        if kind(default) != kind(value):
            raise _other_kind(param.name, default, value)
    if is_dataset(default) and type(default) is not type(value):
        raise ParameterTypeError(
            f"pipeline parameter '{param.name}' needs a {type(default).__name__}, not a {type(value).__name__}"
        )
    if _is_data(default):
        return value
    read, expected = _read_scalar(default, value)
    if expected:
        raise ParameterTypeError(
            f"pipeline parameter '{param.name}' has {_kind(default)} default ({default!r}); it "
            f"cannot be overridden with {value!r} ({type(value).__name__}). Pass "
            f"{expected}."
        )
    return read


def _other_kind(name: str, default: Any, value: Any) -> ParameterTypeError:
    """A DataPath or dataset parameter overridden with another kind, or the reverse."""
    if is_datapath(default):
        kind, need = "a DataPath", "a DataPath, e.g. DataPath(datastore, 'path/on/it')"
    elif is_dataset(default):
        kind = need = f"a {type(default).__name__}"  # its repr is its whole definition
    else:
        kind, need = _kind(default), _read_scalar(default, None)[1]
    shown = "" if is_dataset(default) else f" ({default!r})"
    given = type(value).__name__
    value_shown = given if is_dataset(value) else f"{value!r} ({given})"
    return ParameterTypeError(
        f"pipeline parameter '{name}' has {kind} default{shown}; it cannot be "
        f"overridden with {value_shown}. Pass {need}."
    )


def _kind(default: Any) -> str:
    for cls, name in ((bool, "a bool"), (int, "an int"), (float, "a float")):
        if isinstance(default, cls):
            return name
    return "a str"


def _read_scalar(default: Any, value: Any) -> tuple[Any, str]:
    """``(value read as the default's type, "")``, or ``(None, what was expected)``."""
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    text = value.strip() if isinstance(value, str) else None
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value, ""
        if text is not None and text.lower() in ("true", "false"):
            return text.lower() == "true", ""
        return None, "True or False (or the text 'true' or 'false')"
    if isinstance(default, int):
        if is_number and isinstance(value, numbers.Integral):
            return int(value), ""
        if text is not None and _INT_TEXT.fullmatch(text):
            return int(text), ""
        return None, "an int, or a string of digits such as '3'"
    if isinstance(default, float):
        if is_number:
            return float(value), ""
        if text is not None and _FLOAT_TEXT.fullmatch(text):
            return float(text), ""
        return None, "a float or an int, or a number as text such as '0.5'"
    if isinstance(value, str | numbers.Real):
        return (value if isinstance(value, str) else str(value)), ""
    return None, "a str (or an int, float or bool, passed as its text)"
