"""A step's inputs, outputs and arguments, normalised from whatever the user passed.

The user may pass dataset configs, output configs, PipelineData, port bindings, data
references, ``(DataPath, DataPathComputeBinding)`` tuples and parameters, in ``inputs``,
``outputs`` or ``arguments``. Here each becomes an ``InputSpec``/``OutputSpec`` and each
argument a literal or a reference to one of them.
"""

from __future__ import annotations

import numbers
import os
from typing import Any

from dataferry._record import record
from dataferry.data.consumption import DatasetConsumptionConfig
from dataferry.data.kinds import (
    is_compute_binding,
    is_data_reference,
    is_datapath,
    is_dataset,
)
from dataferry.errors import StepDefinitionError
from dataferry.pipeline.checks import describe, type_error
from dataferry.pipeline.outputs import (
    InputPortBinding,
    OutputDatasetConfig,
    OutputFileDatasetConfig,
    OutputTabularDatasetConfig,
    PipelineData,
    PipelineOutputFileDataset,
    _Origin,
)
from dataferry.pipeline.parameters import PipelineParameter


# slots: a big pipeline holds one of each per port, and objects without a __dict__
# are half the work for the cyclic garbage collector while the steps are built
@record(slots=True)
class InputSpec:
    """One input of a step.

    ``kind``: ``dataset`` (a dataset or a dataset parameter), ``output`` (another step's
    output, keyed by ``origin``) or ``datapath`` (a path on a datastore).
    ``style``: ``dataset`` inputs appear as env ``{name}`` and in ``run.input_datasets``;
    ``dataref`` ones as ``AZUREML_DATAREFERENCE_{name}``.
    ``auto_name``: the name was generated, not given; it is not part of the step's identity.
    """

    name: str
    kind: str
    mode: str
    style: str
    obj: Any
    path_on_compute: str | None = None
    origin: _Origin | None = None
    auto_name: bool = False


@record(slots=True)
class OutputSpec:
    """One output of a step (an OutputDatasetConfig, a PipelineData or a promoted one)."""

    name: str
    obj: Any
    origin: _Origin
    auto_name: bool = False


@record(frozen=True, slots=True)
class ArgRef:
    """An argument that resolves at run time: ``input``, ``output`` or ``param``."""

    kind: str
    name: str


_DATA_KINDS = (
    "a dataset's as_named_input(...), an OutputFileDatasetConfig or its as_input(...), "
    "a PipelineData or its as_input(...)/as_dataset(), a DataReference or a "
    "(DataPath, DataPathComputeBinding) tuple"
)
ARGUMENT_KINDS = (
    f"a str, int, float, bool, path, PipelineParameter, or data: {_DATA_KINDS}"
)
INPUT_KINDS = f"data: {_DATA_KINDS}"
OUTPUT_KINDS = (
    "an OutputFileDatasetConfig, a PipelineData or a PipelineData's as_dataset()"
)


def _raw_dataset_error(where: str) -> StepDefinitionError:
    return StepDefinitionError(
        f"a Dataset cannot be used directly in {where}. Please call the as_named_input method "
        "(ds.as_named_input('name'), then .as_mount() or .as_download() for files)."
    )


