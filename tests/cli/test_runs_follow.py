"""``dataferry runs logs RUN --follow`` through a pipe: the run feed that ``dataferry
run`` shows, as timestamped lines while the run goes, ending when the run (or the
``--step``) ends."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from execution.pipe_kit import Lines, untimed

from dataferry import Experiment, Pipeline, PythonScriptStep

if TYPE_CHECKING:
    from dataferry import PipelineRun, Workspace

SRC = Path(__file__).resolve().parents[2] / "src"

# the step says it has begun, then waits for the test to let it go
WAIT = """\
import pathlib, sys, time
print("begun", flush=True)
print("to stderr", file=sys.stderr, flush=True)
while not pathlib.Path(sys.argv[1]).exists():
    time.sleep(0.05)
print("released", flush=True)
"""


def _submit(workspace: Workspace, tmp_path: Path, release: Path) -> PipelineRun:
    """A run of 'waiting' (waits for ``release``), then 'after'."""
    steps = tmp_path / "steps"
    steps.mkdir()
    (steps / "wait.py").write_text(WAIT)
    (steps / "done.py").write_text("print('all done')\n")
    first = PythonScriptStep(
        "wait.py",
        name="waiting",
        arguments=[str(release)],
        source_directory=str(steps),
        allow_reuse=False,
    )
    last = PythonScriptStep(
        "done.py", name="after", source_directory=str(steps), allow_reuse=False
    )
    last.run_after(first)
    return Experiment(workspace, "follow").submit(Pipeline(workspace, steps=[last]))


def _follow(workspace: Workspace, *args: str) -> subprocess.Popen[str]:
    project = str(workspace.path.parent)
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "dataferry.cli", "-w", project, "runs", "logs"]
    return subprocess.Popen(
        [*argv, *args, "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _read(proc: subprocess.Popen[str], release: Path, begun: str) -> list[str]:
    """Every line ``proc`` writes; ``release`` is made once ``begun`` was shown (so
    the lines before it came while the step still ran)."""
    try:
        lines = Lines(proc)
        lines.until(begun)
        assert not release.exists()
        release.touch()
        lines.to_end()
        assert proc.wait(timeout=60) == 0
    finally:
        release.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    return lines.seen


@pytest.mark.slow
def test_follow_shows_the_run_feed_while_it_goes(
    workspace: Workspace, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    run = _submit(workspace, tmp_path, release)
    seen = _read(_follow(workspace, run.id), release, "[waiting] begun")

    assert seen[0] == f"Driver log: {workspace.path / 'runs' / run.id / 'driver.log'}"
    shown = untimed(seen)
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
    assert "[waiting] ! to stderr" in shown
    assert shown[-1].startswith(f"[run] follow / {run.id}: Finished · 2 of 2 steps")
    assert not [line for line in seen if "│" in line or "━" in line]  # no table


@pytest.mark.slow
def test_follow_one_step_ends_with_that_step(
    workspace: Workspace, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    run = _submit(workspace, tmp_path, release)
    proc = _follow(workspace, run.id, "--step", "waiting")
    shown = untimed(_read(proc, release, "[waiting] begun"))

    assert [line for line in shown if line.startswith("[after]")] == []
    assert shown[-2] == "[waiting] Finished"
    [step] = [s for s in run.get_steps() if s.name == "waiting"]
    assert shown[-1].startswith(f"[run] step waiting / {step.id}: Finished · ")
