"""Experiment: a named group of runs; ``Experiment(ws, name).submit(pipeline)``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

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
    from dataferry.execution.pipeline_run import PipelineRun

_NAME_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,254}$")
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
    ) -> PipelineRun:
        """Submit a pipeline; the keyword arguments go to ``Pipeline.submit``.

        Raises:
            PipelineTypeError: ``config`` is not a pipeline, ``tags`` is not a dict with
                str keys, or a keyword argument is unknown (a ``TypeError``).
            PipelineValidationError, EnvironmentDefinitionError, EnvironmentBuildError,
            ParameterTypeError:
                as ``Pipeline.submit``.
        """
        from dataferry.execution.pipeline import Pipeline

        if not isinstance(config, Pipeline):
            raise type_error("Experiment.submit(): config", "a Pipeline", config)
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

    def get_runs(self) -> Iterator[PipelineRun]:
        """This experiment's runs, newest first."""
        from dataferry.catalog.run_store import RunStore
        from dataferry.execution.pipeline_run import PipelineRun

        for record in RunStore(self.workspace.catalog).list_runs(
            experiment=self.name, limit=10_000
        ):
            yield PipelineRun(self, record.id)

    def __repr__(self) -> str:
        return f"Experiment(name='{self.name}', workspace='{self.workspace.name}')"
