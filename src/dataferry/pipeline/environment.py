"""``Environment``: a named, versioned description of the software a step runs with.

A definition, as in the original SDK. What it asks for (``request``) goes into the run's
plan; where the step runs, ``dataferry.execution.environments`` resolves it to the
current interpreter (when that already satisfies every requirement) or to a virtual
environment built once and cached in the workspace. ``register``, ``get`` and ``list``
keep versions in the workspace's catalog through the workspace object, as
``Dataset.register`` does; building a pipeline never calls them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry._extras import import_extra
from dataferry._lazy import LazyPattern
from dataferry.errors import (
    EnvironmentArgumentError,
    EnvironmentDefinitionError,
    EnvironmentNotFoundError,
)
from dataferry.pipeline.checks import check_bool, check_type, type_error
from dataferry.pipeline.conda_dependencies import CondaDependencies

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dataferry.data.workspace import Workspace

# names the original SDK reserves for Microsoft's curated environments
CURATED_PREFIXES = ("AzureML-", "Microsoft-")
ENVIRONMENT_FILE = "azureml_environment.json"
CONDA_FILE = "conda_dependencies.yml"
DOCKERFILE = "BaseDockerfile"
_PYTHON_VERSION = LazyPattern(r"^\d+(\.\d+){0,2}(\.\*)?$")


def is_curated(name: str | None) -> bool:
    """Whether ``name`` is a curated environment's (``AzureML-...``)."""
    return bool(name) and str(name).startswith(CURATED_PREFIXES)


class PythonSection:
    """``env.python``: how the step's interpreter is chosen.

    ``user_managed_dependencies=True`` runs ``interpreter_path`` as given and installs
    nothing; False (the default) installs ``conda_dependencies`` where needed.
    """

    def __init__(self) -> None:
        self.user_managed_dependencies = False
        self.interpreter_path = "python"
        self.conda_dependencies = CondaDependencies()


class DockerSection:
    """``env.docker``: accepted and recorded; steps run without containers here, and the
    step log and run details say the settings were not applied."""

    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.build_context: Any = None
        self.shm_size = "2g"
        self.arguments: list[str] = []

    def settings(self) -> dict[str, Any]:
        """The settings that differ from a fresh section's (``{}`` if none)."""
        fresh = DockerSection()
        return {
            key: value if key != "build_context" else str(value)
            for key, value in vars(self).items()
            if value != getattr(fresh, key)
        }


