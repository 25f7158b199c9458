"""Experiment: a named group of runs; ``Experiment(ws, name).submit(pipeline)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry._lazy import LazyPattern
from dataferry.errors import InvalidNameError, PipelineTypeError
from dataferry.pipeline.checks import (
    as_dict,
    check_bool,
    check_type,
    check_workspace,
    type_error,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from dataferry.data.workspace import Workspace

_NAME_RE = LazyPattern(r"^[a-zA-Z0-9][\w\-]{0,254}$")
_PIPELINE_KWARGS = {
    "pipeline_parameters",
    "pipeline_params",
    "continue_on_step_failure",
    "regenerate_outputs",
    "parent_run_id",
    "enable_email_notification",
    "credential_passthrough",
    "delete_intermediate_outputs",
}


def validate_experiment_name(name: object) -> str:
    """Raises InvalidNameError unless ``name`` matches ``^[a-zA-Z0-9][\\w\\-]{0,254}$``."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidNameError(
            f"invalid experiment name {name!r}: start with a letter or digit, then up to 254 "
            "letters, digits, '_' or '-'."
        )
    return name


class Experiment:
    """A named group of runs in a workspace.

    Raises:
        PipelineTypeError: ``workspace`` is not a Workspace, ``name`` is not a str, or a
            keyword argument is unknown (a ``TypeError``).
        InvalidNameError: ``name`` breaks the experiment naming rule.
    """

    def __init__(
        self,
        workspace: Workspace,
        name: str,
        _skip_name_validation: bool = False,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise PipelineTypeError(
                f"Experiment() got unexpected keyword arguments {sorted(kwargs)}"
            )
        check_workspace(workspace, "Experiment()")
        check_type(name, str, "Experiment(): name", "a str")
        self.workspace = workspace
        skip = check_bool(_skip_name_validation, "Experiment(): _skip_name_validation")
        self.name = name if skip else validate_experiment_name(name)

    def submit(
        self, config: Any, tags: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Any:
        """Submit a pipeline (-> PipelineRun; the keyword arguments go to
        ``Pipeline.submit``) or a ScriptRunConfig (-> ScriptRun; ``run_id=`` names it).

        Raises:
            PipelineTypeError: ``config`` is neither, ``tags`` is not a dict with
                str keys, or a keyword argument is unknown (a ``TypeError``).
            ExperimentExecutionException: a ScriptRunConfig's script is not in its
                source folder.
            PipelineValidationError, EnvironmentDefinitionError, EnvironmentBuildError,
            ParameterTypeError:
                as ``Pipeline.submit``.
        """
        from dataferry.execution.pipeline import Pipeline
        from dataferry.pipeline.script_run_config import ScriptRunConfig

        if isinstance(config, ScriptRunConfig):
            from dataferry.execution.script_submit import submit_script_run

            return submit_script_run(self, config, tags, kwargs)
        from dataferry.execution.pipeline_endpoint import PipelineEndpoint
        from dataferry.execution.published import PublishedPipeline

        if isinstance(config, PipelineEndpoint):
            if "pipeline_params" in kwargs:
                kwargs["pipeline_parameters"] = kwargs.pop("pipeline_params")
            return config.submit(self.name, **kwargs)
        if isinstance(config, PublishedPipeline):
            if "pipeline_params" in kwargs:  # the SDK's deprecated alias
                kwargs["pipeline_parameters"] = kwargs.pop("pipeline_params")
            return config.submit(self.workspace, self.name, **kwargs)
        if not isinstance(config, Pipeline):
            raise type_error(
                "Experiment.submit(): config",
                "a Pipeline, PublishedPipeline, PipelineEndpoint or ScriptRunConfig",
                config,
            )
        unknown = sorted(set(kwargs) - _PIPELINE_KWARGS)
        if unknown:
            raise PipelineTypeError(
                f"submit() got unexpected keyword arguments {unknown}"
            )
        # as the original SDK's set_tags: a value that is not a str is stored as str()
        text_tags: dict[str, Any] = {
            key: value if value is None or isinstance(value, str) else str(value)
            for key, value in as_dict(tags, "Experiment.submit(): tags").items()
        }
        if "pipeline_params" in kwargs:
            kwargs["pipeline_parameters"] = kwargs.pop("pipeline_params")
        return config._submit(self, tags=text_tags, **kwargs)

    def get_runs(
        self,
        type: str | None = None,
        tags: Any = None,
        properties: Any = None,
        include_children: bool = False,
    ) -> Iterator[Any]:
        """This experiment's runs, newest first: a ScriptRun or a PipelineRun each.

        ``type`` keeps runs of that type (``azureml.scriptrun``,
        ``azureml.PipelineRun``); ``tags`` and ``properties`` (a key, a list of keys or
        a dict) keep runs with those tags (given at submit or set since) and
        properties; child runs (``submit_child``) only with ``include_children``.
        """
        from dataferry.execution.run_listing import experiment_runs

        return experiment_runs(
            self,
            run_type=type,
            tags=tags,
            properties=properties,
            include_children=include_children,
        )

    def start_logging(self, *args: Any, **kwargs: Any) -> Any:
        """An interactive run in this process: ``log`` metrics, then ``complete()``.

        Takes ``(name=None, run_id=None, outputs=None, snapshot_directory='.')`` and the
        keywords ``display_name``, ``description``, ``tags``, as the SDK does.

        Raises:
            PipelineTypeError: an unknown argument.
        """
        from dataferry.execution.interactive_run import start_logging

        return start_logging(self, *args, **kwargs)

    def __repr__(self) -> str:
        return f"Experiment(name='{self.name}', workspace='{self.workspace.name}')"
