"""A two-step pipeline for the page's tests: ``talk`` prints numbered lines and
writes an output that ``wait`` reads; ``wait`` ends once a flag file exists.
Imported as ``cli.page_kit``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.kit import write_script

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

TALK = """
import pathlib, sys
out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
(out / "made.txt").write_text("made")
for i in range(int(sys.argv[2])):
    print(f"line {i} é")
"""
WAIT = """
import pathlib, sys, time
while not pathlib.Path(sys.argv[2]).exists():
    time.sleep(0.05)
print("went on")
"""


def talk_and_wait(
    workspace: Workspace, tmp_path: Path, *, lines: int, flag: Path
) -> Pipeline:
    """The pipeline; ``wait`` finishes only after ``flag`` is created."""
    code = write_script(tmp_path / "code", "talk.py", TALK)
    write_script(code, "wait.py", WAIT)
    made = OutputFileDatasetConfig(name="made")
    talk = PythonScriptStep(
        "talk.py",
        name="talk",
        source_directory=str(code),
        arguments=[made, str(lines)],
        allow_reuse=False,
    )
    wait = PythonScriptStep(
        "wait.py",
        name="wait",
        source_directory=str(code),
        arguments=[made.as_input("made"), str(flag)],
        allow_reuse=False,
    )
    return Pipeline(workspace, [talk, wait])
