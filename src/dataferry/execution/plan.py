"""Compiling a pipeline graph into a typed ``Plan`` (``plan_model``) the driver runs from.

Everything the driver needs is in the plan (stored in the run's catalog row), so a run can
be driven, resumed or inspected by any process that can open the workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.data.abstract_dataset import AbstractDataset
from dataferry.data.compute_path import normalise_path_on_compute, places_overlap
from dataferry.data.consumption import DatasetConsumptionConfig
from dataferry.data.datapath import DataPath, DataReference
from dataferry.errors import ParameterTypeError, PipelineValidationError
from dataferry.execution import run_layout
from dataferry.execution.environments.spec import spec_of
from dataferry.execution.plan_inputs import (
    DataPathInput,
    DatasetInput,
    InputBinding,
    OutputView,
    UpstreamOutputInput,
)
from dataferry.execution.plan_model import (
    EnvironmentSpec,
    OutputTarget,
    Plan,
    PlanNode,
    Registration,
)
from dataferry.execution.plan_values import (
    ArgumentItem,
    DataPathRef,
    DatasetRef,
    InputArg,
    LiteralArg,
    OutputArg,
    ParamArg,
    ParamRef,
    StepParamArg,
)
from dataferry.execution.snapshot import source_files, take_snapshot
from dataferry.execution.step_kinds import (
    CommandStepKind,
    ParallelStepKind,
    ScriptStepKind,
    StepKind,
)
from dataferry.pipeline.bindings import ArgRef, InputSpec, OutputSpec
from dataferry.pipeline.outputs import (
    OutputDatasetConfig,
    PipelineData,
    PipelineOutputFileDataset,
)
from dataferry.pipeline.parallel_step import ParallelRunStep
from dataferry.pipeline.parameters import PipelineParameter, coerce_override
from dataferry.pipeline.runconfig import DEFAULT_ENVIRONMENT
from dataferry.pipeline.steps import CommandStep, PipelineStep, PythonScriptStep

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from dataferry.data.workspace import Workspace
    from dataferry.pipeline.graph import Node, PipelineGraph

OUTPUT_DATASET_PATH = "dataset/{run-id}/{output-name}"
PIPELINE_DATA_PATH = "azureml/{run-id}/{output-name}"


def serialise_value(value: Any) -> Any:
    """A parameter value as JSON: scalars as is, DataPaths and datasets as dicts."""
    if isinstance(value, DataPath):
        return {
            "datapath": {
                "datastore": value.datastore_name,
                "path": value.path_on_datastore,
            }
        }
    if isinstance(value, AbstractDataset):
        return {"dataset": _dataset(value).to_json()}
    return value


def _dataset(ds: AbstractDataset) -> DatasetRef:
    # the plan is kept in the catalog: local paths as every machine resolves them
    ws = ds.workspace
    definition = ds.definition if ws is None else ds._stored_definition(ws)
    return DatasetRef(ds._kind, definition, ds.id)


# what each kind of ``ArgRef`` (``pipeline.bindings``) becomes in the plan
_ARGUMENT_KINDS: dict[str, type[InputArg | OutputArg | ParamArg | StepParamArg]] = {
    "input": InputArg,
    "output": OutputArg,
    "param": ParamArg,
    "step_param": StepParamArg,
}


def _arguments(args: list[str | ArgRef]) -> tuple[ArgumentItem, ...]:
    # a list comprehension, not a generator: tuple(genexpr) resumes a frame per item
    return tuple(
        [
            _ARGUMENT_KINDS[a.kind](a.name) if isinstance(a, ArgRef) else LiteralArg(a)
            for a in args
        ]
    )


def _param_or(value: Any) -> Any:
    """A ``PipelineParameter`` as a ``ParamRef``; any other value as it is."""
    return ParamRef(value.name) if isinstance(value, PipelineParameter) else value


class PlanCompiler:
    """Turns a validated graph, parameters and options into a ``Plan``."""

    def __init__(
        self,
        graph: PipelineGraph,
        workspace: Workspace,
        workspace_default: str | None = None,
    ) -> None:
        """``workspace_default``: the workspace's default datastore, where outputs go
        that name none, unless the pipeline was given its own ``default_datastore``;
        None reads it from the catalog."""
        self.graph = graph
        self.workspace = workspace
        self.default_datastore = (
            graph.default_datastore.name
            if workspace_default is None
            else graph.default_datastore_name(workspace_default)
        )
        # (producer node id, output name) by id(origin), filled in by ``compile``
        self._producers: dict[int, tuple[str, str]] = {}
        # values most nodes share, made once per plan rather than once per node
        self._kinds: dict[tuple[type, str | bool], StepKind] = {}
        self._plain_view = OutputView()

    def parameters(self, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
        """Default and overridden parameter values, serialised.

        An override is read as its parameter's type (``'3'`` for an int parameter is 3).

        Raises:
            PipelineValidationError: an override names no parameter of the pipeline.
            ParameterTypeError: an override cannot be read as its parameter's type (a
                ``TypeError``); every such override is named.
        """
        params = self.graph.parameters()
        unknown = sorted(set(overrides or {}) - set(params))
        if unknown:
            raise PipelineValidationError(
                [
                    f"Pipeline parameter with name {k} does not exist (parameters: {sorted(params) or 'none'})"
                    for k in unknown
                ]
            )
        values: dict[str, Any] = {}
        problems: list[str] = []
        for name, param in params.items():
            value = param.default_value
            if name in (overrides or {}):
                try:
                    value = coerce_override(param, (overrides or {})[name])
                except ParameterTypeError as exc:
                    problems.append(str(exc))
            values[name] = serialise_value(value)
        if problems:
            raise ParameterTypeError("\n".join(problems))
        return values

    def compile(self) -> Plan:
        """The plan: every node with its command, data bindings and options.

        Raises:
            PipelineValidationError: an input's path_on_compute covers a file of its
                step's source folder, or a step is of a type that cannot run here.
            PipelineTypeError: a step's environment has settings of the wrong type.
        """
        order = self.graph.topological_order()
        # each folder is resolved and snapshotted once, however many steps run in it
        resolved: dict[str | None, Path] = {}
        for node in order:
            given = node.step.source_directory
            if given not in resolved:
                resolved[given] = node.step.resolve_source_directory(
                    self.graph.default_source_directory
                )
        folders = [resolved[node.step.source_directory] for node in order]
        _check_places(order, folders)  # before anything is written
        snapshots: dict[str, tuple[str, str]] = {}
        store = self.workspace.path / "snapshots"
        store.mkdir(parents=True, exist_ok=True)
        self._producers = _producers(self.graph.nodes)
        nodes = []
        for node, folder in zip(order, folders, strict=True):
            key = str(folder)
            if key not in snapshots:
                digest, snap = take_snapshot(folder, store)
                # kept relative to the workspace folder: every machine resolves it
                snapshots[key] = (digest, run_layout.stored_path(self.workspace, snap))
            nodes.append(self._node(node, *snapshots[key]))
        return Plan(tuple(nodes), self.default_datastore, self.graph.description)

    def _node(self, node: Node, snapshot_hash: str, snapshot: str) -> PlanNode:
        step = node.step
        ports = step.ports
        default_runconfig = step.has_default_runconfig
        return PlanNode(
            node_id=node.node_id,
            name=step.name,
            kind=self._kind(step),
            snapshot=snapshot,
            snapshot_hash=snapshot_hash,
            arguments=_arguments(ports.arguments),
            inputs=tuple([self._input(spec) for spec in ports.inputs]),
            outputs=tuple([self._output(spec) for spec in ports.outputs]),
            params=_step_params(ports.params),
            upstream=tuple(node.upstream),
            allow_reuse=step.allow_reuse,
            version=step.version,
            compute_target=step.compute_target,
            # what RunConfiguration() has, without making one; frozen, so shared
            environment=_DEFAULT_ENVIRONMENT if default_runconfig else spec_of(step),
            runconfig_params={
                k: _param_or(v) for k, v in step.runconfig_pipeline_params.items()
            }
            if step.runconfig_pipeline_params
            else {},
            max_run_duration_seconds=None
            if default_runconfig
            else step.runconfig.max_run_duration_seconds,
            step_resources={} if default_runconfig else step.runconfig.step_resources,
        )

    def _kind(self, step: PipelineStep) -> StepKind:
        """The step's kind; one object per script (or shell flag) for the whole plan."""
        key: tuple[type, str | bool] = (
            (CommandStep, step.is_shell)
            if isinstance(step, CommandStep)
            else (type(step), getattr(step, "script_name", ""))
        )
        kind = self._kinds.get(key)
        if kind is None:
            kind = self._kinds[key] = _kind(step)
        return kind

    def _input(self, spec: InputSpec) -> InputBinding:
        obj = spec.obj
        if spec.kind == "output":
            assert spec.origin is not None
            # validate() guarantees a producer in the graph
            producer, output = self._producers[id(spec.origin)]
            inner = obj.dataset if isinstance(obj, DatasetConsumptionConfig) else obj
            tabular = getattr(inner, "_tabular", None)
            transforms = getattr(inner, "_transforms", None)
            view = (
                OutputView(tabular, list(transforms or ()))
                if tabular is not None or transforms
                else self._plain_view
            )
            return UpstreamOutputInput(
                name=spec.name,
                auto_name=spec.auto_name,
                mode=spec.mode,
                style=spec.style,
                path_on_compute=spec.path_on_compute,
                producer=producer,
                output=output,
                view=view,
            )
        base: dict[str, Any] = {
            "name": spec.name,
            "auto_name": spec.auto_name,
            "mode": spec.mode,
            "style": spec.style,
            "path_on_compute": spec.path_on_compute,
        }
        if spec.kind == "dataset":
            inner = obj.dataset
            if isinstance(inner, PipelineParameter):
                return DatasetInput(**base, source=ParamRef(inner.name))
            return DatasetInput(**base, source=_dataset(inner))
        if isinstance(obj, tuple):  # (PipelineParameter(DataPath), binding)
            return DataPathInput(**base, source=ParamRef(obj[0].name))
        ref: DataReference = obj
        path = DataPathRef(ref.datastore_name, ref.path_on_datastore or "")
        return DataPathInput(**base, source=path)

    def _output(self, spec: OutputSpec) -> OutputTarget:
        obj = spec.obj
        registration = getattr(obj, "registration", None)
        register = None
        if registration is not None:
            register = Registration(
                registration.name,
                registration.description,
                registration.tags,
                getattr(spec.obj, "_tabular", None),
                list(getattr(spec.obj, "_transforms", [])),
            )
        if isinstance(obj, PipelineOutputFileDataset):
            obj = obj.pipeline_data
        # keywords written out, not a shared dict splatted: one call per output
        if isinstance(obj, PipelineData):
            store = (
                obj.datastore.name
                if obj.datastore is not None
                else self.default_datastore
            )
            return OutputTarget(
                name=spec.name,
                auto_name=spec.auto_name,
                register=register,
                type="pipeline_data",
                pipeline_output_name=obj._pipeline_output_name,
                mode=obj.output_mode,
                datastore=store,
                path_template=PIPELINE_DATA_PATH,
                overwrite=bool(obj._output_overwrite),
                source=obj._output_path_on_compute
                if obj.output_mode == "upload"
                else None,
            )
        assert isinstance(obj, OutputDatasetConfig)
        dest = obj.destination
        store_obj, path = (
            dest if dest else (self.default_datastore, OUTPUT_DATASET_PATH)
        )
        store = store_obj if isinstance(store_obj, str) else store_obj.name
        return OutputTarget(
            name=spec.name,
            auto_name=spec.auto_name,
            register=register,
            type="dataset_output",
            mode=obj.mode,
            datastore=store.lower(),
            path_template=path,
            overwrite=obj.overwrite,
            source_globs=obj.source_globs,
            source=obj.source,  # the local folder the step writes, in either mode
        )


