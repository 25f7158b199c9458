"""The demo's closing hint is a command that runs, wherever ``dataferry`` is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataferry.demo import cli_command

SRC = Path(__file__).resolve().parents[1] / "src"


def _shell(line: str, *, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line],
        env={**os.environ, "PATH": path, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "path",
    ["/usr/bin:/bin", f"{Path(sys.executable).parent}:/usr/bin:/bin"],
    ids=["dataferry-not-on-PATH", "venv-on-PATH"],
)
def test_the_hints_command_runs(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", path)
    done = _shell(f"{cli_command()} --version", path=path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dataferry, version ")


@pytest.mark.slow
def test_the_demo_ends_with_a_command_that_runs(tmp_path: Path) -> None:
    path = "/usr/bin:/bin"  # as `bash dev.sh demo` runs: the venv's bin not on PATH
    done = _shell(f"{sys.executable} -m dataferry.demo {tmp_path / 'demo'}", path=path)
    assert done.returncode == 0, done.stdout + done.stderr
    hint = done.stdout.splitlines()[-1]
    assert hint.startswith("look around: ")
    shown = _shell(hint.removeprefix("look around: "), path=path)
    assert shown.returncode == 0, shown.stderr
    assert "Finished" in shown.stdout
