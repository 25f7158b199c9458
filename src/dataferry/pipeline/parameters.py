"""``PipelineParameter``: a value a run can override at submit."""

from __future__ import annotations

import re
from typing import Any

from dataferry.errors import ParameterTypeError, StepDefinitionError


def _allowed(value: Any) -> bool:
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.data.datapath import DataPath

    return isinstance(value, bool | int | float | str | DataPath | AbstractDataset)


class PipelineParameter:
    """A named value with a default; ``pipeline.submit(pipeline_parameters={...})`` overrides it."""

    def __init__(self, name: str, default_value: Any) -> None:
        if not isinstance(name, str) or not name:
            raise StepDefinitionError(
                f"PipelineParameter name must be a non-empty string, not {name!r}"
            )
        if not _allowed(default_value):
            raise StepDefinitionError(
                f"PipelineParameter '{name}': the default must be an int, float, bool, str, "
                f"DataPath or dataset, not {type(default_value).__name__}"
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
        from dataferry.data.tabular_dataset import TabularDataset

        return isinstance(self.default_value, TabularDataset)


def check_override(param: PipelineParameter, value: Any) -> None:
    """An override must be of the default's kind.

    Raises:
        ParameterTypeError: a dataset default overridden by another kind of value, or the
            reverse (a ``TypeError`` too).
    """
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.data.datapath import DataPath

    default = param.default_value
    for kind in (AbstractDataset, DataPath):
        if isinstance(default, kind) != isinstance(value, kind):
            raise ParameterTypeError(
                f"pipeline parameter '{param.name}' has a {type(default).__name__} default; "
                f"it cannot be overridden with a {type(value).__name__}"
            )
    if isinstance(default, AbstractDataset) and type(default) is not type(value):
        raise ParameterTypeError(
            f"pipeline parameter '{param.name}' needs a {type(default).__name__}, not a {type(value).__name__}"
        )
    if not _allowed(value):
        raise ParameterTypeError(
            f"pipeline parameter '{param.name}': {type(value).__name__} is not a parameter value"
        )