def _producers(nodes: list[Node]) -> dict[int, tuple[str, str]]:
    """``(node id, output name)`` of every output, by ``id`` of its origin.

    One pass over the graph, so binding an input to its producer is a lookup; where
    two steps list one output (an invalid graph) the first one in ``nodes`` wins.
    """
    found: dict[int, tuple[str, str]] = {}
    for node in nodes:
        for out in node.step.ports.outputs:
            found.setdefault(id(out.origin), (node.node_id, out.name))
    return found


def _step_params(params: Mapping[str, Any]) -> dict[str, str | ParamRef]:
    if not params:
        return {}
    return {
        k: ParamRef(v.name) if isinstance(v, PipelineParameter) else str(v)
        for k, v in params.items()
    }


# the spec of a step with the default run configuration; frozen, so nodes share it
_DEFAULT_ENVIRONMENT = EnvironmentSpec(DEFAULT_ENVIRONMENT, "python", {})


# folders the driver makes in every working folder (AZUREML_OUTPUT_DIRECTORY, logs)
_MADE_IN_WORKING_FOLDER = ("outputs", "logs")


def _check_places(order: list[Node], folders: list[Path]) -> None:
    """Refuse a relative ``path_on_compute`` that would cover the step's own files.

    The working folder is a copy of the source folder; an input placed over one of its
    files or folders would hide (or, for a folder, mix with) the step's code.

    Raises:
        PipelineValidationError: every input placed over a file of its step's snapshot.
    """
    problems = []
    listed: dict[Path, list[str]] = {}
    for node, folder in zip(order, folders, strict=True):
        places = [
            (spec.name, spec.path_on_compute)
            for spec in node.step.ports.inputs
            if spec.path_on_compute and not spec.path_on_compute.startswith("/")
        ]
        if not places:
            continue
        if folder not in listed:
            listed[folder] = source_files(folder)
        for name, written in places:
            place = normalise_path_on_compute(written)
            hit = next((f for f in listed[folder] if places_overlap(place, f)), None)
            if place in _MADE_IN_WORKING_FOLDER:
                hit = place
            if hit is not None:
                problems.append(
                    f"step '{node.step.name}': input '{name}' (path_on_compute "
                    f"{written!r}) would cover '{hit}' in the step's working folder "
                    f"(a copy of {folder}); choose a path_on_compute that is not in "
                    "the source folder"
                )
    if problems:
        raise PipelineValidationError(problems, "pipeline")


def _kind(step: PipelineStep) -> StepKind:
    if isinstance(step, CommandStep):
        return CommandStepKind(step.is_shell)
    if isinstance(step, ParallelRunStep):
        return ParallelStepKind(step.script_name)
    if isinstance(step, PythonScriptStep):
        return ScriptStepKind(step.script_name)
    raise PipelineValidationError(
        [f"step '{step.name}' of type {type(step).__name__} cannot run locally"]
    )
