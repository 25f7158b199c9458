"""``CondaDependencies``: the conda and pip packages an environment declares.

A definition only, as in the original SDK: nothing is installed here. Where a step runs,
``dataferry.execution.environments`` turns it into an interpreter (the current one when
it already satisfies every requirement, else a cached virtual environment).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry._extras import import_extra
from dataferry.errors import EnvironmentDefinitionError, StepDefinitionError
from dataferry.pipeline.checks import as_str_list, check_type, type_error

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

# the keys a conda specification may have (the SDK's own check)
_CONDA_KEYS = {"name", "channels", "dependencies", "prefix", "variables"}


def package_name(spec: str) -> str:
    """The canonical name of a pip or conda package spec (``Foo_Bar>=1`` -> ``foo-bar``);
    the spec itself, lower-cased, when it is not a requirement (a URL, a path)."""
    # imported here: a script whose steps declare no packages never loads packaging
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    text = spec.split("::")[-1].strip()  # conda's channel::package
    try:
        return canonicalize_name(Requirement(text).name)
    except InvalidRequirement:
        name = text.split("=")[0].split("<")[0].split(">")[0].split("!")[0]
        return canonicalize_name(name.strip()) if name.strip() else text.lower()


def python_pin(spec: str) -> str | None:
    """``'3.8'`` for a conda spec ``python=3.8`` (or ``python==3.8``); None for another
    package, or for ``python`` without a version."""
    name, _, version = spec.partition("=")
    if name.strip().lower() != "python":
        return None
    return version.lstrip("=").strip() or None


class CondaDependencies:
    """The conda packages, pip packages, pip options, channels and Python version an
    environment declares.

    Unlike the original SDK, a new one declares nothing (no ``azureml-defaults``, no
    Python pin): ``azureml-*`` packages are always satisfied here, and a pin the user did
    not write would only make a warning.

    Args:
        conda_dependencies_file_path: a conda YAML file to load.
        _underlying_structure: the parsed YAML (a dict), as the SDK passes it.

    Raises:
        EnvironmentDefinitionError: the YAML has a key conda does not know, or is not
            a mapping.
        PipelineTypeError: ``_underlying_structure`` is not a dict.
    """

    def __init__(
        self,
        conda_dependencies_file_path: str | None = None,
        _underlying_structure: Any = None,
    ) -> None:
        self._conda: list[str] = []
        self._pip: list[str] = []
        self._pip_options: list[str] = []
        self._channels: list[str] = []
        self._python: str | None = None
        check_type(_underlying_structure, dict, "CondaDependencies()", "a dict")
        if conda_dependencies_file_path:
            path = Path(conda_dependencies_file_path)
            self._load(_read_yaml(path), str(path))
        elif _underlying_structure is not None:
            self._load(_underlying_structure, "the conda specification")

    def _load(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise EnvironmentDefinitionError(
                f"Environment error: {where} is not a conda specification (a mapping "
                "with channels and dependencies)"
            )
        unknown = sorted(set(data) - _CONDA_KEYS)
        if unknown:
            raise EnvironmentDefinitionError(
                f"Environment error: unknown {unknown[0]!r} key in {where}; a conda "
                f"specification has only {sorted(_CONDA_KEYS)}"
            )
        self._channels = [str(c) for c in data.get("channels") or []]
        for dep in data.get("dependencies") or []:
            if isinstance(dep, dict):
                for line in dep.get("pip") or []:
                    self._add_pip_line(str(line))
            else:
                self.add_conda_package(str(dep))

    def _add_pip_line(self, line: str) -> None:
        if line.startswith("-"):
            self.set_pip_option(line)
        else:
            self.add_pip_package(line)

    @staticmethod
    def create(
        pip_indexurl: str | None = None,
        pip_packages: Iterable[str] | None = None,
        conda_packages: Iterable[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
    ) -> CondaDependencies:
        """Dependencies from package lists.

        Args:
            pip_indexurl: an extra index pip also searches (``--extra-index-url``).
            pip_packages: pip requirement specs.
            conda_packages: conda specs (``numpy=1.26``); installed from PyPI.
            python_version: the Python version to pin, e.g. ``'3.11'``.
            pin_sdk_version: in the SDK, pins ``azureml-*`` packages to its version;
                those are satisfied by the compatibility package here, so it changes
                nothing (it must still be a bool).

        Raises:
            PipelineTypeError: a package list is not a list of str (one str is refused:
                it would be read as one package per character), or another argument
                is of the wrong type.
            StepDefinitionError: a pip package starts with ``-``.
        """
        check_type(
            pip_indexurl, str, "CondaDependencies.create(): pip_indexurl", "a str"
        )
        check_type(
            python_version, str, "CondaDependencies.create(): python_version", "a str"
        )
        if not isinstance(pin_sdk_version, bool):
            raise type_error(
                "CondaDependencies.create(): pin_sdk_version",
                "True or False",
                pin_sdk_version,
            )
        deps = CondaDependencies()
        for package in as_str_list(
            pip_packages, "CondaDependencies.create(): pip_packages"
        ):
            deps.add_pip_package(package)
        for package in as_str_list(
            conda_packages, "CondaDependencies.create(): conda_packages"
        ):
            deps.add_conda_package(package)
        if pip_indexurl:
            deps.set_pip_option(f"--extra-index-url {pip_indexurl}")
        if python_version:
            deps._python = python_version
        return deps

    def add_conda_package(self, conda_package: str) -> None:
        """Declare a conda package; ``python=X.Y`` pins the Python version instead.

        A package already declared under the same spec is not added twice.

        Raises:
            PipelineTypeError: ``conda_package`` is not a str.
        """
        if not isinstance(conda_package, str):
            raise type_error(
                "add_conda_package(): conda_package", "a str", conda_package
            )
        if package_name(conda_package) == "python":
            self._python = python_pin(conda_package)
        elif conda_package not in self._conda:
            self._conda.append(conda_package)

    def remove_conda_package(self, conda_package: str) -> None:
        """Remove every conda package of that name (any version).

        Raises:
            EnvironmentDefinitionError: ``python`` (use ``set_python_version``).
        """
        name = package_name(conda_package)
        if name == "python":
            raise EnvironmentDefinitionError(
                "Removing python from the conda dependencies is not allowed; "
                "use set_python_version() to change the version"
            )
        self._conda = [c for c in self._conda if package_name(c) != name]

    def add_pip_package(self, pip_package: str) -> None:
        """Declare a pip package, replacing any entry of the same name (version and
        extras ignored), as the SDK does: the new one goes last.

        Raises:
            PipelineTypeError: ``pip_package`` is not a str.
            StepDefinitionError: it is an option (starts with ``-``), not a package.
        """
        if not isinstance(pip_package, str):
            raise type_error("add_pip_package(): pip_package", "a str", pip_package)
        if pip_package.startswith("-"):
            raise StepDefinitionError(
                f"Invalid package name {pip_package!r}: pip options go through "
                "set_pip_option()"
            )
        self.remove_pip_package(pip_package)
        self._pip.append(pip_package)

    def remove_pip_package(self, pip_package: str) -> None:
        """Remove every pip package of that name (any version)."""
        name = package_name(pip_package)
        self._pip = [p for p in self._pip if package_name(p) != name]

    def set_pip_requirements(self, pip_requirements: list[str]) -> None:
        """Replace the pip packages with these lines (options included, kept as is).

        Raises:
            PipelineTypeError: not a list of str.
        """
        lines = as_str_list(
            pip_requirements, "set_pip_requirements(): pip_requirements"
        )
        self._pip, self._pip_options = [], []
        for line in lines:
            self._add_pip_line(line)

    def set_pip_option(self, pip_option: str) -> None:
        """Add a pip option (``--extra-index-url URL``), replacing one with the same flag.

        Raises:
            PipelineTypeError: ``pip_option`` is not a str.
        """
        if not isinstance(pip_option, str):
            raise type_error("set_pip_option(): pip_option", "a str", pip_option)
        flag = pip_option.split()[0].split("=")[0] if pip_option.strip() else ""
        self._pip_options = [
            o for o in self._pip_options if o.split()[0].split("=")[0] != flag
        ]
        self._pip_options.append(pip_option.strip())

    def add_channel(self, channel: str) -> None:
        """Add a conda channel (recorded; packages install from pip's index here).

        Raises:
            PipelineTypeError: ``channel`` is not a str.
        """
        if not isinstance(channel, str):
            raise type_error("add_channel(): channel", "a str", channel)
        if channel not in self._channels:
            self._channels.append(channel)

    def remove_channel(self, channel: str) -> None:
        """Remove a conda channel."""
        self._channels = [c for c in self._channels if c != channel]

    def set_python_version(self, version: str) -> None:
        """Pin the Python version (``'3.11'``).

        Raises:
            PipelineTypeError: ``version`` is not a str.
        """
        if not isinstance(version, str):
            raise type_error("set_python_version(): version", "a str", version)
        self._python = version

    def get_python_version(self) -> str | None:
        """The pinned Python version, if any."""
        return self._python

    @property
    def conda_packages(self) -> Iterator[str]:
        """Declared conda packages (an iterator over a copy, as in the SDK)."""
        return iter(list(self._conda))

    @property
    def pip_packages(self) -> Iterator[str]:
        """Declared pip packages (an iterator over a copy)."""
        return iter(list(self._pip))

    @property
    def pip_options(self) -> Iterator[str]:
        """Declared pip options (an iterator over a copy)."""
        return iter(list(self._pip_options))

    @property
    def conda_channels(self) -> Iterator[str]:
        """Declared conda channels (an iterator over a copy)."""
        return iter(list(self._channels))

    def packages(self) -> list[str]:
        """Every package that would have to be installed (conda, then pip)."""
        return [*self._conda, *self._pip]

    def as_dict(self) -> dict[str, Any]:
        """The conda specification as a plain dict (what ``serialize_to_string`` writes)."""
        deps: list[Any] = []
        if self._python:
            deps.append(f"python={self._python}")
        deps.extend(self._conda)
        if self._pip or self._pip_options:
            deps.append({"pip": [*self._pip_options, *self._pip]})
        return {
            "name": "project_environment",
            "channels": list(self._channels),
            "dependencies": deps,
        }

    def serialize_to_string(self) -> str:
        """The conda specification as YAML text.

        Raises:
            ExtraNotInstalledError: PyYAML is missing (``pip install 'dataferry[conda]'``).
        """
        yaml = import_extra("yaml", "conda", "writing a conda specification")

        text: str = yaml.safe_dump(self.as_dict(), sort_keys=False)
        return text

    def save(self, path: str) -> str:
        """Write the conda specification to the file ``path``; returns ``path``.

        Raises:
            EnvironmentDefinitionError: ``path`` is a directory, or its parent is not.
        """
        target = Path(path)
        if target.is_dir():
            raise EnvironmentDefinitionError(
                f"Cannot save a conda environment specification file to a directory "
                f"({path}); pass a file path such as {target / 'conda.yml'}"
            )
        if not target.parent.is_dir():
            raise EnvironmentDefinitionError(
                f"cannot save the conda specification to {path}: the folder "
                f"{target.parent} does not exist"
            )
        target.write_text(self.serialize_to_string(), encoding="utf-8")
        return path


def _read_yaml(path: Path) -> Any:
    """A YAML file's content.

    Raises:
        EnvironmentDefinitionError: the file is missing or is not YAML.
        ExtraNotInstalledError: PyYAML is missing (``pip install 'dataferry[conda]'``).
    """
    yaml = import_extra("yaml", "conda", f"reading the conda specification {path}")

    try:
        return yaml.safe_load(path.read_text("utf-8")) or {}
    except FileNotFoundError as exc:
        raise EnvironmentDefinitionError(
            f"conda specification {path} does not exist; pass the path of a conda "
            "YAML file"
        ) from exc
    except yaml.YAMLError as exc:
        raise EnvironmentDefinitionError(
            f"conda specification {path} is not valid YAML: {exc}"
        ) from exc
