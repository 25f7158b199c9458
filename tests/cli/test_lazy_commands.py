"""Commands are imported only when they run, and ``--help`` still lists them all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import click
import pytest

from dataferry.cli import app, command_table
from dataferry.cli.lazy_group import LazyEntry, LazyGroup

if TYPE_CHECKING:
    from pathlib import Path

GROUPS = {
    (): command_table.ROOT,
    ("runs",): command_table.RUNS,
    ("dataset",): command_table.DATASET,
    ("datastore",): command_table.DATASTORE,
}
ENTRIES = [
    (path, name, entry)
    for path, table in GROUPS.items()
    for name, entry in table.items()
]
COMMAND_MODULES = sorted(
    {e.target.partition(":")[0] for _p, _n, e in ENTRIES} - {"dataferry.cli.completion"}
)


def _group(path: tuple[str, ...]) -> click.Group:
    group: click.Command | None = app
    for name in path:
        assert isinstance(group, click.Group)
        group = group.get_command(click.Context(group), name)
    assert isinstance(group, click.Group)
    return group


def _loaded_after(code: str) -> list[str]:
    """The command modules imported by a fresh interpreter after running ``code``."""
    script = (
        "import json, sys\n"
        "from dataferry.cli.main import app\n"
        "try:\n"
        f"    {code}\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in {COMMAND_MODULES!r} if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    found: list[str] = json.loads(out.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize(
    ("path", "name", "entry"), ENTRIES, ids=[" ".join((*p, n)) for p, n, _e in ENTRIES]
)
def test_each_entry_is_its_command_with_its_own_short_help(
    path: tuple[str, ...], name: str, entry: LazyEntry
) -> None:
    command = _group(path).get_command(click.Context(app), name)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert not command.hidden
    stand_in = click.Command(name, help=entry.help)
    for limit in (20, 45, 60, 74, 200):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)


_HELP_TWICE = """
import click
from dataferry.cli.main import app

def helps():
    for path in PATHS:
        try:
            app([*path, "--help"], prog_name="dataferry")
        except SystemExit:
            pass
        print("=====")

helps()
for path in PATHS:
    group = app
    for name in path:
        group = group.get_command(click.Context(group), name)
    for name in group.list_commands(click.Context(group)):
        group.get_command(click.Context(group), name)
helps()
"""


def test_help_lists_the_same_before_and_after_every_command_is_loaded() -> None:
    script = f"PATHS = {list(GROUPS)!r}\n{_HELP_TWICE}"
    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env
    ).stdout.split("=====\n")
    lazy, loaded = out[: len(GROUPS)], out[len(GROUPS) : 2 * len(GROUPS)]
    assert lazy == loaded
    for text, table in zip(lazy, GROUPS.values(), strict=True):
        assert all(f"  {name} " in text for name in table)


def test_help_imports_no_command_module() -> None:
    assert _loaded_after("app(['--help'], prog_name='dataferry')") == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["runs", "list", "--help"], ["dataferry.cli.runs_cmds"]),
        (
            ["datastore", "retention", "--help"],
            ["dataferry.cli.datastore_cmds", "dataferry.cli.lifecycle_cmds"],
        ),
        (["init", "--help"], ["dataferry.cli.workspace_cmds"]),
    ],
)
def test_a_command_imports_only_its_own_modules(
    args: list[str], expected: list[str]
) -> None:
    assert _loaded_after(f"app({args!r}, prog_name='dataferry')") == expected


def test_a_target_that_is_not_a_command_is_refused() -> None:
    group = LazyGroup(
        "g", lazy={"bad": LazyEntry("dataferry.cli.command_table:ROOT", "Bad.")}
    )
    with pytest.raises(
        TypeError, match=r"^lazy command .*command_table:ROOT is a dict$"
    ):
        group.get_command(click.Context(group), "bad")


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["runs", "list", "--json"], []), (["runs", "list"], ["rich"])],
)
def test_json_output_loads_no_rich(
    project: Path, args: list[str], expected: list[str]
) -> None:
    script = (
        "import json, sys\n"
        "from dataferry.cli.main import app\n"
        "try:\n"
        f"    app(['-w', {str(project)!r}, *{args!r}], prog_name='dataferry')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted({m for m in sys.modules if m == 'rich'})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    first, loaded = out.splitlines()[0], out.splitlines()[-1]
    assert json.loads(loaded) == expected
    assert first == ("[]" if "--json" in args else "No runs in workspace 'test-ws'.")


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("dataferry runs re", ["plain,rerun", "plain,resume"]),
        ("dataferry datastore ret", ["plain,retention"]),
        ("dataferry data", ["plain,dataset", "plain,datastore"]),
    ],
)
def test_completion_offers_commands_not_yet_imported(
    words: str, expected: list[str]
) -> None:
    env = {
        **os.environ,
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
        "_DATAFERRY_COMPLETE": "bash_complete",
    }
    out = subprocess.run(
        [sys.executable, "-c", "from dataferry.cli.main import main; main()"],
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    assert out.split() == expected
