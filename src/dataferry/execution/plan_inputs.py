"""A step's input bindings in the plan: a dataset, another step's output, or a DataPath.

``InputBinding`` is a tagged union (the JSON's ``kind``); each member's ``resolve`` turns
a parameter into the data it stands for, so consumers never look parameters up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from dataferry._record import field, record
from dataferry.errors import PlanFormatError
from dataferry.execution.plan_values import (
    DataPathRef,
    DatasetRef,
    ParamRef,
    param_in,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

# (producer node id, output name in this run): how a committed upstream output is found
OutputKey = tuple[str, str]


@record(frozen=True, slots=True, kw_only=True)
class _Port:
    """What every input has: its name, how it is given to the step, and where."""

    name: str
    mode: str  # direct, mount or download
    style: str  # dataset: env {name}; dataref: env AZUREML_DATAREFERENCE_{name}
    path_on_compute: str | None = None
    auto_name: bool = False  # the name was generated: not part of the step's identity

    def _base_json(self, kind: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "auto_name": self.auto_name,
            "kind": kind,
            "mode": self.mode,
            "style": self.style,
            "path_on_compute": self.path_on_compute,
        }


@record(frozen=True, slots=True, kw_only=True)
class DatasetInput(_Port):
    """A dataset, or a dataset parameter."""

    kind: ClassVar[str] = "dataset"
    source: DatasetRef | ParamRef

    def resolve(self, parameters: Mapping[str, Any]) -> DatasetRef:
        """The dataset this input reads in a run with these parameter values.

        Raises:
            PlanFormatError: the parameter has no value, or one that is not a dataset.
        """
        if isinstance(self.source, DatasetRef):
            return self.source
        return DatasetRef.from_json(_param_data(self.source, parameters, "dataset"))

    @property
    def parameter(self) -> str | None:
        """The pipeline parameter this input reads, if it reads one."""
        return self.source.name if isinstance(self.source, ParamRef) else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``kind: dataset``)."""
        if isinstance(self.source, ParamRef):
            return {**self._base_json(self.kind), **self.source.to_json()}
        return {**self._base_json(self.kind), "dataset": self.source.to_json()}


@record(frozen=True, slots=True)
class OutputView:
    """How a step reads an upstream output: as files, or as a tabular dataset."""

    tabular: dict[str, Any] | None = None
    transforms: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"tabular", "transforms"}``."""
        return {"tabular": self.tabular, "transforms": self.transforms}


@record(frozen=True, slots=True, kw_only=True)
class UpstreamOutputInput(_Port):
    """An output of another step of the same run."""

    kind: ClassVar[str] = "output"
    producer: str  # node id
    output: str  # the output's name in this run
    view: OutputView = field(default_factory=OutputView)

    def resolve(self, parameters: Mapping[str, Any]) -> OutputKey:
        """The key of the committed output this input reads (no parameter applies)."""
        return (self.producer, self.output)

    @property
    def parameter(self) -> str | None:
        """Always None: an upstream output is never a parameter."""
        return None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``kind: output``)."""
        return {
            **self._base_json(self.kind),
            "producer": self.producer,
            "output": self.output,
            "view": self.view.to_json(),
        }


@record(frozen=True, slots=True, kw_only=True)
class DataPathInput(_Port):
    """A path on a datastore (a DataPath or DataReference), or a DataPath parameter."""

    kind: ClassVar[str] = "datapath"
    source: DataPathRef | ParamRef

    def resolve(self, parameters: Mapping[str, Any]) -> DataPathRef:
        """The datastore path this input reads in a run with these parameter values.

        Raises:
            PlanFormatError: the parameter has no value, or one that is not a DataPath.
        """
        if isinstance(self.source, DataPathRef):
            return self.source
        return DataPathRef.from_json(_param_data(self.source, parameters, "datapath"))

    @property
    def parameter(self) -> str | None:
        """The pipeline parameter this input reads, if it reads one."""
        return self.source.name if isinstance(self.source, ParamRef) else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``kind: datapath``)."""
        extra = self.source.to_json()
        return {**self._base_json(self.kind), **extra}


InputBinding = DatasetInput | UpstreamOutputInput | DataPathInput


def input_from_json(data: Mapping[str, Any]) -> InputBinding:
    """The binding stored by its ``to_json``.

    Raises:
        PlanFormatError: an unknown ``kind``.
        KeyError, TypeError: a field is missing or malformed (``Plan.from_json`` says
            which plan).
    """
    base: dict[str, Any] = {
        "name": data["name"],
        "mode": data["mode"],
        "style": data["style"],
        "path_on_compute": data.get("path_on_compute"),
        "auto_name": bool(data.get("auto_name", False)),
    }
    kind = data["kind"]
    if kind == DatasetInput.kind:
        param = param_in(data)
        dataset = param or DatasetRef.from_json(data["dataset"])
        return DatasetInput(**base, source=dataset)
    if kind == UpstreamOutputInput.kind:
        view = data.get("view") or {}
        return UpstreamOutputInput(
            **base,
            producer=data["producer"],
            output=data["output"],
            view=OutputView(view.get("tabular"), list(view.get("transforms") or [])),
        )
    if kind == DataPathInput.kind:
        param = param_in(data)
        path = param or DataPathRef(data["datastore"], data.get("path") or "")
        return DataPathInput(**base, source=path)
    raise PlanFormatError(
        f"input '{data['name']}' is of kind {kind!r}; known kinds: dataset, output, datapath"
    )


def _param_data(ref: ParamRef, parameters: Mapping[str, Any], key: str) -> Any:
    value = ref.resolve(parameters)
    if not isinstance(value, dict) or key not in value:
        raise PlanFormatError(
            f"pipeline parameter '{ref.name}' is bound to an input that reads a {key}, "
            f"but its value is {value!r}; pass a {key} as its value"
        )
    return value[key]
