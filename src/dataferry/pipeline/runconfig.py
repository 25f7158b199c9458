"""Run configuration and environments, as in the original SDK, for local runs.

A step runs with the current interpreter, or ``python.interpreter_path`` when set. An
environment that asks for something to be installed or built (conda or pip packages
while ``python.user_managed_dependencies`` is False, or a Docker image from a Dockerfile
or build context) is refused at submit with ``EnvironmentNotSupportedError``, however
it was made: building environments is not done yet, and silently skipping it would be
wrong.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import EnvironmentNotSupportedError, StepDefinitionError
from dataferry.pipeline.checks import (
    as_dict,
    as_list,
    as_path_text,
    as_str_list,
    check_bool,
    check_type,
    type_error,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


# the name of the environment a new RunConfiguration has
DEFAULT_ENVIRONMENT = "default-environment"


class CondaDependencies:
    """The conda and pip packages an environment declares."""

    def __init__(
        self,
        conda_dependencies_file_path: str | None = None,
        _underlying_structure: Any = None,
    ) -> None:
        self._conda: list[str] = []
        self._pip: list[str] = []
        self._channels: list[str] = []
        self._python: str | None = None
        if conda_dependencies_file_path:
            self._load(Path(conda_dependencies_file_path))

    def _load(self, path: Path) -> None:
        import yaml

        data = yaml.safe_load(path.read_text("utf-8")) or {}
        unknown = set(data) - {
            "name",
            "channels",
            "dependencies",
            "prefix",
            "variables",
        }
        if unknown:
            raise StepDefinitionError(
                f"Environment error: unknown {sorted(unknown)[0]!r} key in {path}"
            )
        self._channels = list(data.get("channels") or [])
        for dep in data.get("dependencies") or []:
            if isinstance(dep, dict):
                self._pip.extend(dep.get("pip") or [])
            elif str(dep).startswith("python"):
                self._python = str(dep).partition("=")[2] or None
            else:
                self._conda.append(str(dep))

    @staticmethod
    def create(
        pip_indexurl: str | None = None,
        pip_packages: Iterable[str] | None = None,
        conda_packages: Iterable[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
    ) -> CondaDependencies:
        """Dependencies from package lists.

        ``pip_indexurl`` and ``pin_sdk_version`` only shape how the original SDK would
        install the packages; nothing is installed here (see the module docstring).

        Raises:
            PipelineTypeError: a package list is not a list of str (one str is refused:
                it would be read as one package per character).
        """
        deps = CondaDependencies()
        deps._pip = as_str_list(
            pip_packages, "CondaDependencies.create(): pip_packages"
        )
        deps._conda = as_str_list(
            conda_packages, "CondaDependencies.create(): conda_packages"
        )
        check_type(
            python_version, str, "CondaDependencies.create(): python_version", "a str"
        )
        deps._python = python_version
        return deps

    def add_conda_package(self, conda_package: str) -> None:
        """Declare a conda package.

        Raises:
            PipelineTypeError: ``conda_package`` is not a str.
        """
        if not isinstance(conda_package, str):
            raise type_error(
                "add_conda_package(): conda_package", "a str", conda_package
            )
        if conda_package.startswith("python"):
            self._python = conda_package.partition("=")[2] or None
        elif conda_package not in self._conda:
            self._conda.append(conda_package)

    def add_pip_package(self, pip_package: str) -> None:
        """Declare a pip package.

        Raises:
            PipelineTypeError: ``pip_package`` is not a str.
            StepDefinitionError: it is an option (starts with ``-``), not a package.
        """
        if not isinstance(pip_package, str):
            raise type_error("add_pip_package(): pip_package", "a str", pip_package)
        if pip_package.startswith("-"):
            raise StepDefinitionError(f"Invalid package name {pip_package!r}")
        if pip_package not in self._pip:
            self._pip.append(pip_package)

    def set_python_version(self, version: str) -> None:
        """Pin the Python version."""
        self._python = version

    def get_python_version(self) -> str | None:
        """The pinned Python version, if any."""
        return self._python

    @property
    def conda_packages(self) -> Iterable[str]:
        """Declared conda packages."""
        return iter(list(self._conda))

    @property
    def pip_packages(self) -> Iterable[str]:
        """Declared pip packages."""
        return iter(list(self._pip))

    def packages(self) -> list[str]:
        """Everything that would have to be installed."""
        return [*self._conda, *self._pip]


class PythonSection:
    """``env.python``: how the step's interpreter is chosen."""

    def __init__(self) -> None:
        self.user_managed_dependencies = False
        self.interpreter_path = "python"
        self.conda_dependencies = CondaDependencies()