class Environment:
    """A named description of the software a step runs with.

    Args:
        name: the environment's name (None for an unnamed one, which cannot be
            registered).

    Raises:
        TypeError: ``name`` is not a str, or a keyword argument is given.
    """

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
        self._curated = False

    # -- made from files --------------------------------------------------------------

    @classmethod
    def from_pip_requirements(
        cls, name: str, file_path: str, pip_version: str | None = None
    ) -> Environment:
        """An environment whose pip packages are the lines of a requirements file.

        Every line is kept (options such as ``--extra-index-url`` go to pip as they
        are); the conda package ``pip`` (``pip=<pip_version>``) is added as in the SDK.
        The build uses this machine's pip, so a pip version is recorded, not installed.

        Raises:
            EnvironmentDefinitionError: the file does not exist.
        """
        env = cls(name)
        try:
            lines = Path(file_path).read_text("utf-8").splitlines()
        except FileNotFoundError as exc:
            raise EnvironmentDefinitionError(
                f"requirements file {file_path} does not exist (environment '{name}')"
            ) from exc
        deps = env.python.conda_dependencies
        deps.set_pip_requirements(
            [
                ln.strip()
                for ln in lines
                if ln.strip() and not ln.strip().startswith("#")
            ]
        )
        deps.add_conda_package(f"pip={pip_version}" if pip_version else "pip")
        return env

    @classmethod
    def from_conda_specification(cls, name: str, file_path: str) -> Environment:
        """An environment from a conda YAML file.

        Raises:
            EnvironmentDefinitionError: the file is missing, not YAML, or has a key
                conda does not know.
        """
        env = cls(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    def clone(self, new_name: str) -> Environment:
        """A copy under another name, with no version (and no longer curated)."""
        env = copy.deepcopy(self)
        env.name, env.version, env._curated = new_name, None, False
        return env

    # -- what it asks for -------------------------------------------------------------

    def request(self) -> dict[str, Any] | None:
        """What this environment asks of the machine a step runs on; None for nothing.

        Keys: ``pip``, ``conda``, ``pip_options``, ``channels``, ``python`` (when it
        installs packages or pins Python), ``unmanaged`` (packages a user-managed
        environment declares, which are the user's to install), ``docker`` (settings
        recorded, not applied), ``curated`` (a curated name served by this interpreter).

        Raises:
            PipelineTypeError: ``python.conda_dependencies`` is not a CondaDependencies,
                or ``python.user_managed_dependencies`` is not a bool.
        """
        where = f"environment '{self.name}'"
        deps = self.python.conda_dependencies
        if not isinstance(deps, CondaDependencies):
            raise type_error(
                f"{where}: python.conda_dependencies", "a CondaDependencies", deps
            )
        managed = not check_bool(
            self.python.user_managed_dependencies,
            f"{where}: python.user_managed_dependencies",
        )
        asked: dict[str, Any] = {}
        python = deps.get_python_version()
        if managed and (deps.packages() or python or list(deps.pip_options)):
            asked.update(
                pip=list(deps.pip_packages),
                conda=list(deps.conda_packages),
                pip_options=list(deps.pip_options),
                channels=list(deps.conda_channels),
                python=python,
            )
        elif not managed and deps.packages():
            asked["unmanaged"] = deps.packages()
        docker = self.docker.settings()
        if docker:
            asked["docker"] = docker
        if self._curated:
            asked["curated"] = True
        return asked or None

    def problems(self) -> list[str]:
        """What in this environment cannot be used (``[]`` if nothing): a Python
        version that is not one, an empty package spec.

        Raises:
            PipelineTypeError: see ``request``.
        """
        asked = self.request() or {}
        where = f"environment '{self.name}'"
        found = []
        python = asked.get("python")
        if python is not None and not _PYTHON_VERSION.match(python):
            found.append(
                f"{where}: python version {python!r} is not a version (write e.g. '3.11')"
            )
        found.extend(
            f"{where}: an empty package spec in its {kind} packages"
            for kind in ("pip", "conda")
            if any(not p.strip() for p in asked.get(kind, []))
        )
        return found

    # -- saved as files ---------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The SDK's camelCase JSON form (``name``, ``version``, ``python``, ``docker``)."""
        python = self.python
        deps = python.conda_dependencies
        docker = self.docker
        return {
            "name": self.name,
            "version": self.version,
            "environmentVariables": dict(self.environment_variables),
            "python": {
                "userManagedDependencies": python.user_managed_dependencies,
                "interpreterPath": python.interpreter_path,
                "condaDependencies": deps.as_dict(),
            },
            "docker": {
                "enabled": docker.enabled,
                "baseImage": docker.base_image,
                "baseDockerfile": docker.base_dockerfile,
                "buildContext": None
                if docker.build_context is None
                else str(docker.build_context),
                "shmSize": docker.shm_size,
                "arguments": list(docker.arguments),
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Environment:
        """The environment ``to_dict`` describes.

        Raises:
            EnvironmentDefinitionError: ``data`` is not such a description.
        """
        try:
            env = cls(data["name"])
            env.version = data.get("version")
            env.environment_variables = dict(data.get("environmentVariables") or {})
            python = data.get("python") or {}
            env.python.user_managed_dependencies = bool(
                python.get("userManagedDependencies", False)
            )
            env.python.interpreter_path = python.get("interpreterPath") or "python"
            env.python.conda_dependencies = CondaDependencies(
                _underlying_structure=python.get("condaDependencies") or {}
            )
            docker = data.get("docker") or {}
            env.docker.enabled = bool(docker.get("enabled", False))
            env.docker.base_image = docker.get("baseImage")
            env.docker.base_dockerfile = docker.get("baseDockerfile")
            env.docker.build_context = docker.get("buildContext")
            env.docker.shm_size = docker.get("shmSize") or "2g"
            env.docker.arguments = list(docker.get("arguments") or [])
        except (KeyError, TypeError, AttributeError) as exc:
            raise EnvironmentDefinitionError(
                f"not an environment description ({type(exc).__name__}: {exc})"
            ) from exc
        return env

    def save_to_directory(self, path: str, overwrite: bool = False) -> None:
        """Write the environment to a folder: ``azureml_environment.json``,
        ``conda_dependencies.yml`` and, if set, ``BaseDockerfile``.

        Raises:
            EnvironmentDefinitionError: the folder exists and ``overwrite`` is False.
        """
        folder = Path(path)
        if folder.exists() and not overwrite:
            raise EnvironmentDefinitionError(
                f"cannot save environment '{self.name}' to {path}: the folder exists; "
                "pass overwrite=True to replace its files"
            )
        folder.mkdir(parents=True, exist_ok=True)
        data = self.to_dict()
        conda = data["python"].pop("condaDependencies")
        (folder / ENVIRONMENT_FILE).write_text(json.dumps(data, indent=2), "utf-8")
        (folder / CONDA_FILE).write_text(_yaml(conda), "utf-8")
        if self.docker.base_dockerfile is not None:
            (folder / DOCKERFILE).write_text(self.docker.base_dockerfile, "utf-8")

    @classmethod
    def load_from_directory(cls, path: str) -> Environment:
        """The environment ``save_to_directory`` wrote.

        Raises:
            EnvironmentDefinitionError: the folder has no ``azureml_environment.json``,
                or a file in it cannot be read.
        """
        folder = Path(path)
        described = folder / ENVIRONMENT_FILE
        if not described.is_file():
            raise EnvironmentDefinitionError(
                f"{path} holds no saved environment: {ENVIRONMENT_FILE} is missing "
                "(save one with env.save_to_directory(path))"
            )
        try:
            data = json.loads(described.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise EnvironmentDefinitionError(f"{described} is not JSON: {exc}") from exc
        env = cls.from_dict(data)
        if (folder / CONDA_FILE).is_file():
            env.python.conda_dependencies = CondaDependencies(str(folder / CONDA_FILE))
        if (folder / DOCKERFILE).is_file():
            env.docker.base_dockerfile = (folder / DOCKERFILE).read_text("utf-8")
        return env

    # -- registered in a workspace ----------------------------------------------------

    def register(self, workspace: Workspace) -> Environment:
        """Register this definition as the next version of its name; returns a new
        Environment with ``version`` set (this one is not changed). A definition equal
        to the latest version's is that version again.

        Raises:
            EnvironmentDefinitionError: the environment has no name.
        """
        if not self.name:
            raise EnvironmentDefinitionError(
                "an environment needs a name to be registered: Environment('my-env')"
            )
        self.request()  # a definition with wrong types is refused before it is kept
        data = self.to_dict()
        data.pop("version")
        version = workspace.catalog.register_environment(self.name, data)
        registered = type(self).from_dict({**data, "version": str(version)})
        return registered

    @classmethod
    def get(
        cls,
        workspace: Workspace,
        name: str,
        version: str | int | None = None,
        label: str | None = None,
    ) -> Environment:
        """A registered environment: ``version`` (a str or int), the version
        ``label`` names (``Environment.label``), else the latest.

        A curated name (``AzureML-...``) that is not registered is served by the
        current interpreter: it asks for nothing, and the run details say so.

        Raises:
            EnvironmentDefinitionError: both ``version`` and ``label`` given, or a
                label that is not a valid label name.
            EnvironmentNotFoundError: no such name or version is registered, or no
                version has that label (the message names the labels there are).
        """
        if version is not None and label is not None:
            raise EnvironmentDefinitionError(
                f"Environment.get('{name}'): pass version or label, not both"
            )
        if label is not None:
            _check_labels(name, [label])
            number: int | None = workspace.catalog.labelled_environment_version(
                name, label
            )
        else:
            number = _version_number(name, version)
        try:
            data = workspace.catalog.get_environment(name, number)
        except EnvironmentNotFoundError:
            if number is None and is_curated(name):
                return cls._curated_named(name)
            raise
        return cls.from_dict(data)

    @staticmethod
    def label(
        workspace: Workspace, name: str, version: str | int, labels: Sequence[str]
    ) -> None:
        """Label ``version`` of ``name`` with each of ``labels``; a label that named
        another version of ``name`` moves here. ``Environment.get(ws, name,
        label=...)`` then gives that version.

        Raises:
            EnvironmentArgumentError: ``labels`` is not a list of str.
            EnvironmentDefinitionError: a label is not a valid name (a letter or
                digit, then letters, digits, ``-``, ``_`` or ``.``).
            EnvironmentNotFoundError: that version is not registered.
        """
        if isinstance(labels, str) or not isinstance(labels, list | tuple):
            raise EnvironmentArgumentError(
                f"Environment.label('{name}'): labels must be a list of str, not "
                f"{type(labels).__name__}"
            )
        _check_labels(name, labels)
        number = _version_number(name, version)
        if number is None:
            raise EnvironmentArgumentError(
                f"Environment.label('{name}'): pass the version to label"
            )
        workspace.catalog.label_environment(name, number, list(labels))

    @classmethod
    def list(cls, workspace: Workspace) -> dict[str, Environment]:
        """The latest version of every registered environment, by name."""
        return {
            name: cls.from_dict(data)
            for name, data in workspace.catalog.list_environments().items()
        }

    @classmethod
    def _curated_named(cls, name: str) -> Environment:
        env = cls(name)
        env.version = "1"
        env._curated = True
        return env

    def __repr__(self) -> str:
        return f"Environment(Name: {self.name},\nVersion: {self.version})"


def _version_number(name: str, version: str | int | None) -> int | None:
    """``version`` as an int (registered versions are '1', '2', ...).

    Raises:
        EnvironmentNotFoundError: a version that is not a positive whole number.
    """
    if version is None:
        return None
    check_type(version, (str, int), f"Environment.get('{name}'): version", "a str")
    text = str(version)
    if not text.isdigit() or int(text) < 1:
        raise EnvironmentNotFoundError(
            f"Error retrieving the environment definition. Code: 404\n: environment "
            f"'{name}' has no version {text!r}; versions are 1, 2, ..."
        )
    return int(text)


def _yaml(data: dict[str, Any]) -> str:
    yaml = import_extra("yaml", "conda", "writing an environment's conda file")

    text: str = yaml.safe_dump(data, sort_keys=False)
    return text


_LABEL_RE = LazyPattern(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")


def _check_labels(name: str, labels: Sequence[object]) -> None:
    """Every label a valid label name.

    Raises:
        EnvironmentArgumentError: a label that is not a str.
        EnvironmentDefinitionError: a str that is not a valid label name.
    """
    for label in labels:
        if not isinstance(label, str):
            raise EnvironmentArgumentError(
                f"environment '{name}': a label must be a str, not "
                f"{type(label).__name__} ({label!r})"
            )
        if not _LABEL_RE.match(label):
            raise EnvironmentDefinitionError(
                f"environment '{name}': invalid label {label!r}; a label starts with a "
                "letter or digit, then has up to 254 letters, digits, '-', '_' or '.'"
            )
