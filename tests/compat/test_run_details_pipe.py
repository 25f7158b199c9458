"""``RunDetails(run).show()`` in a v1 program, unchanged, with its output piped: the
run feed that ``dataferry run`` and ``wait_for_completion(show_output=True)`` show, as
timestamped lines while the run goes, returning when the run ends."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from execution.pipe_kit import CLOCK, Lines, untimed

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

pytestmark = pytest.mark.slow

WAIT = """\
import pathlib, sys, time
print("begun", flush=True)
while not pathlib.Path(sys.argv[1]).exists():
    time.sleep(0.05)
print("released", flush=True)
"""

PIPELINE = """\
from azureml.core import Experiment, Workspace
from azureml.pipeline.core import Pipeline
from azureml.pipeline.steps import PythonScriptStep
from azureml.widgets import RunDetails

ws = Workspace.from_config({project!r})
step = PythonScriptStep("wait.py", name="work", arguments=[{release!r}],
                        source_directory={steps!r}, allow_reuse=False)
run = Experiment(ws, "details").submit(Pipeline(ws, [step]))
print("submitted", run.id, flush=True)
RunDetails(run).show()
print("show returned", run.get_status())
"""

SCRIPT_RUN = """\
from azureml.core import Experiment, ScriptRunConfig, Workspace
from azureml.widgets import RunDetails

ws = Workspace.from_config({project!r})
src = ScriptRunConfig(source_directory={steps!r}, script="wait.py",
                      arguments=[{release!r}])
run = Experiment(ws, "scripted").submit(src)
print("submitted", run.id, flush=True)
RunDetails(run).show()
print("show returned", run.get_status())
"""


def _show(
    program: str, workspace: Workspace, tmp_path: Path, env: str, step: str = "work"
) -> list[str]:
    """Run ``program`` with its stdout piped; release its step (named ``step``) once
    the step's first line was shown (so what came before it came while the run
    went)."""
    steps, release = tmp_path / "steps", tmp_path / "release"
    steps.mkdir()
    (steps / "wait.py").write_text(WAIT)
    text = program.format(
        project=str(workspace.path.parent), steps=str(steps), release=str(release)
    )
    (tmp_path / "program.py").write_text(text)
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "program.py")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": env, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = Lines(proc)
        seen = lines.until(f"[{step}] begun")
        assert f"[{step}] Running" in untimed(seen)
        assert not release.exists()
        release.touch()
        lines.to_end()
        assert proc.wait(timeout=60) == 0, lines.seen
    finally:
        release.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    return lines.seen


def test_pipeline_run_is_shown_as_it_goes(
    workspace: Workspace, tmp_path: Path, compat_path: str
) -> None:
    seen = _show(PIPELINE, workspace, tmp_path, compat_path)

    [run_id] = [line.split()[1] for line in seen if line.startswith("submitted ")]
    shown = untimed(seen)
    order = ["[work] Running", "[work] begun", "[work] released", "[work] Finished"]
    assert [line for line in shown if line in order] == order
    assert shown[-1].startswith(f"[run] details / {run_id}: Finished · 1 of 1 steps")
    assert seen[-1] == "show returned Finished"
    after = seen[seen.index(f"submitted {run_id}") + 1 : -1]
    assert [line for line in after if not CLOCK.match(line)] == []  # no table


def test_script_run_is_shown_as_it_goes(
    workspace: Workspace, tmp_path: Path, compat_path: str
) -> None:
    seen = _show(SCRIPT_RUN, workspace, tmp_path, compat_path, step="wait.py")

    [run_id] = [line.split()[1] for line in seen if line.startswith("submitted ")]
    shown = untimed(seen)
    assert shown.index("[wait.py] begun") < shown.index("[wait.py] released")
    assert shown[-1].startswith(f"[run] scripted / {run_id}: Finished · ")
    assert seen[-1] == "show returned Completed"
