"""``DATAFERRY_PROFILE_DRIVER``: a driver's profile and CPU seconds, for measuring what a
step costs it (issue 8, item 6)."""

from __future__ import annotations

import os
import pstats
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import run_pipeline, wait_until, write_script

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
from dataferry.execution.driver_profile import MODE_ENV, PROFILE_ENV, profiled

if TYPE_CHECKING:
    from pathlib import Path


def busy() -> int:
    return sum(range(10_000))


def written(folder: Path) -> list[str]:
    return sorted(p.name.replace(str(os.getpid()), "PID") for p in folder.iterdir())


def cpu_seconds(folder: Path) -> list[float]:
    (cpu,) = folder.glob("driver-*.cpu")
    return [float(part) for part in cpu.read_text().split()]


def test_unset_it_only_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROFILE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert profiled(busy) == 49_995_000
    assert list(tmp_path.iterdir()) == []


def test_a_folder_gets_the_profile_and_the_cpu_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "made" / "here"
    monkeypatch.setenv(PROFILE_ENV, str(folder))
    monkeypatch.delenv(MODE_ENV, raising=False)
    assert profiled(busy) == 49_995_000
    assert written(folder) == ["driver-PID.cpu", "driver-PID.prof"]
    stats = pstats.Stats(str(folder / f"driver-{os.getpid()}.prof"))
    assert any(name == "busy" for _, _, name in stats.stats)  # type: ignore[attr-defined]
    assert len(cpu_seconds(folder)) == 4  # user, system, children's user, system
    assert all(seconds >= 0 for seconds in cpu_seconds(folder))


def test_cpu_mode_writes_only_the_cpu_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROFILE_ENV, str(tmp_path))
    monkeypatch.setenv(MODE_ENV, "cpu")
    assert profiled(busy) == 49_995_000
    assert written(tmp_path) == ["driver-PID.cpu"]


def test_what_the_call_raised_is_raised_and_the_profile_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROFILE_ENV, str(tmp_path))
    monkeypatch.delenv(MODE_ENV, raising=False)

    def fails() -> None:
        raise KeyError("gone")

    with pytest.raises(KeyError, match="gone"):
        profiled(fails)
    assert written(tmp_path) == ["driver-PID.cpu", "driver-PID.prof"]


@pytest.mark.slow
def test_a_run_driven_by_the_agent_is_profiled(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The submitting script's environment names the folder; the agent's child, which
    records and drives the run, writes its profile there."""
    folder = tmp_path / "profiles"
    monkeypatch.setenv(PROFILE_ENV, str(folder))
    monkeypatch.delenv(MODE_ENV, raising=False)
    code = write_script(
        tmp_path / "code", "one.py", "import sys\nopen(sys.argv[1] + '/f', 'w')"
    )
    step = PythonScriptStep(
        "one.py",
        name="one",
        source_directory=str(code),
        arguments=[OutputFileDatasetConfig("o")],
    )
    run = run_pipeline(Pipeline(workspace, steps=[step]))
    assert run.get_status() == "Finished"
    # the run ends a moment before its driver, which writes the files as it ends
    wait_until(lambda: any(folder.glob("driver-*.cpu")), "the driver's CPU file")
    (prof,) = folder.glob("driver-*.prof")
    names = {name for _, _, name in pstats.Stats(str(prof)).stats}  # type: ignore[attr-defined]
    assert {"drive_run", "record_run"} <= names
    user, system, steps_user, steps_system = cpu_seconds(folder)
    assert user + system > 0
    assert steps_user + steps_system > 0  # the step's process, waited for
