"""Commands as Azure ML runs them: a list whose first item is a command line is one
shell command, and ``python`` in a shell command is the step's interpreter."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import run_pipeline, step

from dataferry import (
    CommandStep,
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    ScriptRunConfig,
)

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

pytestmark = pytest.mark.slow  # real driver and step processes

SHOW = """\
import os, sys
print("interpreter:", sys.executable)
print("args:", sys.argv[1:])
if len(sys.argv) > 2 and sys.argv[-2] == "--out":
    os.makedirs(sys.argv[-1], exist_ok=True)
"""


@pytest.mark.parametrize(
    ("command", "args"),
    [
        (["python show.py --epochs 30"], "['--epochs', '30']"),
        (["python show.py", "--epochs", "30"], "['--epochs', '30']"),
        ("python show.py --epochs 30 && echo after", "['--epochs', '30']"),
        ("python3 show.py", "[]"),
    ],
)
def test_command_lines_run_in_a_shell_with_the_step_interpreter(
    workspace: Workspace, tmp_path: Path, command: str | list[str], args: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "show.py").write_text(SHOW)
    s = CommandStep(command=command, name="cmd", source_directory=str(src))

    run = run_pipeline(Pipeline(workspace, [s]))

    log = step(run, "cmd").get_job_log()
    assert run.get_status() == "Finished", log
    assert f"interpreter: {sys.executable}" in log
    assert f"args: {args}" in log


def test_a_script_run_config_command_line_with_an_output(
    workspace: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "show.py").write_text(SHOW)
    config = ScriptRunConfig(
        str(src),
        command=["python show.py --out", OutputFileDatasetConfig(name="out")],
    )

    run = Experiment(workspace, "cmd").submit(config)
    run.wait_for_completion()

    assert run.get_status() == "Completed"
    log = run.get_details_with_logs()["logFiles"]["user_logs/std_log.txt"]
    assert f"interpreter: {sys.executable}" in log
