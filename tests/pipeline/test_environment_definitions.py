"""Environment and CondaDependencies as definitions: the SDK's methods, files, copies.

Nothing here installs anything (see tests/execution/test_environment_builds.py).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

from dataferry import CondaDependencies, Environment
from dataferry.errors import (
    EnvironmentDefinitionError,
    PipelineTypeError,
    StepDefinitionError,
)

if TYPE_CHECKING:
    from pathlib import Path


def full_environment() -> Environment:
    env = Environment("train-env")
    deps = CondaDependencies.create(
        pip_packages=["six==1.16.0", "toolz"],
        conda_packages=["numpy=1.26"],
        python_version="3.11",
        pip_indexurl="https://example.org/simple",
    )
    deps.add_channel("conda-forge")
    env.python.conda_dependencies = deps
    env.environment_variables = {"MODE": "train"}
    env.docker.enabled = True
    env.docker.base_dockerfile = "FROM python:3.11\n"
    return env


class TestCondaDependencies:
    def test_create_declares_every_list(self) -> None:
        deps = full_environment().python.conda_dependencies

        assert list(deps.pip_packages) == ["six==1.16.0", "toolz"]
        assert list(deps.conda_packages) == ["numpy=1.26"]
        assert list(deps.conda_channels) == ["conda-forge"]
        assert list(deps.pip_options) == [
            "--extra-index-url https://example.org/simple"
        ]
        assert deps.get_python_version() == "3.11"

    @pytest.mark.parametrize(
        ("first", "second"),
        [("six==1.15", "six==1.16.0"), ("Six", "six>=1"), ("six[extra]", "SIX")],
    )
    def test_add_pip_package_replaces_the_same_name_and_goes_last(
        self, first: str, second: str
    ) -> None:
        deps = CondaDependencies()
        deps.add_pip_package(first)
        deps.add_pip_package("toolz")
        deps.add_pip_package(second)

        assert list(deps.pip_packages) == ["toolz", second]

    @pytest.mark.parametrize("spec", ["python=3.8", "python==3.8"])
    def test_a_python_conda_package_pins_the_version(self, spec: str) -> None:
        deps = CondaDependencies()
        deps.add_conda_package(spec)
        deps.add_conda_package("numpy")
        deps.add_conda_package("numpy")

        assert deps.get_python_version() == "3.8"
        assert list(deps.conda_packages) == ["numpy"]

    def test_python_cannot_be_removed(self) -> None:
        with pytest.raises(
            EnvironmentDefinitionError,
            match=r"^Removing python from the conda dependencies is not allowed",
        ):
            CondaDependencies().remove_conda_package("python")

    def test_an_option_is_not_a_package(self) -> None:
        with pytest.raises(
            StepDefinitionError,
            match=r"^Invalid package name '--index-url x': pip options go through",
        ):
            CondaDependencies().add_pip_package("--index-url x")

    def test_set_pip_option_replaces_the_same_flag(self) -> None:
        deps = CondaDependencies()
        deps.set_pip_option("--extra-index-url https://a")
        deps.set_pip_option("--extra-index-url https://b")
        deps.set_pip_option("--pre")

        assert list(deps.pip_options) == ["--extra-index-url https://b", "--pre"]

    def test_pin_sdk_version_must_be_a_bool(self) -> None:
        with pytest.raises(
            PipelineTypeError,
            match=r"^CondaDependencies.create\(\): pin_sdk_version must be True or "
            r"False, not str \('no'\)$",
        ):
            CondaDependencies.create(pin_sdk_version="no")  # type: ignore[arg-type]

    def test_a_conda_file_round_trips_through_save(self, tmp_path: Path) -> None:
        deps = full_environment().python.conda_dependencies
        path = deps.save(str(tmp_path / "conda.yml"))

        again = CondaDependencies(path)

        assert again.as_dict() == deps.as_dict()

    def test_save_refuses_a_directory(self, tmp_path: Path) -> None:
        with pytest.raises(
            EnvironmentDefinitionError,
            match=r"^Cannot save a conda environment specification file to a directory",
        ):
            CondaDependencies().save(str(tmp_path))

    def test_an_unknown_key_in_a_conda_file(self, tmp_path: Path) -> None:
        path = tmp_path / "env.yml"
        path.write_text("name: x\nbuild: [numpy]\n")

        with pytest.raises(
            EnvironmentDefinitionError,
            match=r"^Environment error: unknown 'build' key in .*env\.yml",
        ):
            Environment.from_conda_specification("x", str(path))

    def test_a_missing_conda_file(self, tmp_path: Path) -> None:
        with pytest.raises(
            EnvironmentDefinitionError,
            match=r"^conda specification .*nope\.yml does not exist",
        ):
            Environment.from_conda_specification("x", str(tmp_path / "nope.yml"))

    def test_pip_options_in_a_conda_file_are_options(self, tmp_path: Path) -> None:
        path = tmp_path / "env.yml"
        path.write_text(
            textwrap.dedent(
                """
                dependencies:
                  - python=3.11
                  - pip:
                    - --extra-index-url https://example.org/simple
                    - six
                """
            )
        )

        deps = Environment.from_conda_specification("x", str(path)).python
        assert list(deps.conda_dependencies.pip_options) == [
            "--extra-index-url https://example.org/simple"
        ]
        assert list(deps.conda_dependencies.pip_packages) == ["six"]


class TestEnvironment:
    def test_clone_is_a_deep_copy_without_a_version(self) -> None:
        env = full_environment()
        env.version = "3"

        copy = env.clone("other")
        copy.python.conda_dependencies.add_pip_package("attrs")

        assert (copy.name, copy.version) == ("other", None)
        assert "attrs" not in list(env.python.conda_dependencies.pip_packages)
        assert copy.request() != env.request()

    def test_save_and_load_a_directory(self, tmp_path: Path) -> None:
        env = full_environment()
        env.save_to_directory(str(tmp_path / "saved"))

        loaded = Environment.load_from_directory(str(tmp_path / "saved"))

        assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == [
            "BaseDockerfile",
            "azureml_environment.json",
            "conda_dependencies.yml",
        ]
        assert loaded.to_dict() == env.to_dict()
        assert loaded.request() == env.request()

    def test_save_refuses_an_existing_folder_unless_told(self, tmp_path: Path) -> None:
        env = full_environment()
        with pytest.raises(
            EnvironmentDefinitionError,
            match=r"^cannot save environment 'train-env' to .*: the folder exists; "
            r"pass overwrite=True",
        ):
            env.save_to_directory(str(tmp_path))
        env.save_to_directory(str(tmp_path), overwrite=True)

        assert Environment.load_from_directory(str(tmp_path)).name == "train-env"

    def test_load_needs_the_environment_file(self, tmp_path: Path) -> None:
        with pytest.raises(
            EnvironmentDefinitionError,
            match=r"holds no saved environment: azureml_environment.json is missing",
        ):
            Environment.load_from_directory(str(tmp_path))

    def test_the_request_names_everything_asked(self) -> None:
        assert full_environment().request() == {
            "pip": ["six==1.16.0", "toolz"],
            "conda": ["numpy=1.26"],
            "pip_options": ["--extra-index-url https://example.org/simple"],
            "channels": ["conda-forge"],
            "python": "3.11",
            "docker": {"enabled": True, "base_dockerfile": "FROM python:3.11\n"},
        }

    def test_a_python_pin_alone_is_a_request(self) -> None:
        env = Environment("pinned")
        env.python.conda_dependencies.set_python_version("3.8")

        assert env.request() == {
            "pip": [],
            "conda": [],
            "pip_options": [],
            "channels": [],
            "python": "3.8",
        }

    def test_str_is_the_sdks(self) -> None:
        assert str(full_environment()) == "Environment(Name: train-env,\nVersion: None)"
