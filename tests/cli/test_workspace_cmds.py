"""``dataferry init``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dataferry import Workspace
from dataferry.cli import app
from dataferry.cli.workspace_cmds import default_workspace_name

if TYPE_CHECKING:
    from click.testing import CliRunner


def test_init_names_the_workspace_after_the_folder(
    cli: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "My Project!"
    result = cli.invoke(app, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"Created workspace 'my-project' in {folder / '.dataferry'}" in result.stdout
    assert "Default datastore: workspaceblobstore" in result.stdout
    ws = Workspace.from_config(folder)
    assert ws.name == "my-project"
    ws.close()


def test_init_in_the_current_folder(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli.invoke(app, ["init", "--name", "here"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".azureml" / "config.json").is_file()
    assert (tmp_path / ".dataferry" / "catalog.db").is_file()


def test_init_with_a_catalog_url(cli: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    result = cli.invoke(app, ["init", str(tmp_path / "p"), "--catalog-url", url])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "p" / ".azureml" / "config.json").read_text())
    assert config["catalog_url"] == url
    assert (tmp_path / "shared.db").is_file()


def test_init_twice_needs_exist_ok(cli: CliRunner, tmp_path: Path) -> None:
    assert cli.invoke(app, ["init", str(tmp_path), "--name", "first"]).exit_code == 0
    again = cli.invoke(app, ["init", str(tmp_path)])
    assert again.exit_code == 2
    assert again.stderr.startswith("Error: a workspace config already exists")
    ok = cli.invoke(app, ["init", str(tmp_path), "--exist-ok"])
    assert ok.exit_code == 0, ok.output
    assert "Opened existing workspace 'first'" in ok.stdout


def test_init_rejects_a_bad_name(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["init", str(tmp_path), "--name", "no spaces"])
    assert result.exit_code == 2
    assert "Error: invalid workspace name 'no spaces'" in result.stderr
    assert not (tmp_path / ".azureml").exists()


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("My Project!", "my-project"),
        ("__data__", "data"),
        ("x", "workspace"),
        ("a" * 40, "a" * 32),
        ("ml_2024-runs", "ml_2024-runs"),
    ],
    ids=["spaces-and-punctuation", "strips-edges", "too-short", "too-long", "valid"],
)
def test_default_workspace_name(folder: str, name: str) -> None:
    assert default_workspace_name(Path("/tmp") / folder) == name