class DockerSection:
    """``env.docker``: kept for compatibility; local runs use no container.

    ``base_image`` is accepted (the step runs with this interpreter, as for a user-managed
    environment); an image to build (``base_dockerfile``, ``build_context``) is refused
    at submit, since nothing would build it.
    """

    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.build_context: Any = None
        self.shm_size = "2g"


class Environment:
    """A named description of the software a step runs with."""

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"Environment name must be a str, not {type(name).__name__}"
            )
        if kwargs:
            raise TypeError(
                f"Environment() got unexpected keyword arguments {sorted(kwargs)}"
            )
        self.name = name
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}

    @staticmethod
    def from_pip_requirements(
        name: str, file_path: str, pip_version: str | None = None
    ) -> Environment:
        """An environment whose pip packages are the lines of a requirements file."""
        env = Environment(name)
        lines = Path(file_path).read_text("utf-8").splitlines()
        env.python.conda_dependencies._pip = [
            ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")
        ]
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str) -> Environment:
        """An environment from a conda YAML file."""
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    def clone(self, new_name: str) -> Environment:
        """A copy under another name."""
        env = copy.deepcopy(self)
        env.name, env.version = new_name, None
        return env

    def requests(self) -> list[str]:
        """What this environment asks to have installed or built; ``[]`` if nothing.

        Packages count unless ``python.user_managed_dependencies`` is True (then they are
        the user's to install where ``python.interpreter_path`` points). A Docker image
        to build always counts: steps run without Docker here.

        Raises:
            PipelineTypeError: ``python.conda_dependencies`` is not a CondaDependencies,
                or ``python.user_managed_dependencies`` is not a bool.
        """
        where = f"environment '{self.name}'"
        deps = self.python.conda_dependencies
        check_type(
            deps,
            CondaDependencies,
            f"{where}: python.conda_dependencies",
            "a CondaDependencies",
        )
        managed = check_bool(
            self.python.user_managed_dependencies,
            f"{where}: python.user_managed_dependencies",
        )
        asked = []
        if deps is not None and deps.packages() and not managed:
            asked.append(f"packages to be installed ({', '.join(deps.packages())})")
        for setting in ("base_dockerfile", "build_context"):
            if getattr(self.docker, setting, None) is not None:
                asked.append(f"a Docker image built from docker.{setting}")
        return asked

    def interpreter(self, step_name: str) -> str:
        """The interpreter a step runs with.

        Raises:
            EnvironmentNotSupportedError: the environment asks for something to be
                installed or built (see ``requests``).
        """
        import sys

        asked = self.requests()
        if asked:
            raise EnvironmentNotSupportedError(
                refusal(f"step '{step_name}'", self.name, asked)
            )
        path = self.python.interpreter_path
        return (
            sys.executable if path in ("python", "", None) else os.path.expanduser(path)
        )

    def __repr__(self) -> str:
        return f"Environment(Name: {self.name},\nVersion: {self.version})"


def refusal(where: str, environment: str | None, asked: list[str]) -> str:
    """Why an environment is refused, and what to do instead."""
    hints = []
    if any(a.startswith("packages") for a in asked):
        hints.append(
            "Install the packages into this interpreter (or the one "
            "env.python.interpreter_path names) and set "
            "env.python.user_managed_dependencies = True."
        )
    if any("Docker" in a for a in asked):
        hints.append(
            "Steps run without Docker here: leave env.docker.base_dockerfile and "
            "env.docker.build_context unset."
        )
    return (
        f"{where}: environment '{environment}' asks for {' and '.join(asked)}; "
        f"dataferry does not build environments yet. {' '.join(hints)}"
    )


class RunConfiguration:
    """Where and with what a step runs: ``.target``, ``.environment``, env variables.

    As in the original SDK, its environment is not user-managed: packages added to it
    (``conda_dependencies=``, or ``rc.environment.python.conda_dependencies``) are
    packages to install, which submit refuses (see the module docstring).

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

    ``pip_packages``/``conda_packages`` make an environment with packages to install,
    which submit refuses (see the module docstring).

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
