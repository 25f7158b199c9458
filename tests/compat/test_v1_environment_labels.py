"""``Environment.label`` and ``Environment.get(ws, name, label=...)`` (A.11) through
``azureml.core``: a label names one version of an environment, kept in the catalog;
labelling another version moves it; every bad argument is refused before anything is
written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from dataferry.errors import (
    EnvironmentArgumentError,
    EnvironmentDefinitionError,
    EnvironmentNotFoundError,
)

if TYPE_CHECKING:
    from dataferry import Workspace


def _register(workspace: Workspace, *packages: str, name: str = "train-env") -> Any:
    from azureml.core import Environment
    from azureml.core.conda_dependencies import CondaDependencies

    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=list(packages)
    )
    return env.register(workspace)


@pytest.fixture
def two_versions(workspace: Workspace) -> Workspace:
    assert _register(workspace, "six").version == "1"
    assert _register(workspace, "six", "toolz").version == "2"
    return workspace


def test_a_label_names_a_version_and_moves(two_versions: Workspace) -> None:
    from azureml.core import Environment, Workspace

    ws = two_versions
    Environment.label(ws, "train-env", "1", ["prod", "stable"])

    prod = Environment.get(ws, "train-env", label="prod")
    assert (prod.name, prod.version) == ("train-env", "1")
    assert list(prod.python.conda_dependencies.pip_packages) == ["six"]
    assert Environment.get(ws, "train-env").version == "2"

    Environment.label(ws, "train-env", 2, ["prod"])
    reopened = Workspace.from_config(path=str(ws.path))
    assert Environment.get(reopened, "train-env", label="prod").version == "2"
    assert Environment.get(reopened, "train-env", label="stable").version == "1"
    Environment.label(ws, "train-env", 2, [])  # no labels: nothing changes
    assert Environment.get(ws, "train-env", label="stable").version == "1"


def test_a_missing_label_names_the_labels_there_are(two_versions: Workspace) -> None:
    from azureml.core import Environment

    ws = two_versions
    with pytest.raises(
        EnvironmentNotFoundError,
        match=r"Code: 404\n: environment 'train-env' has no label 'prod' in this "
        r"workspace. It has none: add one with Environment.label",
    ):
        Environment.get(ws, "train-env", label="prod")
    Environment.label(ws, "train-env", "2", ["b", "a"])
    with pytest.raises(
        EnvironmentNotFoundError,
        match=r"has no label 'prod' in this workspace. Its labels are \['a', 'b'\]",
    ):
        Environment.get(ws, "train-env", label="prod")
    with pytest.raises(EnvironmentNotFoundError, match="no label 'a'"):
        Environment.get(ws, "other-env", label="a")  # labels belong to one name


@pytest.mark.parametrize(
    ("version", "labels", "error", "match"),
    [
        (
            "1",
            "prod",
            EnvironmentArgumentError,
            "labels must be a list of str, not str",
        ),
        ("1", ["ok", 3], EnvironmentArgumentError, "a label must be a str, not int"),
        (
            "1",
            ["ok", "bad label"],
            EnvironmentDefinitionError,
            "invalid label 'bad label'; a label starts with a letter or digit",
        ),
        (None, ["ok"], EnvironmentArgumentError, "pass the version to label"),
        ("7", ["ok"], EnvironmentNotFoundError, r"'train-env' \(version: 7\) is not"),
        ("x", ["ok"], EnvironmentNotFoundError, "has no version 'x'"),
    ],
)
def test_bad_labels_change_nothing(
    two_versions: Workspace,
    version: Any,
    labels: Any,
    error: type[Exception],
    match: str,
) -> None:
    from azureml.core import Environment

    with pytest.raises(error, match=match):
        Environment.label(two_versions, "train-env", version, labels)

    with pytest.raises(EnvironmentNotFoundError, match="no label 'ok'"):
        Environment.get(two_versions, "train-env", label="ok")


def test_get_takes_a_version_or_a_label_not_both(two_versions: Workspace) -> None:
    from azureml.core import Environment

    with pytest.raises(
        EnvironmentDefinitionError, match="pass version or label, not both"
    ):
        Environment.get(two_versions, "train-env", version="1", label="prod")
    with pytest.raises(EnvironmentDefinitionError, match="invalid label '-x'"):
        Environment.get(two_versions, "train-env", label="-x")
