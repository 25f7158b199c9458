"""Submitting a ``ScriptRunConfig``: a run whose plan is one step.

The script (or command) becomes one ``PythonScriptStep`` (or ``CommandStep``) and is
recorded and driven like any pipeline run, so snapshots (``.amlignore``), datasets in the
arguments, ``OutputFileDatasetConfig`` commits, logs, cancel, resume and the time limit
work as they do for steps. The run is marked ``azureml.scriptrun`` in its options.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import ExperimentExecutionException, PipelineTypeError
from dataferry.pipeline.checks import as_dict
from dataferry.pipeline.steps import CommandStep, PipelineStep, PythonScriptStep

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.execution.experiment import Experiment
    from dataferry.execution.script_run import ScriptRun
    from dataferry.pipeline.script_run_config import ScriptRunConfig

SCRIPT_RUN_TYPE = "azureml.scriptrun"
_SUBMIT_KWARGS = {"run_id", "_parent_run_id", "credential_passthrough"}


def submit_script_run(
    experiment: Experiment,
    config: ScriptRunConfig,
    tags: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
) -> ScriptRun:
    """Record the script run and start it; returns at once.

    ``kwargs`` may hold ``run_id`` (replaces ``<experiment>_<unix time>_<8 hex>``),
    ``_parent_run_id`` (``Run.submit_child``) and ``credential_passthrough``
    (accepted, no effect on a local run).

    Raises:
        PipelineTypeError: an unknown keyword argument, or tags that are not a dict.
        ExperimentExecutionException: the script is not a file in the source folder.
        PipelineValidationError, EnvironmentDefinitionError, EnvironmentBuildError:
            as ``Pipeline.submit`` (a dataset argument that cannot be bound, say).
    """
    from dataferry.execution.pipeline import Pipeline
    from dataferry.execution.script_run import ScriptRun

    unknown = sorted(set(kwargs) - _SUBMIT_KWARGS)
    if unknown:
        raise PipelineTypeError(f"submit() got unexpected keyword arguments {unknown}")
    step = _one_step(config)
    pipeline = Pipeline(experiment.workspace, steps=[step])
    run = pipeline._submit(
        experiment,
        tags=_text_tags(tags),
        parent_run_id=kwargs.get("_parent_run_id"),
        run_id=kwargs.get("run_id"),
        run_type=SCRIPT_RUN_TYPE,
    )
    return ScriptRun(experiment, run.id, _pipeline_run=run)


def _text_tags(tags: Mapping[str, Any] | None) -> dict[str, Any]:
    """As the SDK's ``set_tags``: a value that is not a str is stored as ``str()``."""
    return {
        key: value if value is None or isinstance(value, str) else str(value)
        for key, value in as_dict(tags, "Experiment.submit(): tags").items()
    }


def _one_step(config: ScriptRunConfig) -> PipelineStep:
    """The step the script run's plan holds; the caller's config is not changed.

    Raises:
        ExperimentExecutionException: the script is not a file in the source folder.
    """
    folder = Path(config.source_directory or ".").resolve()
    # the SDK deep-copies the run configuration: later edits of the caller's object
    # do not reach a submitted run
    run_config = copy.deepcopy(config.run_config)
    arguments = list(config.arguments)
    if config.command is not None:
        command = (
            config.command if isinstance(config.command, str) else list(config.command)
        )
        return CommandStep(
            command=command,
            name=_command_name(command),
            runconfig=run_config,
            source_directory=str(folder),
            allow_reuse=False,
        )
    script = (folder / (config.script or "")).resolve()
    if not script.is_file() or not script.is_relative_to(folder):
        raise ExperimentExecutionException(
            f"{script} script path doesn't exist. The script should be inside the "
            f"project folder ({folder}); check ScriptRunConfig(source_directory=..., "
            "script=...)"
        )
    return PythonScriptStep(
        script_name=script.relative_to(folder).as_posix(),
        name=script.name,
        arguments=arguments,
        runconfig=run_config,
        source_directory=str(folder),
        allow_reuse=False,  # a script run always runs, as in the SDK
    )


def _command_name(command: str | list[Any]) -> str:
    import shlex

    first = shlex.split(command)[0] if isinstance(command, str) else command[0]
    return Path(str(first)).name or "command"
