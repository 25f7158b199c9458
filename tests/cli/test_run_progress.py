"""``dataferry run`` through a pipe: plain timestamped lines while the run goes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from execution.pipe_kit import CLOCK, Lines

if TYPE_CHECKING:
    from dataferry import Workspace

SRC = Path(__file__).resolve().parents[2] / "src"

# the step says it has begun, then waits for the test to let it go
STEP = """\
import pathlib, time
print("begun", flush=True)
release = pathlib.Path({release!r})
while not release.exists():
    time.sleep(0.05)
print("released", flush=True)
"""

PIPELINE = """\
from dataferry import Pipeline, PythonScriptStep, Workspace

ws = Workspace.from_config({project!r})
first = PythonScriptStep("wait.py", name="waiting", source_directory={steps!r},
                         allow_reuse=False)
last = PythonScriptStep("done.py", name="after", source_directory={steps!r})
last.run_after(first)
pipeline = Pipeline(ws, steps=[last])
"""


@pytest.mark.slow
def test_piped_run_prints_each_transition_while_the_run_goes(
    workspace: Workspace, tmp_path: Path
) -> None:
    steps = tmp_path / "steps"
    steps.mkdir()
    release = tmp_path / "release"
    (steps / "wait.py").write_text(STEP.format(release=str(release)))
    (steps / "done.py").write_text("print('all done')\n")
    job = tmp_path / "job.py"
    job.write_text(
        PIPELINE.format(project=str(workspace.path.parent), steps=str(steps))
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dataferry.cli", "run", str(job)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines = Lines(proc)
        # while the step still waits, its start and its output are already shown
        seen = lines.until("[waiting] begun")
        assert "[waiting] Running" in [line[9:] for line in seen]
        assert not release.exists()
        release.touch()
        lines.until("[run] Finished")
        lines.to_end()
        assert proc.wait(timeout=60) == 0
    finally:
        release.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    shown = [line[9:] for line in lines.seen if CLOCK.match(line)]
    order = [
        "[waiting] Running",
        "[waiting] begun",
        "[waiting] released",
        "[waiting] Finished",
        "[after] Running",
        "[after] all done",
        "[after] Finished",
        "[run] Finished",
    ]
    assert [line for line in shown if line in order] == order
    assert "[after] Runs (run: first run of this step, nothing to reuse)" in shown
    # never a table: no box-drawing line
    assert not [line for line in lines.seen if "│" in line or "━" in line]
