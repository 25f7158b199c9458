"""A Python version pin (``CondaDependencies.create(python_version=...)``): an
interpreter of that version when the machine has a working one, else the current one
with a warning naming both versions in the step's log and details. Real interpreters
and real step processes: this machine has this Python, and no other working one."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dataferry import (
    CondaDependencies,
    Environment,
    Pipeline,
    PythonScriptStep,
    RunConfiguration,
)
from dataferry.execution.environments.pythons import PythonChoice, choose_python
from dataferry.execution.run_layout import STDOUT

if TYPE_CHECKING:
    from dataferry import Workspace

HERE = ".".join(str(n) for n in sys.version_info[:3])
MINOR = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER = f"{sys.version_info.major}.{sys.version_info.minor + 1}"


def _fallback(pin: str, why: str) -> PythonChoice:
    return PythonChoice(
        None,
        (
            f"warning: environment 'env' pins Python {pin}, but {why}; the step runs "
            f"with Python {HERE} ({sys.executable}) instead",
        ),
    )


@pytest.fixture
def path_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder that is all of PATH (so which interpreters exist is known)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


class TestChoice:
    @pytest.mark.parametrize("pin", [None, "", MINOR, HERE, f"{MINOR}.99", "3", "3.*"])
    def test_this_interpreters_version_is_honoured_here(self, pin: str | None) -> None:
        assert choose_python("env", pin, ["six"]) == PythonChoice(None, ())

    def test_a_version_with_no_interpreter_warns_with_both_versions(
        self, path_dir: Path
    ) -> None:
        assert choose_python("env", "3.8", []) == _fallback(
            "3.8", "this machine has no python3.8 on PATH"
        )
        assert choose_python("env", "3.10.18", []) == _fallback(
            "3.10.18", "this machine has no python3.10 on PATH"
        )

    def test_an_interpreter_that_reports_another_version_is_not_used(
        self, path_dir: Path
    ) -> None:
        fake = path_dir / f"python{OTHER}"
        fake.symlink_to(sys.executable)  # a real interpreter, but of this version

        assert choose_python("env", OTHER, []) == _fallback(
            OTHER, f"{fake} is Python {HERE}"
        )

    def test_an_interpreter_that_does_not_run_is_not_used(self, path_dir: Path) -> None:
        shim = path_dir / "python3.8"  # as a pyenv shim of a version not installed
        shim.write_text(
            "#!/bin/sh\necho 'pyenv: python3.8: command not found' >&2\nexit 127\n"
        )
        os.chmod(shim, 0o755)

        assert choose_python("env", "3.8", []) == _fallback(
            "3.8", f"{shim} does not run (is that Python version installed?)"
        )


STEP = """\
import sys
print("python", "%d.%d" % sys.version_info[:2], sys.executable)
"""


def _run(workspace: Workspace, code: Path, pin: str) -> tuple[str, list[str]]:
    env = Environment("pinned")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=[], python_version=pin
    )
    config = RunConfiguration()
    config.environment = env
    step = PythonScriptStep(
        name="step", script_name="step.py", source_directory=str(code), runconfig=config
    )
    run = Pipeline(workspace, steps=[step]).submit("pins")
    run.wait_for_completion(show_output=False)
    (done,) = run.get_steps()
    details = done.get_details()
    return Path(details["logFiles"][STDOUT]).read_text(), details.get("notes", [])


@pytest.mark.slow
def test_steps_run_with_the_pinned_version_or_say_why_not(
    workspace: Workspace, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "step.py").write_text(STEP)

    log, notes = _run(workspace, code, MINOR)
    assert f"python {MINOR} {sys.executable}" in log
    assert not [n for n in notes if "pins Python" in n]

    log, notes = _run(workspace, code, "2.7")
    warning = (
        "warning: environment 'pinned' pins Python 2.7, but this machine has no "
        f"python2.7 on PATH; the step runs with Python {HERE} ({sys.executable}) instead"
    )
    if __import__("shutil").which("python2.7"):
        warning = next(n for n in notes if n.startswith("warning: environment"))
        assert "pins Python 2.7, but" in warning
        assert f"the step runs with Python {HERE}" in warning
    assert warning in notes
    assert f"dataferry: {warning}" in log
    assert f"python {MINOR} {sys.executable}" in log
