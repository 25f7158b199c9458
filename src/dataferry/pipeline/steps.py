"""Pipeline steps: ``PythonScriptStep``, ``CommandStep``, ``EstimatorStep``, ``StepSequence``."""

from __future__ import annotations

import shlex
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import StepDefinitionError
from dataferry.pipeline.bindings import StepPorts
from dataferry.pipeline.parameters import PipelineParameter
from dataferry.pipeline.runconfig import Environment, Estimator, RunConfiguration

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_RUNCONFIG_PARAMS = {
    "NodeCount": "node_count",
    "MaxRunDurationSeconds": "max_run_duration_seconds",
    "TargetCompute": "target",
}


def _target_name(compute_target: Any) -> str | None:
    if compute_target is None:
        return None
    if isinstance(compute_target, str):
        return compute_target
    if isinstance(compute_target, tuple) and compute_target:
        return str(compute_target[0])
    name = getattr(compute_target, "name", None)
    if not isinstance(name, str):
        raise StepDefinitionError(
            f"compute_target must be a name, a (name, type) tuple or a compute object, not {compute_target!r}"
        )
    return name


class PipelineStep:
    """What every step has: a name, ports, a compute target, a reuse flag, run-after edges."""

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
        if not isinstance(name, str) or not name.strip():
            raise StepDefinitionError(
                f"a step name must be a non-empty string, not {name!r}"
            )
        if arguments is not None and isinstance(arguments, str | bytes):
            raise StepDefinitionError(
                f"step '{name}': arguments must be a list, not a string"
            )
        self.name = name
        self.source_directory = source_directory
        self.runconfig = runconfig or RunConfiguration()
        self.compute_target = _target_name(compute_target) or (
            self.runconfig.target if runconfig else None
        )
        self.runconfig_pipeline_params = self._check_runconfig_params(
            runconfig_pipeline_params
        )
        self.allow_reuse = bool(allow_reuse)
        self.version = version
        self.ports = StepPorts(
            name,
            list(arguments or []),
            list(inputs or []),
            list(outputs or []),
            dict(params or {}),
        )
        self._run_after: list[PipelineStep] = []
        for out in self.ports.outputs:
            if self not in out.origin.producers:
                out.origin.producers.append(self)

    def _check_runconfig_params(
        self, params: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        unknown = sorted(set(params or {}) - set(_RUNCONFIG_PARAMS))
        if unknown:
            raise StepDefinitionError(
                f"step '{self.name}': runconfig_pipeline_params has unknown key(s) {unknown}; "
                f"known: {sorted(_RUNCONFIG_PARAMS)}"
            )
        return dict(params or {})

    def run_after(self, step: PipelineStep) -> None:
        """Run this step only after ``step`` has finished."""
        if not isinstance(step, PipelineStep):
            raise StepDefinitionError(
                f"run_after needs a step, not {type(step).__name__}"
            )
        if step is self:
            raise StepDefinitionError(f"step '{self.name}' cannot run after itself")
        self._run_after.append(step)

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
    """Runs a Python script in its own process, with its data bound to paths or datasets."""

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
        if not isinstance(script_name, str) or not script_name:
            raise StepDefinitionError(
                f"script_name must be a non-empty string, not {script_name!r}"
            )
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
    """Runs a command line (a string for the shell, or a list of words and data objects)."""

    def __init__(
        self,
        command: str | Sequence[Any] | None = None,
        name: str | None = None,
        compute_target: Any = None,
        runconfig: RunConfiguration | None = None,
        runconfig_pipeline_params: Mapping[str, Any] | None = None,
        inputs: Sequence[Any] | None = None,
        outputs: Sequence[Any] | None = None,
        params: Mapping[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ) -> None:
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
        words = [command] if isinstance(command, str) else list(command)
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
                raise StepDefinitionError(
                    f"estimator {estimator!r} has no entry_script"
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
    """Steps that run one after the other, in list order."""

    def __init__(self, steps: Sequence[PipelineStep] | None = None) -> None:
        self.steps = list(steps or [])
        for before, after in zip(self.steps, self.steps[1:], strict=False):
            if isinstance(after, PipelineStep) and isinstance(before, PipelineStep):
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
