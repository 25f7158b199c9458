"""The root group: help, version, --workspace, and turning errors into exit codes."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import click
import pytest

from dataferry.cli import app, main
from dataferry.cli.main import DataferryGroup

if TYPE_CHECKING:
    from pathlib import Path

    from click.testing import CliRunner

HEAVY = (
    "pandas",
    "pyarrow",
    "sqlalchemy",
    "fsspec",
    "dataferry.data",
    "dataferry.catalog",
)


def test_help_lists_the_command_groups(cli: CliRunner) -> None:
    result = cli.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "datastore", "dataset"):
        assert command in result.output


def test_version(cli: CliRunner) -> None:
    result = cli.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("dataferry, version ")


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from dataferry.cli.main import app\n"
        "try:\n"
        "    app(['--help', ], prog_name='dataferry')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_main_runs_the_group(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["dataferry", "--version"])
    with pytest.raises(SystemExit, match=r"^0$"):
        main()
    assert "dataferry, version" in capsys.readouterr().out


def test_missing_workspace_config_exits_3(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli.invoke(app, ["dataset", "list"])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: The workspace configuration file config.json"
    )
    assert "could not be found" in result.stderr


def test_workspace_found_from_a_subfolder(
    cli: CliRunner, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "src").mkdir()
    monkeypatch.chdir(project / "src")
    result = cli.invoke(app, ["datastore", "list"])
    assert result.exit_code == 0, result.output
    assert "workspaceblobstore" in result.stdout


def test_workspace_from_environment_variable(cli: CliRunner, project: Path) -> None:
    result = cli.invoke(
        app, ["datastore", "list"], env={"DATAFERRY_WORKSPACE": str(project)}
    )
    assert result.exit_code == 0, result.output
    assert "Datastores of workspace 'test-ws'" in result.stdout


def test_workspace_option_must_exist(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["-w", str(tmp_path / "nowhere"), "dataset", "list"])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_unknown_command_is_a_usage_error(cli: CliRunner) -> None:
    result = cli.invoke(app, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr


def test_only_the_root_group_handles_dataferry_errors() -> None:
    assert isinstance(app, DataferryGroup)
    ctx = click.Context(app)
    commands = [app.get_command(ctx, name) for name in app.list_commands(ctx)]
    assert all(type(cmd) is not DataferryGroup for cmd in commands)
