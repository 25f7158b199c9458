"""Environments with packages this interpreter lacks: real builds with real pip from
PyPI (``six`` and ``toolz``, pinned), cached in the workspace and reused.

The build happens at submit: a requirement that cannot be satisfied fails the submit
with EnvironmentBuildError before any run is recorded or any step starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import nothing_written

from dataferry import (
    CondaDependencies,
    Environment,
    Pipeline,
    PythonScriptStep,
    RunConfiguration,
)
from dataferry.errors import EnvironmentBuildError, PinNotInstallableError
from dataferry.execution.environments import resolve_environment
from dataferry.execution.environments.requirements import resolve_request
from dataferry.execution.plan_model import EnvironmentSpec
from dataferry.execution.run_layout import STDOUT

if TYPE_CHECKING:
    from dataferry import Workspace

pytestmark = pytest.mark.slow

NUMPY = metadata.version("numpy")
# what the Python 3.8 pin meets here: no python3.8, or one that does not run (a pyenv
# shim of a version that is not installed)
_PYTHON_38 = shutil.which("python3.8")
NO_38 = (
    f"{_PYTHON_38} does not run (is that Python version installed?)"
    if _PYTHON_38
    else "this machine has no python3.8 on PATH"
)
PACKAGES = ["six==1.16.0", "toolz==0.12.1"]
STEP = """\
import six, toolz
from dataferry import Run
print("versions", six.__version__, toolz.__version__, type(Run.get_context()).__name__)
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "step.py").write_text(STEP)
    return folder


def pipeline_with(workspace: Workspace, code: Path, *pip: str) -> Pipeline:
    env = Environment("small")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=list(pip), python_version="3.8"
    )
    config = RunConfiguration()
    config.environment = env
    step = PythonScriptStep(
        "step.py",
        name="s",
        source_directory=str(code),
        runconfig=config,
        allow_reuse=False,
    )
    return Pipeline(workspace, [step])


def cache(workspace: Workspace) -> Path:
    return workspace.path / "environments"


def run_step(workspace: Workspace, pipeline: Pipeline) -> tuple[str, list[str]]:
    """The step's log and its run details' notes, once the run has finished."""
    run = pipeline.submit("envs")
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == (
        "Finished"
    )
    (step,) = run.get_steps()
    details = step.get_details()
    return Path(details["logFiles"][STDOUT]).read_text(), details["notes"]


class TestBuiltOnceThenReused:
    def test_two_runs_one_build(self, workspace: Workspace, code: Path) -> None:
        pipeline = pipeline_with(workspace, code, *PACKAGES, "numpy==1.19.5")

        log, notes = run_step(workspace, pipeline)
        again, _ = run_step(workspace, pipeline)

        assert "versions 1.16.0 0.12.1 _SubmittedRun" in log.splitlines()[-1]
        assert "versions 1.16.0 0.12.1" in again
        key = resolve_request({"pip": PACKAGES}, "small").key
        assert notes == [
            f"environment 'small': pin 'numpy==1.19.5' replaced by 'numpy=={NUMPY}' "
            "(dataferry itself needs it)",
            f"warning: environment 'small' pins Python 3.8, but {NO_38}; the step "
            f"runs with Python {sys.version.split()[0]} ({sys.executable}) instead",
            f"environment 'small': venv {key} with six==1.16.0, toolz==0.12.1",
        ]
        assert all(f"dataferry: {note}" in log for note in notes)
        # one build: one venv, one pip run in its log, the finished one under its key
        assert len(list((cache(workspace) / "builds").iterdir())) == 1
        pip_log = (cache(workspace) / "logs" / f"{key}.log").read_text()
        assert pip_log.count("\n== ") == 1
        assert "Successfully installed six-1.16.0 toolz-0.12.1" in pip_log
        ready = json.loads(
            (cache(workspace) / key / "dataferry-environment.json").read_text()
        )
        assert ready["install"] == PACKAGES

    def test_concurrent_builders_build_once(self, workspace: Workspace) -> None:
        spec = EnvironmentSpec("small", None, {}, {"pip": PACKAGES})
        script = textwrap.dedent(
            f"""
            from pathlib import Path
            from dataferry.execution.environments import resolve_environment
            from dataferry.execution.plan_model import EnvironmentSpec
            spec = EnvironmentSpec("small", None, {{}}, {{"pip": {PACKAGES!r}}})
            print(resolve_environment(spec, Path({str(workspace.path)!r})).interpreter)
            """
        )
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script],
                stdout=subprocess.PIPE,
                text=True,
                env=os.environ,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=240)[0].strip() for p in procs]

        assert [p.returncode for p in procs] == [0, 0]
        key = resolve_request({"pip": PACKAGES}, "small").key
        assert outputs == [str(cache(workspace) / key / "bin" / "python")] * 2
        pip_log = (cache(workspace) / "logs" / f"{key}.log").read_text()
        assert pip_log.count("\n== ") == 1
        # the cached venv answers at once, with the same interpreter
        again = resolve_environment(spec, workspace.path)
        assert again.interpreter == outputs[0]


class TestNeverHalfBuilt:
    def test_a_crashed_build_is_not_used_and_is_cleared(
        self, workspace: Workspace
    ) -> None:
        key = resolve_request({"pip": PACKAGES}, "small").key
        half = cache(workspace) / "builds" / f"{key}-deadbeef"
        (half / "bin").mkdir(parents=True)  # what a killed builder left

        resolved = resolve_environment(
            EnvironmentSpec("small", None, {}, {"pip": PACKAGES}), workspace.path
        )

        assert not half.exists()
        assert Path(resolved.interpreter).resolve().parent.parent.name != half.name
        out = subprocess.run(
            [
                resolved.interpreter,
                "-c",
                "import six, dataferry; print(six.__version__)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == "1.16.0"

    def test_a_pin_with_nothing_to_replace_it_fails_the_submit(
        self, workspace: Workspace, code: Path
    ) -> None:
        pipeline = pipeline_with(workspace, code, "toolz==0.12.1", "six==99.0.0")

        with pytest.raises(
            PinNotInstallableError,
            match=r"^environment 'small' cannot be built: 'six==99\.0\.0' does not "
            r"install on Python 3\.\d+, and no version of 'six' in 99\.0 or newer "
            r"does\. The index's answer: the index offers .*1\.16\.0.*\. Tried: the "
            r"index does not offer 99\.0\.0 for this Python\. The full log is ",
        ):
            pipeline.submit("envs")

        assert nothing_written(workspace)

    def test_a_requirement_pip_cannot_satisfy_fails_the_submit(
        self, workspace: Workspace, code: Path
    ) -> None:
        bad = "no-such-package-dataferry-x"
        pipeline = pipeline_with(workspace, code, "toolz==0.12.1", bad)
        key = resolve_request({"pip": ["toolz==0.12.1", bad]}, "small").key

        with pytest.raises(
            EnvironmentBuildError,
            match=rf"(?s)^environment 'small' cannot be built: pip could not install "
            rf"{bad}\. pip's answer:\n  ERROR: .*No matching distribution found for "
            rf"{bad}\nThe full log is .*{key}\.log\.",
        ):
            pipeline.submit("envs")

        assert nothing_written(workspace)
        assert not (cache(workspace) / key).exists()
        assert list((cache(workspace) / "builds").iterdir()) == []
