"""A step's environment as the plan's spec: what it asks for, not yet resolved.

Apart from the resolution and building (``resolve``, ``requirements``, ``venvs``, which
load ``packaging``): compiling a plan in the submitting script needs only this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.execution.plan_model import EnvironmentSpec
from dataferry.pipeline.runconfig import DEFAULT_ENVIRONMENT

if TYPE_CHECKING:
    from dataferry.pipeline.steps import PipelineStep


def spec_of(step: PipelineStep) -> EnvironmentSpec:
    """The step's environment as a plan spec (what it asks for, not yet resolved).

    Raises:
        PipelineTypeError: the environment has settings of the wrong type.
    """
    if step.has_default_runconfig:  # what RunConfiguration() has, without making one
        return EnvironmentSpec(DEFAULT_ENVIRONMENT, "python", {})
    env = step.environment
    return EnvironmentSpec(
        env.name,
        env.python.interpreter_path or None,
        {**env.environment_variables, **step.runconfig.environment_variables},
        env.request(),
    )