def input_spec(obj: Any, where: str = "a step input") -> InputSpec:
    """Normalise one entry of ``inputs`` (``where`` names it in messages).

    Raises:
        StepDefinitionError: a raw dataset (the original SDK's message).
        PipelineTypeError: something that is not an input (a ``TypeError``).
    """
    if isinstance(obj, DatasetConsumptionConfig):
        inner = obj.dataset
        if isinstance(inner, OutputDatasetConfig | PipelineOutputFileDataset):
            return InputSpec(
                obj.name,
                "output",
                obj.mode,
                "dataset",
                obj,
                obj.path_on_compute,
                inner._origin,
                obj.is_auto_named,
            )
        return InputSpec(
            obj.name,
            "dataset",
            obj.mode,
            "dataset",
            obj,
            obj.path_on_compute,
            auto_name=obj.is_auto_named,
        )
    if is_dataset(obj):
        raise _raw_dataset_error("a step's inputs")
    if isinstance(obj, OutputFileDatasetConfig | OutputTabularDatasetConfig):
        # an output listed as an input: read under the output's name, generated or not
        spec = input_spec(obj.as_input(obj.name))
        spec.auto_name = obj.is_auto_named
        return spec
    if isinstance(obj, PipelineOutputFileDataset):
        return InputSpec(
            obj.name,
            "output",
            obj.mode,
            "dataset",
            obj,
            obj.path_on_compute,
            obj._origin,
        )
    if isinstance(obj, PipelineData):
        return input_spec(obj.create_input_binding())
    if isinstance(obj, InputPortBinding):
        bound = obj.bind_object
        if isinstance(bound, PipelineData):
            return InputSpec(
                obj.name,
                "output",
                obj.bind_mode,
                "dataref",
                obj,
                obj.path_on_compute,
                bound._origin,
            )
        # a DataPath is bound as the reference it makes; a DataReference as it is
        ref = bound.create_data_reference(obj.name) if is_datapath(bound) else bound
        if is_data_reference(ref):
            return InputSpec(
                obj.name, "datapath", obj.bind_mode, "dataref", ref, obj.path_on_compute
            )
        raise type_error(
            f"{where}: input binding '{obj.name}' binds {describe(bound)}; it",
            "a PipelineData, a DataReference or a DataPath",
            bound,
        )
    if is_data_reference(obj):
        if obj.mode == "upload":
            raise StepDefinitionError(
                f"data reference '{obj.data_reference_name}' is in upload mode; list it in outputs"
            )
        return InputSpec(
            obj.data_reference_name,
            "datapath",
            obj.mode,
            "dataref",
            obj,
            obj.path_on_compute,
            auto_name=obj.is_auto_named,
        )
    if isinstance(obj, tuple) and len(obj) == 2 and is_compute_binding(obj[1]):
        path, binding = obj
        if isinstance(path, PipelineParameter):
            if not is_datapath(path.default_value):
                raise StepDefinitionError(
                    f"parameter '{path.name}' in a (DataPath, binding) input must have a DataPath default"
                )
            name = path.name
            return InputSpec(
                name,
                "datapath",
                binding.mode,
                "dataref",
                (path, binding),
                binding.path_on_compute,
            )
        if not is_datapath(path):
            raise type_error(
                f"{where}: the path of a (path, DataPathComputeBinding) pair",
                "a DataPath or a PipelineParameter with a DataPath default",
                path,
            )
        ref = path.create_data_reference(datapath_compute_binding=binding)
        return InputSpec(
            ref.data_reference_name,
            "datapath",
            binding.mode,
            "dataref",
            ref,
            binding.path_on_compute,
            auto_name=ref.is_auto_named,
        )
    raise type_error(where, INPUT_KINDS, obj)


def output_spec(obj: Any, where: str = "a step output") -> OutputSpec:
    """Normalise one entry of ``outputs`` (``where`` names it in messages).

    Raises:
        PipelineTypeError: something that is not an output (a ``TypeError``).
    """
    if isinstance(obj, OutputDatasetConfig):
        return OutputSpec(obj.name, obj, obj._origin, obj.is_auto_named)
    if isinstance(obj, PipelineData):
        return OutputSpec(obj.output_name, obj, obj._origin)
    if isinstance(obj, PipelineOutputFileDataset):
        return OutputSpec(obj.pipeline_data.output_name, obj, obj._origin)
    raise type_error(where, OUTPUT_KINDS, obj)


