"""Pipeline steps: ``PythonScriptStep``, ``CommandStep``, ``EstimatorStep``, ``StepSequence``."""

from __future__ import annotations

import numbers
import shlex
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import StepDefinitionError
from dataferry.pipeline.bindings import StepPorts
from dataferry.pipeline.checks import (
    as_dict,
    as_list,
    as_path_text,
    check_bool,
    check_type,
    type_error,
)
from dataferry.pipeline.parameters import PipelineParameter
from dataferry.pipeline.runconfig import Environment, Estimator, RunConfiguration
from dataferry.pipeline.script_run_config import ScriptRunConfig

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_RUNCONFIG_PARAMS = {
    "NodeCount": "node_count",
    "MaxRunDurationSeconds": "max_run_duration_seconds",
    "TargetCompute": "target",
}
# what each runconfig_pipeline_params key takes besides a PipelineParameter
_RUNCONFIG_PARAM_KINDS: dict[str, tuple[type, str]] = {
    "NodeCount": (int, "an int"),
    "MaxRunDurationSeconds": (int, "an int"),
    "TargetCompute": (str, "a str"),
}
_PARAM_KINDS = "a str, int, float, bool or PipelineParameter"


def _target_name(compute_target: Any, where: str) -> str | None:
    if compute_target is None:
        return None
    if isinstance(compute_target, str):
        return compute_target
    if isinstance(compute_target, tuple) and compute_target:
        if isinstance(compute_target[0], str):
            return compute_target[0]
    else:
        name = getattr(compute_target, "name", None)
        if isinstance(name, str):
            return name
    raise type_error(
        f"{where}: compute_target",
        "a name, a (name, type) tuple or a compute object with a name",
        compute_target,
    )


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | numbers.Real)


def _params(params: Any, where: str) -> dict[str, Any]:
    checked = as_dict(params, f"{where}: params")
    for key, value in checked.items():
        if not (_is_scalar(value) or isinstance(value, PipelineParameter)):
            raise type_error(f"{where}: params[{key!r}]", _PARAM_KINDS, value)
    return checked


def _listed(value: Any, where: str, label: str) -> list[Any]:
    """``as_list`` of a step argument; a list passes as it is (``StepPorts`` copies)."""
    if type(value) is list:
        return value
    return as_list(value, f"{where}: {label}")


def _version(version: Any, where: str) -> str | None:
    if version is None or isinstance(version, str):
        return version
    if isinstance(version, int) and not isinstance(version, bool):
        return str(version)  # an opaque tag: 2 and '2' mean the same
    raise type_error(f"{where}: version", "a str", version)


