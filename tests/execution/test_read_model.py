"""The read model over real runs: a finished, a failed and a reused run as views."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from dataferry import (
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineRun,
    PythonScriptStep,
)
from dataferry.errors import RunNotFoundError
from dataferry.execution import run_layout, views

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

WAIT_S = 60.0  # an upper bound for runs that take about a second; never asserted

HELLO = """\
import sys
from dataferry import Run
print("hello é")
print("a warning", file=sys.stderr)
Run.get_context().log("acc", 0.9)
with open(sys.argv[2] + "/model.txt", "w") as fh:
    fh.write("model\\n")
"""
FAILS = """\
raise SystemExit("no data here")
"""


def _run(
    workspace: Workspace, source: Path, script: str, *, reuse: bool, out: bool
) -> PipelineRun:
    model = OutputFileDatasetConfig(name="model").register_on_complete("hello_model")
    step = PythonScriptStep(
        script,
        name=script.removesuffix(".py"),
        arguments=["--out", model] if out else [],
        outputs=[model] if out else [],
        source_directory=str(source),
        allow_reuse=reuse,
    )
    pipeline_run = Experiment(workspace, "views").submit(
        Pipeline(workspace, steps=[step])
    )
    pipeline_run.wait_for_completion(
        show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
    )
    return pipeline_run


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "steps"
    folder.mkdir()
    (folder / "hello.py").write_text(HELLO)
    (folder / "fails.py").write_text(FAILS)
    return folder


@pytest.mark.slow
def test_a_finished_run(workspace: Workspace, source: Path) -> None:
    run = _run(workspace, source, "hello.py", reuse=False, out=True)
    detail = views.run_detail(workspace, run.id)
    assert (detail.id, detail.experiment, detail.status) == (
        run.id,
        "views",
        "Finished",
    )
    assert detail.is_terminal and detail.error is None
    assert detail.duration_s is not None and detail.duration_s > 0
    assert detail.log_dir == run_layout.run_dir(workspace, run.id)
    assert detail.driver_log.is_file()
    (step,) = detail.steps
    assert (step.name, step.status, step.exit_code) == ("hello", "Finished", 0)
    assert (step.reused_from, step.error, step.source_id) == (None, None, step.id)
    assert step.log_dir == run_layout.step_dir(workspace, run.id, step.id)
    assert [s for s, _ in step.log_files()] == ["stdout", "stderr"]
    assert views.read_log_chunk(step.log_files()[0][1]).lines == ["hello é"]
    assert step.registrations == (
        views.RegistrationView(step.id, "hello", "hello_model", 1, "model"),
    )
    (output,) = views.outputs(workspace, detail.steps)
    assert (output.step_run_id, output.producer_id, output.name) == (
        step.id,
        step.id,
        "model",
    )
    assert (output.step_name, output.datastore, output.file_count) == (
        "hello",
        "workspaceblobstore",
        1,
    )
    lineage = views.lineage(workspace, step)
    assert [(row.role, row.name) for row in lineage] == [("output", "model")]
    (metric,) = views.metrics(workspace, [step.id])
    assert (metric.run_id, metric.name, metric.kind, metric.value) == (
        step.id,
        "acc",
        "scalar",
        0.9,
    )
    (summary,) = views.list_runs(workspace, experiment="views")
    assert (summary.id, summary.status, summary.step_statuses) == (
        run.id,
        "Finished",
        ("Finished",),
    )
    assert views.get_step(workspace, step.id) == dataclasses.replace(
        step, duration_s=views.get_step(workspace, step.id).duration_s
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        detail.status = "Failed"  # type: ignore[misc]


@pytest.mark.slow
def test_a_failed_run(workspace: Workspace, source: Path) -> None:
    run = _run(workspace, source, "fails.py", reuse=False, out=False)
    detail = views.run_detail(workspace, run.id)
    assert detail.status == "Failed"
    (step,) = detail.steps
    assert (step.status, step.exit_code) == ("Failed", 1)
    assert step.error is not None
    assert step.error.startswith("step 'fails' failed (exit code 1):")
    assert step.error.endswith("no data here")
    assert step.registrations == ()
    assert views.outputs(workspace, detail.steps) == []
    assert views.registrations(detail.steps) == []
    tail = views.LogTail()
    assert list(tail.step_lines(step, final=True)) == [("stderr", "no data here")]


# Not slow: the quick selection's check that reuse works end to end (two one-step runs).
def test_a_reused_run_shows_what_it_reused(workspace: Workspace, source: Path) -> None:
    first = _run(workspace, source, "hello.py", reuse=True, out=True)
    second = _run(workspace, source, "hello.py", reuse=True, out=True)
    (made,) = views.run_detail(workspace, first.id).steps
    detail = views.run_detail(workspace, second.id)
    (step,) = detail.steps
    assert (detail.status, step.status) == ("Finished", "Finished")
    assert (step.reused_from, step.source_id) == (made.id, made.id)
    assert step.explanation
    (output,) = views.outputs(workspace, detail.steps)
    assert (output.step_run_id, output.producer_id, output.name) == (
        step.id,
        made.id,
        "model",
    )
    assert [m.name for m in views.metrics(workspace, [step.source_id])] == ["acc"]
    assert views.lineage(workspace, step) == views.lineage(workspace, made)
    summaries = views.list_runs(workspace, experiment="views")
    assert [s.id for s in summaries] == [second.id, first.id]


@pytest.mark.slow
def test_waiting_for_a_status(workspace: Workspace, source: Path) -> None:
    run = _run(workspace, source, "fails.py", reuse=False, out=False)
    seen: list[str] = []
    assert views.wait_for_status(workspace, run.id, on_poll=seen.append) == "Failed"
    assert seen == ["Failed"]
    assert views.wait_for_status(workspace, run.id, {"Running"}, timeout_s=0) == (
        "Failed"
    )


@pytest.mark.slow
def test_an_unknown_run(workspace: Workspace) -> None:
    with pytest.raises(
        RunNotFoundError, match="no run with id 'nope' in this workspace"
    ):
        views.run_detail(workspace, "nope")
    with pytest.raises(RunNotFoundError, match="no run with id 'nope'"):
        views.wait_for_status(workspace, "nope", timeout_s=0)
    with pytest.raises(RunNotFoundError, match="no step run with id 'nope'"):
        views.get_step(workspace, "nope")