class StepPorts:
    """A step's inputs, outputs, arguments and params, normalised and checked.

    ``arguments_label`` is what the arguments are called in messages (``arguments``, or
    ``command`` for a CommandStep).

    Raises:
        PipelineTypeError: an entry of ``inputs``, ``outputs`` or ``arguments`` is of a
            kind a step cannot take (a ``TypeError``; the message lists the kinds).
        StepDefinitionError: entries that do not fit together (two inputs with one name,
            data in arguments that is neither an input nor an output, ...).
    """

    __slots__ = (
        "_arg_params",
        "_parameters",
        "arguments",
        "inputs",
        "outputs",
        "params",
        "step_name",
    )

    def __init__(
        self,
        step_name: str,
        arguments: list[Any],
        inputs: list[Any],
        outputs: list[Any],
        params: dict[str, Any],
        *,
        arguments_label: str = "arguments",
    ) -> None:
        self.step_name = step_name
        where = f"step '{step_name}'"
        self.inputs = [
            input_spec(obj, f"{where}: inputs[{i}]") for i, obj in enumerate(inputs)
        ]
        self.outputs = [
            output_spec(obj, f"{where}: outputs[{i}]") for i, obj in enumerate(outputs)
        ]
        self.params = dict(params)
        self._arg_params: list[PipelineParameter] = []
        self.arguments = [
            self._argument(arg, f"{where}: {arguments_label}[{i}]")
            for i, arg in enumerate(arguments)
        ]
        self._check_names()
        # found once: the ports are fixed from here on, and validate(), submit() and
        # the plan each ask for them (a walk of every port of every step each time)
        self._parameters = tuple(self._find_parameters())
        del self._arg_params  # in _parameters now: one list fewer kept per step

    # plain loops: a step has a few ports, and a generator per lookup cost more
    def _find_input(self, origin: _Origin) -> InputSpec | None:
        for spec in self.inputs:
            if spec.origin is origin:
                return spec
        return None

    def _find_output(self, origin: _Origin) -> OutputSpec | None:
        for out in self.outputs:
            if out.origin is origin:
                return out
        return None

    def _named_input(self, name: str | None) -> InputSpec | None:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        return None

    def _argument(self, arg: Any, where: str) -> str | ArgRef:
        # the pipeline's own kinds first: none is a dataset, and they are most arguments
        if isinstance(arg, DatasetConsumptionConfig):
            spec = self._named_input(arg.name)
            if spec is None:
                spec = input_spec(arg, where)
                self.inputs.append(spec)
            return ArgRef("input", spec.name)
        if isinstance(arg, OutputDatasetConfig):
            as_input = self._find_input(arg._origin)
            if as_input is not None:  # also listed in inputs: the reading side
                return ArgRef("input", as_input.name)
            out = self._find_output(arg._origin)
            if out is None:
                out = output_spec(arg)
                self.outputs.append(out)
            return ArgRef("output", out.name)
        if isinstance(arg, PipelineData | PipelineOutputFileDataset):
            out = self._find_output(arg._origin)
            if out is not None:
                return ArgRef("output", out.name)
            found = self._find_input(arg._origin)
            if found is None:
                raise StepDefinitionError(
                    f"step '{self.step_name}': {arg!r} is in arguments but in neither inputs "
                    "nor outputs; add it to outputs=[...] if this step writes it, or to "
                    "inputs=[...] if it reads it"
                )
            return ArgRef("input", found.name)
        if isinstance(arg, InputPortBinding) or is_data_reference(arg):
            name = (
                arg.name
                if isinstance(arg, InputPortBinding)
                else arg.data_reference_name
            )
            spec = self._named_input(name)
            if spec is None:
                raise StepDefinitionError(
                    f"step '{self.step_name}': input '{name}' is in arguments but not in "
                    "inputs=[...]; add it there too"
                )
            return ArgRef("input", spec.name)
        if isinstance(arg, tuple) and len(arg) == 2 and is_compute_binding(arg[1]):
            # a (DataPath or DataPath parameter, binding) pair: the bound path, as an input
            path = arg[0]
            bound = (
                path.name
                if isinstance(path, PipelineParameter)
                else getattr(path, "_name", None)
            )
            spec = self._named_input(bound)
            if spec is None:
                spec = input_spec(arg, where)
                self.inputs.append(spec)
            return ArgRef("input", spec.name)
        if is_dataset(arg):
            raise _raw_dataset_error("a step's arguments")
        if isinstance(arg, PipelineParameter):
            self._arg_params.append(arg)
            return ArgRef("param", arg.name)
        if (
            isinstance(arg, str)
            and arg.startswith("parameter:")
            and arg[len("parameter:") :] in self.params
        ):
            return ArgRef("step_param", arg[len("parameter:") :])
        if isinstance(arg, str | numbers.Real):
            return str(arg)
        text = os.fspath(arg) if isinstance(arg, os.PathLike) else None
        if isinstance(text, str):
            return text
        raise type_error(where, ARGUMENT_KINDS, arg)

    def _check_names(self) -> None:
        seen: set[str] = set()
        for spec in self.inputs:
            if spec.name in seen:
                raise StepDefinitionError(
                    f"step '{self.step_name}': two inputs are named '{spec.name}'"
                )
            seen.add(spec.name)
        out_seen: set[str] = set()
        for out in self.outputs:
            if out.name in out_seen:
                raise StepDefinitionError(
                    f"step '{self.step_name}': two outputs are named '{out.name}'"
                )
            out_seen.add(out.name)
        for spec in self.inputs:  # as the original SDK: the input gets renamed
            if spec.name in out_seen:
                old = spec.name
                spec.name = f"INPUT_{old}"
                self.arguments = [
                    ArgRef("input", spec.name) if a == ArgRef("input", old) else a
                    for a in self.arguments
                ]

    def parameters(self) -> list[PipelineParameter]:
        """Every PipelineParameter the step uses: arguments, params, dataset inputs
        (a new list each call)."""
        return list(self._parameters)

    def _find_parameters(self) -> list[PipelineParameter]:
        found: list[PipelineParameter] = list(self._arg_params)
        for value in self.params.values():
            if isinstance(value, PipelineParameter):
                found.append(value)
        for spec in self.inputs:
            obj = spec.obj
            inner = getattr(obj, "dataset", None)
            if isinstance(inner, PipelineParameter):
                found.append(inner)
            if isinstance(obj, tuple) and isinstance(obj[0], PipelineParameter):
                found.append(obj[0])
        return found
