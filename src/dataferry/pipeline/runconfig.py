"""Run configuration and environments, as in the original SDK, for local runs.

A user-managed environment (the default here) runs a step with the current interpreter,
or ``python.interpreter_path`` when set. An environment that asks for packages to be
installed is refused at submit with ``EnvironmentNotSupportedError``: building
per-environment virtualenvs is not done yet, and silently skipping it would be wrong.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import EnvironmentNotSupportedError, StepDefinitionError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


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
        """Dependencies from package lists."""
        deps = CondaDependencies()
        deps._pip = list(pip_packages or [])
        deps._conda = list(conda_packages or [])
        deps._python = python_version
        return deps

    def add_conda_package(self, conda_package: str) -> None:
        """Declare a conda package."""
        if conda_package.startswith("python"):
            self._python = conda_package.partition("=")[2] or None
        elif conda_package not in self._conda:
            self._conda.append(conda_package)

    def add_pip_package(self, pip_package: str) -> None:
        """Declare a pip package."""
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
    """``env.docker``: kept for compatibility; local runs use no container."""

    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None
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

    def interpreter(self, step_name: str) -> str:
        """The interpreter a step runs with.

        Raises:
            EnvironmentNotSupportedError: the environment declares packages to install.
        """
        import sys

        packages = self.python.conda_dependencies.packages()
        if packages and not self.python.user_managed_dependencies:
            raise EnvironmentNotSupportedError(
                f"step '{step_name}': environment '{self.name}' asks for packages to be "
                f"installed ({', '.join(packages[:5])}{', ...' if len(packages) > 5 else ''}); "
                "dataferry does not build environments yet. Install them into this "
                "interpreter and set env.python.user_managed_dependencies = True."
            )
        path = self.python.interpreter_path
        return (
            sys.executable if path in ("python", "", None) else os.path.expanduser(path)
        )

    def __repr__(self) -> str:
        return f"Environment(Name: {self.name},\nVersion: {self.version})"


class RunConfiguration:
    """Where and with what a step runs: ``.target``, ``.environment``, env variables."""

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
        self.script = script
        self.arguments = list(arguments or [])
        self.command = command or ""
        self.framework = framework or "Python"
        self.communicator = communicator or "None"
        self.node_count = 1
        self._target: str = "local"
        self.environment = Environment("default-environment")
        self.environment.python.user_managed_dependencies = True
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
            self.environment.python.user_managed_dependencies = False
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
    """Deprecated in the original SDK, kept minimal: a source folder, a script, an environment."""

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
        self.source_directory = source_directory
        self.entry_script = entry_script
        self.compute_target = compute_target
        self.run_config = RunConfiguration()
        env = environment_definition or Environment("estimator-environment")
        if environment_definition is None:
            env.python.user_managed_dependencies = not (pip_packages or conda_packages)
            for p in pip_packages or []:
                env.python.conda_dependencies.add_pip_package(p)
            for p in conda_packages or []:
                env.python.conda_dependencies.add_conda_package(p)
        self.run_config.environment = env
        self.run_config.environment_variables = dict(environment_variables or {})
        if compute_target is not None:
            self.run_config.target = compute_target
