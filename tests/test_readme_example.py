"""The README's first pipeline, run as written: its files, ``python pipeline.py`` twice,
then the command lines it shows. The blocks come from README.md by their
``<!-- first-pipeline: PATH -->`` markers, so the README cannot drift from what runs."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
_BLOCK = re.compile(
    r"<!-- first-pipeline: (?P<path>\S+) -->\n```[a-z]*\n(?P<body>.*?)```", re.DOTALL
)

pytestmark = pytest.mark.slow


def readme_blocks(text: str) -> dict[str, str]:
    """The README's marked blocks by path (``shell`` for the command lines)."""
    blocks = {m["path"]: m["body"] for m in _BLOCK.finditer(text)}
    assert blocks, "README.md has no <!-- first-pipeline: ... --> blocks"
    return blocks


def _env() -> dict[str, str]:
    pythonpath = os.pathsep.join(
        p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p
    )
    return {**os.environ, "PYTHONPATH": pythonpath}


def _python(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=project,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _dataferry(project: Path, line: str) -> subprocess.CompletedProcess[str]:
    words = shlex.split(line)
    assert words[0] == "dataferry", line
    return _python(project, "-m", "dataferry.cli", *words[1:])


def _runs(project: Path) -> list[dict[str, object]]:
    done = _dataferry(project, "dataferry runs list --json")
    assert done.returncode == 0, done.stderr
    runs: list[dict[str, object]] = json.loads(done.stdout)
    return runs


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty folder holding the README's files, as a reader would write them."""
    for rel, body in readme_blocks((ROOT / "README.md").read_text()).items():
        if rel != "shell":
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_text(body)
    return tmp_path


def test_readme_marks_the_files_and_the_command_lines() -> None:
    blocks = readme_blocks((ROOT / "README.md").read_text())
    assert set(blocks) == {
        "data/iris.csv",
        "steps/prep/prep.py",
        "steps/train/train.py",
        "pipeline.py",
        "shell",
    }


def test_the_first_pipeline_runs_twice_as_written_then_its_command_lines(
    project: Path,
) -> None:
    first = _python(project, "pipeline.py")
    assert first.returncode == 0, first.stderr
    second = _python(project, "pipeline.py")
    assert second.returncode == 0, second.stderr
    runs = _runs(project)
    assert [r["status"] for r in runs] == ["Finished", "Finished"]
    latest = _dataferry(project, "dataferry runs show latest --json")
    steps = {s["name"]: s["reused_from"] for s in json.loads(latest.stdout)["steps"]}
    assert set(steps) == {"prep", "train"}
    assert all(steps.values()), "the second run reuses both steps"

    lines = readme_blocks((ROOT / "README.md").read_text())["shell"].splitlines()
    for line in filter(None, (raw.strip() for raw in lines)):
        done = _dataferry(project, line)
        assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    assert [r["status"] for r in _runs(project)] == ["Finished"] * 3


def test_editing_one_steps_script_reruns_that_step_only(project: Path) -> None:
    assert _python(project, "pipeline.py").returncode == 0
    train = project / "steps" / "train" / "train.py"
    train.write_text(train.read_text() + "\n# a comment changes the snapshot\n")
    assert _python(project, "pipeline.py").returncode == 0
    latest = _dataferry(project, "dataferry runs show latest --json")
    steps = {s["name"]: s["reused_from"] for s in json.loads(latest.stdout)["steps"]}
    assert steps["prep"] is not None
    assert steps["train"] is None
