"""Environment.register / get / list against a real SQLite catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry import CondaDependencies, Environment
from dataferry.errors import EnvironmentDefinitionError, EnvironmentNotFoundError

if TYPE_CHECKING:
    from dataferry import Workspace


def env_with(*packages: str, name: str = "train-env") -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=list(packages)
    )
    return env


class TestRoundTrip:
    def test_register_get_list(self, workspace: Workspace) -> None:
        first = env_with("six==1.16.0").register(workspace)
        second = env_with("six==1.16.0", "toolz").register(workspace)
        other = env_with("attrs", name="other").register(workspace)

        assert (first.version, second.version, other.version) == ("1", "2", "1")
        latest = Environment.get(workspace, "train-env")
        assert latest.version == "2"
        assert list(latest.python.conda_dependencies.pip_packages) == [
            "six==1.16.0",
            "toolz",
        ]
        assert Environment.get(workspace, "train-env", version="1").request() == (
            first.request()
        )
        assert Environment.get(workspace, "train-env", version=1).version == "1"
        listed = Environment.list(workspace)
        assert {n: e.version for n, e in listed.items()} == {
            "other": "1",
            "train-env": "2",
        }

    def test_register_returns_a_new_object(self, workspace: Workspace) -> None:
        env = env_with("six")

        registered = env.register(workspace)

        assert env.version is None
        assert registered is not env
        assert registered.to_dict() == {**env.to_dict(), "version": "1"}

    def test_the_same_definition_is_the_same_version(
        self, workspace: Workspace
    ) -> None:
        env_with("six").register(workspace)

        assert env_with("six").register(workspace).version == "1"
        assert env_with("toolz").register(workspace).version == "2"
        assert env_with("six").register(workspace).version == "3"

    def test_a_name_is_needed(self, workspace: Workspace) -> None:
        with pytest.raises(
            EnvironmentDefinitionError,
            match=r"^an environment needs a name to be registered",
        ):
            Environment().register(workspace)


class TestNotFound:
    def test_an_unknown_name_suggests_a_close_one(self, workspace: Workspace) -> None:
        env_with("six").register(workspace)

        with pytest.raises(
            EnvironmentNotFoundError,
            match=r"^Error retrieving the environment definition\. Code: 404\n: "
            r"environment 'train-evn' \(version: latest\) is not registered in this "
            r"workspace\. Did you mean 'train-env'\?$",
        ):
            Environment.get(workspace, "train-evn")

    def test_an_unknown_version_names_the_versions(self, workspace: Workspace) -> None:
        env_with("six").register(workspace)

        with pytest.raises(
            EnvironmentNotFoundError,
            match=r"'train-env' \(version: 4\) is not registered in this workspace\. "
            r"Its versions are 1 to 1; pass version='1'\.$",
        ):
            Environment.get(workspace, "train-env", version="4")

    @pytest.mark.parametrize("version", ["latest", "0", "1.0"])
    def test_a_version_that_is_not_a_number(
        self, workspace: Workspace, version: str
    ) -> None:
        with pytest.raises(
            EnvironmentNotFoundError,
            match=rf"'train-env' has no version '{version}'; versions are 1, 2, \.\.\.",
        ):
            Environment.get(workspace, "train-env", version=version)

    def test_version_and_label(self, workspace: Workspace) -> None:
        with pytest.raises(
            EnvironmentDefinitionError, match=r"pass version or label, not both"
        ):
            Environment.get(workspace, "x", version="1", label="prod")
        with pytest.raises(
            EnvironmentNotFoundError,
            match=r"'x' has no label 'prod' in this workspace. It has none",
        ):
            Environment.get(workspace, "x", label="prod")


class TestCurated:
    def test_a_curated_name_is_served_by_this_interpreter(
        self, workspace: Workspace
    ) -> None:
        env = Environment.get(workspace, "AzureML-sklearn-1.5")

        assert (env.name, env.version) == ("AzureML-sklearn-1.5", "1")
        assert env.request() == {"curated": True}
        assert Environment.list(workspace) == {}

    def test_a_clone_of_a_curated_environment_installs_what_is_added(
        self, workspace: Workspace
    ) -> None:
        env = Environment.get(workspace, "AzureML-Minimal").clone("mine")
        env.python.conda_dependencies.add_pip_package("six")

        asked = env.request()
        assert asked is not None
        assert asked["pip"] == ["six"]
        assert "curated" not in asked

    def test_a_registered_curated_name_is_the_registered_one(
        self, workspace: Workspace
    ) -> None:
        env_with("six", name="AzureML-Custom").register(workspace)

        env = Environment.get(workspace, "AzureML-Custom")
        assert list(env.python.conda_dependencies.pip_packages) == ["six"]