class PipelineStep:
    """What every step has: a name, ports, a compute target, a reuse flag, run-after edges.

    Raises:
        PipelineTypeError: an argument is of the wrong type (a ``TypeError``).
        StepDefinitionError: an argument has a wrong value (an empty name, ...).
    """

    _ARGUMENTS = "arguments"  # what the arguments are called in messages

    def __init__(
        self,
        name: str,
        *,
        arguments: Sequence[Any] | None,
        inputs: Sequence[Any] | None,
        outputs: Sequence[Any] | None,
        params: Mapping[str, Any] | None,
        source_directory: str | None,
        compute_target: Any,
        runconfig: RunConfiguration | None,
        runconfig_pipeline_params: Mapping[str, Any] | None,
        allow_reuse: bool,
        version: str | None,
    ) -> None:
        if not isinstance(name, str):
            raise type_error("a step's name", "a str", name)
        if not name.strip():
            raise StepDefinitionError(
                f"a step name must be a non-empty string, not {name!r}"
            )
        where = f"step '{name}'"
        check_type(
            runconfig, RunConfiguration, f"{where}: runconfig", "a RunConfiguration"
        )
        self.name = name
        # each check below is called only for a value of an unusual type: building a
        # message per argument per step was a fifth of building 10,000 steps
        self.source_directory = (
            source_directory
            if source_directory is None or type(source_directory) is str
            else as_path_text(source_directory, f"{where}: source_directory")
        )
        # None stands for a default RunConfiguration, made only when asked for: most
        # steps never are, and making one per step was a third of building 10,000 steps
        self._runconfig = runconfig
        self.compute_target = _target_name(compute_target, where) or (
            runconfig.target if runconfig else None
        )
        self.runconfig_pipeline_params = (
            {}
            if runconfig_pipeline_params is None
            else self._check_runconfig_params(
                as_dict(
                    runconfig_pipeline_params, f"{where}: runconfig_pipeline_params"
                )
            )
        )
        self.allow_reuse = (
            allow_reuse
            if allow_reuse is True or allow_reuse is False
            else check_bool(allow_reuse, f"{where}: allow_reuse")
        )
        self.version = None if version is None else _version(version, where)
        self.ports = StepPorts(
            name,
            _listed(arguments, where, self._ARGUMENTS),
            _listed(inputs, where, "inputs"),
            _listed(outputs, where, "outputs"),
            {} if params is None else _params(params, where),
            arguments_label=self._ARGUMENTS,
        )
        self._run_after: list[PipelineStep] = []
        for out in self.ports.outputs:
            if self not in out.origin.producers:
                out.origin.producers.append(self)

    def _check_runconfig_params(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params:
            return params
        unknown = sorted(set(params) - set(_RUNCONFIG_PARAMS))
        if unknown:
            raise StepDefinitionError(
                f"step '{self.name}': runconfig_pipeline_params has unknown key(s) {unknown}; "
                f"known: {sorted(_RUNCONFIG_PARAMS)}"
            )
        for key, value in params.items():
            kind, label = _RUNCONFIG_PARAM_KINDS[key]
            if isinstance(value, bool) or not isinstance(
                value, kind | PipelineParameter
            ):
                raise type_error(
                    f"step '{self.name}': runconfig_pipeline_params[{key!r}]",
                    f"{label} or a PipelineParameter",
                    value,
                )
        return params

    def run_after(self, step: PipelineStep) -> None:
        """Run this step only after ``step`` has finished.

        Raises:
            PipelineTypeError: ``step`` is not a step.
            StepDefinitionError: ``step`` is this step.
        """
        if not isinstance(step, PipelineStep):
            raise type_error(f"step '{self.name}': run_after(step)", "a step", step)
        if step is self:
            raise StepDefinitionError(f"step '{self.name}' cannot run after itself")
        self._run_after.append(step)

    @property
    def runconfig(self) -> RunConfiguration:
        """The step's run configuration (a default one unless one was given or set)."""
        if self._runconfig is None:
            self._runconfig = RunConfiguration()
        return self._runconfig

    @runconfig.setter
    def runconfig(self, value: RunConfiguration) -> None:
        self._runconfig = value

    @property
    def has_default_runconfig(self) -> bool:
        """True while the step's run configuration is the untouched default.

        Nothing has asked for it yet, so it is a fresh ``RunConfiguration()``: its
        environment asks for nothing and sets no variables.
        """
        return self._runconfig is None

    @property
    def environment(self) -> Environment:
        """The step's environment (from its run configuration)."""
        return self.runconfig.environment

    def resolve_source_directory(self, default: str | None) -> Path:
        """The folder snapshotted as the step's working directory."""
        return Path(self.source_directory or default or ".").resolve()

    def check_files(self, default_source_directory: str | None) -> None:
        """Fail if what the step runs is missing (called when the pipeline is built)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class PythonScriptStep(PipelineStep):
    """Runs a Python script in its own process, with its data bound to paths or datasets.

    Raises:
        PipelineTypeError: an argument is of the wrong type (a ``TypeError``): the
            message names it and the types it takes.
        StepDefinitionError: an argument has a wrong value (an empty ``script_name``,
            a raw dataset in ``inputs``, two inputs with one name, ...).
    """

    def __init__(
        self,
        script_name: str,
        name: str | None = None,
        arguments: Sequence[Any] | None = None,
        compute_target: Any = None,
        runconfig: RunConfiguration | None = None,
        runconfig_pipeline_params: Mapping[str, Any] | None = None,
        inputs: Sequence[Any] | None = None,
        outputs: Sequence[Any] | None = None,
        params: Mapping[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
        hash_paths: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(script_name, str):
            raise type_error(
                f"{type(self).__name__}: script_name", "a str", script_name
            )
        if not script_name:
            raise StepDefinitionError(
                f"script_name must be a non-empty string, not {script_name!r}"
            )
        if name is not None and not isinstance(name, str):
            raise type_error(f"{type(self).__name__}: name", "a str", name)
        if hash_paths is not None:
            warnings.warn(
                "hash_paths is deprecated and has no effect: the whole source_directory is "
                "always part of the step's fingerprint",
                DeprecationWarning,
                stacklevel=2,
            )
        self.script_name = script_name
        super().__init__(
            name or script_name,
            arguments=arguments,
            inputs=inputs,
            outputs=outputs,
            params=params,
            source_directory=source_directory,
            compute_target=compute_target,
            runconfig=runconfig,
            runconfig_pipeline_params=runconfig_pipeline_params,
            allow_reuse=allow_reuse,
            version=version,
        )

    def check_files(self, default_source_directory: str | None) -> None:
        """The script must exist in the source directory.

        Raises:
            StepDefinitionError: ``Step [name]: script not found at: ...``.
        """
        folder = self.resolve_source_directory(default_source_directory)
        script = folder / self.script_name
        if not script.is_file():
            raise StepDefinitionError(
                f"Step [{self.name}]: script not found at: {script}. Make sure the script is "
                f"inside source_directory ({folder})."
            )


class CommandStep(PipelineStep):
    """Runs a command line (a string for the shell, or a list of words and data objects).

    ``runconfig`` may be a ScriptRunConfig: its command (or ``python <script>
    <arguments>``), source folder and run configuration are the step's.

    Raises:
        PipelineTypeError: an argument is of the wrong type (a ``TypeError``).
        StepDefinitionError: no command, or an argument has a wrong value.
    """

    _ARGUMENTS = "command"

    def __init__(
        self,
        command: str | Sequence[Any] | None = None,
        name: str | None = None,
        compute_target: Any = None,
        runconfig: RunConfiguration | ScriptRunConfig | None = None,
        runconfig_pipeline_params: Mapping[str, Any] | None = None,
        inputs: Sequence[Any] | None = None,
        outputs: Sequence[Any] | None = None,
        params: Mapping[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ) -> None:
        if isinstance(runconfig, ScriptRunConfig):
            # as the SDK: the command, folder and run configuration of a ScriptRunConfig
            command = command if command is not None else _script_command(runconfig)
            source_directory = source_directory or runconfig.source_directory
            runconfig = runconfig.run_config
        check_type(
            runconfig,
            RunConfiguration,
            "CommandStep: runconfig",
            "a RunConfiguration or a ScriptRunConfig",
        )
        check_type(name, str, "CommandStep: name", "a str")
        command = (
            command
            if command is not None
            else (runconfig.command if runconfig else None)
        )
        if not command:
            raise StepDefinitionError(
                "CommandStep needs a command (a string or a list)"
            )
        self.is_shell = isinstance(command, str)
        words = (
            [command]
            if isinstance(command, str)
            else as_list(command, "CommandStep: command")
        )
        default_name = (
            shlex.split(command)[0] if isinstance(command, str) else str(words[0])
        )
        super().__init__(
            name or default_name,
            arguments=words,
            inputs=inputs,
            outputs=outputs,
            params=params,
            source_directory=source_directory,
            compute_target=compute_target,
            runconfig=runconfig,
            runconfig_pipeline_params=runconfig_pipeline_params,
            allow_reuse=allow_reuse,
            version=version,
        )


def _script_command(config: ScriptRunConfig) -> str | list[Any]:
    """A ScriptRunConfig's command: its own, else ``python <script> <arguments>``."""
    if config.command is not None:
        return config.command
    return ["python", config.script, *config.arguments]


class EstimatorStep(PythonScriptStep):
    """Deprecated in the original SDK (use CommandStep); runs an ``Estimator``'s entry script."""

    def __init__(
        self,
        name: str | None = None,
        estimator: Estimator | None = None,
        estimator_entry_script_arguments: Sequence[Any] | None = None,
        runconfig_pipeline_params: Mapping[str, Any] | None = None,
        inputs: Sequence[Any] | None = None,
        outputs: Sequence[Any] | None = None,
        compute_target: Any = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ) -> None:
        warnings.warn(
            "EstimatorStep is deprecated; use CommandStep or PythonScriptStep",
            DeprecationWarning,
            stacklevel=2,
        )
        if estimator is None:
            raise StepDefinitionError("EstimatorStep needs an estimator")
        if compute_target is None:
            raise StepDefinitionError("EstimatorStep needs a compute_target")
        if estimator_entry_script_arguments is None:
            raise StepDefinitionError(
                "EstimatorStep needs estimator_entry_script_arguments (use [] for none)"
            )
        if isinstance(estimator, Estimator):
            source, script, runconfig = (
                estimator.source_directory,
                estimator.entry_script,
                estimator.run_config,
            )
        else:  # an estimator-like object from the original SDK's shape
            source = getattr(estimator, "source_directory", None)
            script = getattr(estimator, "entry_script", None) or getattr(
                estimator, "script", None
            )
            runconfig = getattr(estimator, "run_config", None)
            if not script:
                raise type_error(
                    "EstimatorStep: estimator",
                    "an Estimator (or an object with an entry_script)",
                    estimator,
                )
        super().__init__(
            script,
            name=name,
            arguments=estimator_entry_script_arguments,
            compute_target=compute_target,
            runconfig=runconfig,
            runconfig_pipeline_params=runconfig_pipeline_params,
            inputs=inputs,
            outputs=outputs,
            source_directory=source,
            allow_reuse=allow_reuse,
            version=version,
        )


class StepSequence:
    """Steps that run one after the other, in list order.

    Raises:
        PipelineTypeError: ``steps`` is not a list of steps.
    """

    def __init__(self, steps: Sequence[PipelineStep] | None = None) -> None:
        self.steps = as_list(steps, "StepSequence: steps")
        for i, step in enumerate(self.steps):  # all checked before any edge is added
            if not isinstance(step, PipelineStep):
                raise type_error(f"StepSequence: steps[{i}]", "a step", step)
        for before, after in zip(self.steps, self.steps[1:], strict=False):
            after.run_after(before)


def parameter_objects(step: PipelineStep) -> list[PipelineParameter]:
    """Every PipelineParameter a step refers to, including its runconfig params."""
    found = step.ports.parameters()
    found += [
        v
        for v in step.runconfig_pipeline_params.values()
        if isinstance(v, PipelineParameter)
    ]
    return found
