"""``dataferry runs resume|rerun``, ``dataferry gc`` and ``dataferry datastore retention``."""

from __future__ import annotations

from pathlib import Path

import pytest

from dataferry import (
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry.execution import PipelineRun

WRITE = """
import os, sys
os.makedirs(sys.argv[1], exist_ok=True)
open(os.path.join(sys.argv[1], "part.txt"), "w").write("data")
"""


@pytest.fixture
def two_step_run(workspace: Workspace, tmp_path: Path) -> PipelineRun:
    """A finished run: 'make' writes an output that 'use' reads and rewrites."""
    source = tmp_path / "steps"
    source.mkdir()
    (source / "write.py").write_text(WRITE)
    first = OutputFileDatasetConfig(name="first")
    second = OutputFileDatasetConfig(name="second")
    make = PythonScriptStep(
        "write.py", name="make", arguments=[first], source_directory=str(source)
    )
    use = PythonScriptStep(
        "write.py",
        name="use",
        arguments=[second, first.as_input("first_in")],
        source_directory=str(source),
    )
    run = Experiment(workspace, "life").submit(Pipeline(workspace, steps=[make, use]))
    assert (
        run.wait_for_completion(show_output=False, raise_on_error=False) == "Finished"
    )
    return run


def _destinations(run: PipelineRun) -> list[Path]:
    out = []
    for step in run.get_steps():
        for ref in (o.get_port_data_reference() for o in step.get_outputs().values()):
            out.append(Path(ref.datastore.location.full_path(ref.path_on_datastore)))
    return out


@pytest.mark.slow
def test_gc_dry_run_lists_what_gc_then_deletes(run, two_step_run: PipelineRun) -> None:
    places = _destinations(two_step_run)
    dry = run("gc", "--older-than", "0s", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would delete 2 output(s)" in dry.output
    assert all(p.exists() for p in places)
    real = run("gc", "--older-than", "0s")
    assert real.exit_code == 0, real.output
    assert "deleted 2 output(s)" in real.output
    assert not any(p.exists() for p in places)
    assert "deleted 0 output(s)" in run("gc", "--older-than", "0s").output


@pytest.mark.slow
def test_gc_keeps_recent_runs(run, two_step_run: PipelineRun) -> None:
    result = run("gc", "--older-than", "7d", "--dry-run")
    assert "would delete 0 output(s)" in result.output


def test_gc_malformed_duration_exits_2(run) -> None:
    result = run("gc", "--older-than", "7x")
    assert result.exit_code == 2
    assert "invalid duration '7x'" in result.output


@pytest.mark.slow
def test_retention_is_what_gc_applies(run, two_step_run: PipelineRun) -> None:
    assert (
        "would delete 0 output(s)" in run("gc", "--dry-run").output
    )  # no retention yet
    assert run("datastore", "retention", "workspaceblobstore", "0s").exit_code == 0
    assert "would delete 2 output(s)" in run("gc", "--dry-run").output
    assert run("datastore", "retention", "workspaceblobstore", "none").exit_code == 0
    assert "would delete 0 output(s)" in run("gc", "--dry-run").output


def test_retention_of_unknown_datastore_exits_3(run) -> None:
    result = run("datastore", "retention", "nope", "7d")
    assert result.exit_code == 3
    assert "no datastore named 'nope'" in result.output


@pytest.mark.slow
def test_resume_of_a_finished_run_exits_2(run, two_step_run: PipelineRun) -> None:
    result = run("runs", "resume", two_step_run.id)
    assert result.exit_code == 2
    assert "cannot be resumed" in result.output


def test_resume_of_an_unknown_run_exits_3(run) -> None:
    result = run("runs", "resume", "nope")
    assert result.exit_code == 3
    assert "no run with id 'nope'" in result.output


@pytest.mark.slow
def test_rerun_from_a_step(
    run, workspace: Workspace, two_step_run: PipelineRun
) -> None:
    result = run("runs", "rerun", two_step_run.id, "--from", "use")
    assert result.exit_code == 0, result.output
    new_id = result.output.split("Submitted PipelineRun ")[1].split()[0]
    again = PipelineRun(two_step_run.experiment, new_id)
    assert again.wait_for_completion(show_output=False) == "Finished"
    steps = {s.name: s.get_details() for s in again.get_steps()}
    assert steps["make"]["explanation"].startswith("reused from run")
    assert steps["use"]["explanation"] == "rerun: asked to rerun from this step"


@pytest.mark.slow
def test_rerun_from_an_unknown_step_exits_3(run, two_step_run: PipelineRun) -> None:
    result = run("runs", "rerun", two_step_run.id, "--from", "nope")
    assert result.exit_code == 3
    assert "has no step named 'nope'" in result.output


@pytest.mark.slow
def test_rerun_wait_watches_the_new_run_to_its_end(
    run, two_step_run: PipelineRun
) -> None:
    result = run("runs", "rerun", "latest", "-e", "life", "--from", "use", "--wait")
    assert result.exit_code == 0, result.output
    new_id = result.output.split("Submitted PipelineRun ")[1].split()[0]
    again = PipelineRun(two_step_run.experiment, new_id)
    assert again.get_status() == "Finished"  # ended before the command returned
    assert "follow it with" not in result.output
    assert f"life / {new_id}: Finished" in result.output


@pytest.mark.slow
def test_resume_of_a_finished_run_names_the_cli_rerun(
    run, two_step_run: PipelineRun
) -> None:
    result = run("runs", "resume", two_step_run.id[:-3])  # a prefix
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: run {two_step_run.id} has ended (Finished) and cannot be resumed; to "
        f"run its steps again, use `dataferry runs rerun {two_step_run.id} --from "
        "STEP`.\n"
    )


@pytest.mark.slow
def test_rerun_step_typo_suggests_the_step(run, two_step_run: PipelineRun) -> None:
    result = run("runs", "rerun", two_step_run.id, "--from", "mkae")
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: run {two_step_run.id} has no step named 'mkae'; its steps are: "
        "make, use. Did you mean 'make'?\n"
    )
