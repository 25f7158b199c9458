"""``dataferry model list|show|download``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from dataferry import Model

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace
    from tests.cli.conftest import Invoke


@pytest.fixture
def models(workspace: Workspace, tmp_path: Path) -> Workspace:
    path = tmp_path / "m" / "model.pkl"
    path.parent.mkdir()
    path.write_bytes(b"weights-1")
    Model.register(workspace, path, "clf", tags={"stage": "dev"})
    path.write_bytes(b"weights-2")
    Model.register(workspace, path, "clf", tags={"stage": "prod"}, properties={"a": 1})
    Model.register(workspace, path.parent, "bundle")
    return workspace


def test_list_when_none(run: Invoke) -> None:
    result = run("model", "list")

    assert result.exit_code == 0
    assert "No models; register one with Model.register" in result.output
    assert json.loads(run("model", "list", "--json").output) == []


@pytest.mark.parametrize(
    ("args", "ids"),
    [
        ((), ["bundle:1", "clf:1", "clf:2"]),
        (("--name", "clf"), ["clf:1", "clf:2"]),
        (("--tag", "stage=prod"), ["clf:2"]),
        (("--tag", "stage"), ["clf:1", "clf:2"]),
        (("--property", "a=1"), ["clf:2"]),
        (("--latest",), ["bundle:1", "clf:2"]),
    ],
)
def test_list_filters(
    run: Invoke, models: Workspace, args: tuple[str, ...], ids: list[str]
) -> None:
    listed = json.loads(run("model", "list", "--json", *args).output)

    assert [m["id"] for m in listed] == ids


def test_list_table(run: Invoke, models: Workspace) -> None:
    table = run("model", "list").output

    assert "clf" in table
    assert "stage=prod" in table


def test_show(run: Invoke, models: Workspace) -> None:
    shown = json.loads(run("model", "show", "clf", "--json").output)
    first = json.loads(run("model", "show", "clf", "--version", "1", "--json").output)

    assert (shown["id"], shown["tags"], shown["properties"]) == (
        "clf:2",
        {"stage": "prod"},
        {"a": 1},
    )
    assert (first["version"], first["fileCount"], first["sizeBytes"]) == (1, 1, 9)
    assert "Model clf:2" in run("model", "show", "clf").output


def test_show_unknown(run: Invoke, models: Workspace) -> None:
    result = run("model", "show", "clff")

    assert result.exit_code == 3
    assert "Model with name clff not found" in result.output
    assert "Did you mean 'clf'?" in result.output
    missing = run("model", "show", "clf", "--version", "9")
    assert missing.exit_code == 3
    assert "Its versions are [1, 2]" in missing.output


def test_download(run: Invoke, models: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "dl"

    done = run("model", "download", "clf", "--version", "1", "--target", str(target))
    again = run("model", "download", "clf", "--target", str(target))
    forced = run("model", "download", "clf", "--target", str(target), "--overwrite")

    assert done.exit_code == 0, done.output
    assert f"Downloaded model clf:1 to {target / 'model.pkl'}" in done.output
    assert again.exit_code == 2
    assert "File already exists. To overwrite" in again.output
    assert forced.exit_code == 0
    assert (target / "model.pkl").read_bytes() == b"weights-2"
