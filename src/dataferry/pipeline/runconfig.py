"""Run configuration, as in the original SDK, for local runs.

A step's environment (``Environment``, ``CondaDependencies``) is a definition: where
the step runs it resolves to the current interpreter, a cached virtual environment with
the packages it declares, or ``python.interpreter_path`` when the environment is
user-managed (see ``dataferry.execution.environments``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.errors import StepDefinitionError
from dataferry.pipeline.checks import (
    as_dict,
    as_list,
    as_path_text,
    as_str_list,
    check_type,
    type_error,
)
from dataferry.pipeline.conda_dependencies import CondaDependencies
from dataferry.pipeline.environment import Environment
from dataferry.pipeline.step_resources import check_step_resources

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "CondaDependencies",
    "Environment",
    "Estimator",
    "RunConfiguration",
]


# the name of the environment a new RunConfiguration has
DEFAULT_ENVIRONMENT = "default-environment"


class RunConfiguration:
    """Where and with what a step runs: ``.target``, ``.environment``, env variables.

    As in the original SDK, its environment is not user-managed: packages added to it
    (``conda_dependencies=``, or ``rc.environment.python.conda_dependencies``) are
    installed where needed (see the module docstring).

    Raises:
        PipelineTypeError: an argument is of the wrong type (a ``TypeError``).
    """

    def __init__(
        self,
        script: str | None = None,
        arguments: list[Any] | None = None,
        framework: str | None = None,
        communicator: str | None = None,
        conda_dependencies: CondaDependencies | None = None,
        _history_enabled: Any = None,
        _path: Any = None,
        _name: Any = None,
        command: Any = None,
    ) -> None:
        check_type(script, str, "RunConfiguration(): script", "a str")
        check_type(framework, str, "RunConfiguration(): framework", "a str")
        check_type(communicator, str, "RunConfiguration(): communicator", "a str")
        check_type(
            conda_dependencies,
            CondaDependencies,
            "RunConfiguration(): conda_dependencies",
            "a CondaDependencies",
        )
        if command is not None and not isinstance(command, str):
            command = as_list(command, "RunConfiguration(): command")
        self.script = script
        self.arguments = as_list(arguments, "RunConfiguration(): arguments")
        self.command = command or ""
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.node_count = 1
        self._target: str = "local"
        self.environment = Environment(DEFAULT_ENVIRONMENT)
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self.environment_variables: dict[str, str] = {}
        self.max_run_duration_seconds: int | None = None
        self._step_resources: dict[str, Any] = {}

    @property
    def step_resources(self) -> dict[str, Any]:
        """What the step asks its target's nodes for (a dataferry option, see
        ``pipeline.step_resources``): ``num_cpus``, ``num_gpus``, ``memory``
        (bytes), custom ``resources``; ``{}``: only the target's."""
        return dict(self._step_resources)

    @step_resources.setter
    def step_resources(self, value: Any) -> None:
        """Raises PipelineTypeError or StepDefinitionError for a bad ask (at once)."""
        self._step_resources = check_step_resources(
            value, "RunConfiguration.step_resources"
        )

    @property
    def target(self) -> str:
        """The compute target's name."""
        return self._target

    @target.setter
    def target(self, value: Any) -> None:
        self._target = (
            value if isinstance(value, str) else str(getattr(value, "name", value))
        )


class Estimator:
    """Deprecated in the original SDK, kept minimal: a source folder, a script, an environment.

    ``pip_packages``/``conda_packages`` make an environment with packages to install
    (see the module docstring).

    Raises:
        PipelineTypeError: an argument is of the wrong type (a ``TypeError``).
        StepDefinitionError: ``script_params`` given, an empty ``entry_script``, or
            packages given together with ``environment_definition`` (they would be
            dropped).
    """

    def __init__(
        self,
        source_directory: str,
        *,
        compute_target: Any = None,
        entry_script: str,
        script_params: Mapping[str, Any] | None = None,
        environment_definition: Environment | None = None,
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        environment_variables: Mapping[str, str] | None = None,
    ) -> None:
        if script_params:
            raise StepDefinitionError(
                "an Estimator used in EstimatorStep must have no script_params; pass estimator_entry_script_arguments"
            )
        pip = as_str_list(pip_packages, "Estimator(): pip_packages")
        conda = as_str_list(conda_packages, "Estimator(): conda_packages")
        check_type(
            environment_definition,
            Environment,
            "Estimator(): environment_definition",
            "an Environment",
        )
        if environment_definition is not None and (pip or conda):
            raise StepDefinitionError(
                "Estimator(): pip_packages and conda_packages cannot be combined with "
                "environment_definition; declare the packages in the environment"
            )
        if not isinstance(entry_script, str):
            raise type_error("Estimator(): entry_script", "a str", entry_script)
        if not entry_script:
            raise StepDefinitionError("Estimator(): entry_script must not be empty")
        self.source_directory = as_path_text(
            source_directory, "Estimator(): source_directory"
        )
        self.entry_script = entry_script
        self.compute_target = compute_target
        self.run_config = RunConfiguration()
        env = environment_definition or Environment("estimator-environment")
        for package in pip:
            env.python.conda_dependencies.add_pip_package(package)
        for package in conda:
            env.python.conda_dependencies.add_conda_package(package)
        self.run_config.environment = env
        variables = as_dict(environment_variables, "Estimator(): environment_variables")
        for key, value in variables.items():
            check_type(
                value, str, f"Estimator(): environment_variables[{key!r}]", "a str"
            )
        self.run_config.environment_variables = variables
        if compute_target is not None:
            self.run_config.target = compute_target
