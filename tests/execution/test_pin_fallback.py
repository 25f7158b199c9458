"""Exact pins that do not install on this Python (an old version with no wheel for it
and an sdist that fails to build, or a version the index does not offer) are replaced
by the nearest version that installs: the same major.minor first, else the nearest
newer. Against a package index the tests build (``local_index``), never PyPI."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from execution.local_index import add_broken_sdist, add_wheel
from packaging.requirements import Requirement
from packaging.version import Version
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
from dataferry.execution.environments.pin_fallback import _candidates, _pin, _pinned
from dataferry.execution.environments.requirements import resolve_request
from dataferry.execution.plan_model import EnvironmentSpec
from dataferry.execution.run_layout import STDOUT

if TYPE_CHECKING:
    from dataferry import Workspace

PY = ".".join(str(n) for n in sys.version_info[:2])
STEP = """\
import pinfix, goodpkg
print("versions", pinfix.__version__, goodpkg.__version__)
"""


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip sees only this folder: ``pinfix`` 1.0.0 and 1.0.1 fail to build, 0.9.0,
    1.0.2 and 1.1.0 are wheels; ``goodpkg`` 2.0.0 is a wheel; ``pinnew`` 2.0.0 fails,
    1.9.0, 2.1.0 and 2.3.0 are wheels; ``pinnone`` has only 1.0.0 (fails) and 0.9.0."""
    folder = tmp_path / "index"
    for name, version in [("pinfix", "1.0.0"), ("pinfix", "1.0.1")]:
        add_broken_sdist(folder, name, version)
    for version in ("0.9.0", "1.0.2", "1.1.0"):
        add_wheel(folder, "pinfix", version)
    add_wheel(folder, "goodpkg", "2.0.0")
    add_broken_sdist(folder, "pinnew", "2.0.0")
    for version in ("1.9.0", "2.1.0", "2.3.0"):
        add_wheel(folder, "pinnew", version)
    add_broken_sdist(folder, "pinnone", "1.0.0")
    add_wheel(folder, "pinnone", "0.9.0")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


def _spec(*pip: str) -> EnvironmentSpec:
    return EnvironmentSpec("old", None, {}, {"pip": list(pip)})


def _note(asked: str, used: str, why: str) -> str:
    return (
        f"environment 'old': pin '{asked}' replaced by '{used}' "
        f"({asked.split('==')[1]} cannot be installed on Python {PY}: {why})"
    )


BROKEN = "1.0.0 has no wheel for it and its sdist fails"


def _order(line: str, offered: str) -> list[str]:
    pin = _pin(line)
    assert pin is not None
    return [str(v) for v in _candidates(pin, [Version(v) for v in offered.split()])]


class TestCandidates:
    def test_same_minor_newer_then_older_then_newer_minors(self) -> None:
        order = _order("x==1.0.2", "0.9 1.0.0 1.0.1 1.0.2 1.0.3 1.1 2.0")
        assert order == ["1.0.3", "1.0.1", "1.0.0", "1.1", "2.0"]

    def test_never_an_older_minor(self) -> None:
        assert _order("x==0.22.1", "0.21.3 0.22.1 0.23.0") == ["0.23.0"]

    @pytest.mark.parametrize("line", ["x==0.22.*", "x~=0.22.0"])
    def test_a_series_newest_first_then_newer_minors(self, line: str) -> None:
        order = _order(line, "0.21.3 0.22.0 0.22.1 0.22.2 0.23.0 1.0")
        assert order == ["0.22.2", "0.22.1", "0.22.0", "0.23.0", "1.0"]

    def test_a_replacement_keeps_extras_and_marker(self) -> None:
        req = Requirement("Pin_Fix[b,a]==1.0.0; python_version >= '3'")
        assert _pinned(req, Version("1.0.2")) == (
            'Pin_Fix[a,b]==1.0.2; python_version >= "3"'
        )

    @pytest.mark.parametrize(
        "line", ["x>=1.0", "x<2", "x", "x==1.0; python_version<'3'", "./local", "-e ."]
    )
    def test_what_is_not_a_pin(self, line: str) -> None:
        assert (_pin(line) is None) == (line != "x==1.0; python_version<'3'")


@pytest.mark.slow
class TestReplaced:
    def test_a_pin_that_does_not_build_runs_with_the_same_minor(
        self, workspace: Workspace, index: Path, tmp_path: Path
    ) -> None:
        code = tmp_path / "code"
        code.mkdir()
        (code / "step.py").write_text(STEP)
        env = Environment("old")
        env.python.conda_dependencies = CondaDependencies.create(
            pip_packages=["pinfix==1.0.0", "goodpkg==2.0.0"]
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
        pipeline = Pipeline(workspace, [step])

        first, notes = _run(pipeline)
        second, again = _run(pipeline)

        # 1.0.1 (same minor, nearer) also fails to build: 1.0.2 is the nearest that installs
        replaced = _note("pinfix==1.0.0", "pinfix==1.0.2", BROKEN)
        key = resolve_request({"pip": ["pinfix==1.0.0", "goodpkg==2.0.0"]}, "old").key
        assert notes[0] == replaced
        assert notes == again  # a cache hit says it again
        assert f"dataferry: {replaced}" in first
        assert first.splitlines()[-1] == "versions 1.0.2 2.0.0"
        assert second.splitlines()[-1] == "versions 1.0.2 2.0.0"
        root = workspace.path / "environments"
        assert len(list((root / "builds").iterdir())) == 1
        ready = json.loads((root / key / "dataferry-environment.json").read_text())
        assert ready["uninstallable"] == [
            ["pinfix==1.0.0", "pinfix==1.0.2", replaced.split("(", 1)[1][:-1]]
        ]
        assert ready["install"] == ["pinfix==1.0.0", "goodpkg==2.0.0"]

    def test_a_version_the_index_does_not_offer(
        self, workspace: Workspace, index: Path
    ) -> None:
        resolved = resolve_environment(_spec("pinfix==1.0.9"), workspace.path)
        why = "the index does not offer 1.0.9 for this Python"
        assert resolved.notes[0] == _note("pinfix==1.0.9", "pinfix==1.0.2", why)

    def test_a_conda_series_pin_takes_the_nearest_newer(
        self, workspace: Workspace, index: Path
    ) -> None:
        env = Environment("old")
        env.python.conda_dependencies = CondaDependencies.create(
            conda_packages=["pinnew=2.0"]
        )
        spec = EnvironmentSpec("old", None, {}, env.request())
        resolved = resolve_environment(spec, workspace.path)
        why = "2.0.* cannot be installed on Python " + PY
        assert resolved.notes[0] == (
            "environment 'old': pin 'pinnew==2.0.*' replaced by 'pinnew==2.1.0' "
            f"({why}: 2.0.0 has no wheel for it and its sdist fails)"
        )

    def test_no_same_minor_takes_the_nearest_newer(
        self, workspace: Workspace, index: Path
    ) -> None:
        resolved = resolve_environment(
            _spec("pinnew==2.0.0", "goodpkg==2.0.0"), workspace.path
        )
        why = "2.0.0 has no wheel for it and its sdist fails"
        assert resolved.notes[0] == _note("pinnew==2.0.0", "pinnew==2.1.0", why)
        assert len(resolved.notes) == 2  # and the venv; goodpkg's pin is kept


@pytest.mark.slow
class TestNothingInstalls:
    def test_only_an_older_minor_fails_the_submit(
        self, workspace: Workspace, index: Path, tmp_path: Path
    ) -> None:
        (tmp_path / "step.py").write_text(STEP)
        step = PythonScriptStep(
            "step.py",
            name="s",
            source_directory=str(tmp_path),
            runconfig=_config("pinnone==1.0.0"),
        )
        key = resolve_request({"pip": ["pinnone==1.0.0"]}, "old").key
        log = workspace.path / "environments" / "logs" / f"{key}.log"
        with pytest.raises(PinNotInstallableError) as raised:
            Pipeline(workspace, [step]).submit("envs")

        assert str(raised.value) == (
            f"environment 'old' cannot be built: 'pinnone==1.0.0' does not install on "
            f"Python {PY}, and no version of 'pinnone' in 1.0 or newer does. The "
            "index's answer: the index offers 0.9.0, 1.0.0. Tried: 1.0.0 has no wheel "
            f"for it and its sdist fails. The full log is {log}. Pin a version that "
            "supports this Python (or point pip at an index that has one: see 'pip "
            "config list') and submit again."
        )
        assert isinstance(raised.value, EnvironmentBuildError)
        assert raised.value.exit_code == 1
        assert nothing_written(workspace)
        assert not (workspace.path / "environments" / key).exists()

    def test_a_package_the_index_lacks(self, workspace: Workspace, index: Path) -> None:
        with pytest.raises(
            PinNotInstallableError,
            match=r"^environment 'old' cannot be built: 'absentpkg==1\.0' does not "
            rf"install on Python {PY}, and no version of 'absentpkg' in 1\.0 or newer "
            r"does\. The index's answer: ERROR: No matching distribution found for "
            r"absentpkg\. Tried: the index does not offer 1\.0 for this Python\. ",
        ):
            resolve_environment(
                _spec("absentpkg==1.0", "goodpkg==2.0.0"), workspace.path
            )


def _config(*pip: str) -> RunConfiguration:
    env = Environment("old")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(pip))
    config = RunConfiguration()
    config.environment = env
    return config


def _run(pipeline: Pipeline) -> tuple[str, list[str]]:
    """The step's log and its run details' notes, once the run has finished."""
    run = pipeline.submit("envs")
    assert run.wait_for_completion(show_output=False, timeout_seconds=180) == (
        "Finished"
    )
    (step,) = run.get_steps()
    details = step.get_details()
    return Path(details["logFiles"][STDOUT]).read_text(), details["notes"]
