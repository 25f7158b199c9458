"""``dataferry runs list | show | logs | cancel`` over real runs of tiny steps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from click.testing import Result
from execution.pipe_kit import untimed

from dataferry import (
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineRun,
    PythonScriptStep,
)
from dataferry.catalog.run_store import TERMINAL
from dataferry.cli import app

if TYPE_CHECKING:
    from pathlib import Path

    from click.testing import CliRunner

    from dataferry import Workspace

Invoke = Callable[..., Result]
Submit = Callable[..., PipelineRun]

WAIT_S = 60.0  # an upper bound for things that take about a second; never asserted

STEPS = {
    "hello.py": """\
import sys
from dataferry import Run
print("hello from the step")
print("a warning", file=sys.stderr)
Run.get_context().log("acc", 0.9)
with open(sys.argv[2] + "/model.txt", "w") as fh:
    fh.write("model\\n")
""",
    "slow.py": """\
import time
print("first", flush=True)
time.sleep(1.0)
print("last")
""",
    "sleeps.py": """\
import sys, time
open(sys.argv[1], "w").close()
time.sleep(60)
""",
}


def _row(output: str, name: str) -> str:
    """The table line whose first cell is ``name``."""
    return next(line for line in output.splitlines() if line.startswith(f"│ {name} "))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("│").split("│")]


def _value(output: str, key: str) -> str:
    """The value of ``key`` in a key/value listing."""
    line = next(li for li in output.splitlines() if li.split()[:1] == [key])
    return line.split(None, 1)[1].strip()


@pytest.fixture
def submit(workspace: Workspace, tmp_path: Path) -> Submit:
    """``submit("hello.py", experiment="greet")``: a one-step run of a script."""
    source = tmp_path / "steps"
    source.mkdir()
    for name, text in STEPS.items():
        (source / name).write_text(text)

    def submit_step(
        script: str, *, experiment: str = "greet", arguments: tuple[object, ...] = ()
    ) -> PipelineRun:
        step = PythonScriptStep(
            script,
            name=script.removesuffix(".py"),
            arguments=list(arguments),
            outputs=[a for a in arguments if isinstance(a, OutputFileDatasetConfig)],
            source_directory=str(source),
            allow_reuse=False,
        )
        return Experiment(workspace, experiment).submit(
            Pipeline(workspace, steps=[step])
        )

    return submit_step


@pytest.fixture
def finished(submit: Submit) -> PipelineRun:
    """A finished run of 'hello': stdout, stderr, a metric and a registered output."""
    model = OutputFileDatasetConfig(name="model").register_on_complete("hello_model")
    pipeline_run = submit("hello.py", arguments=("--out", model))
    status = pipeline_run.wait_for_completion(
        show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
    )
    assert status == "Finished", pipeline_run.get_details()
    return pipeline_run


@pytest.fixture
def sleeping(submit: Submit, tmp_path: Path) -> PipelineRun:
    """A run whose only step has started and sleeps for a minute."""
    marker = tmp_path / "started"
    pipeline_run = submit("sleeps.py", experiment="naps", arguments=(str(marker),))
    deadline = time.monotonic() + WAIT_S
    while not marker.exists():
        assert pipeline_run.get_status() not in TERMINAL, pipeline_run.get_details()
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.02)
    return pipeline_run


class TestList:
    @pytest.mark.slow
    def test_shows_the_run(self, run: Invoke, finished: PipelineRun) -> None:
        result = run("runs", "list")
        assert result.exit_code == 0, result.output
        cells = _cells(_row(result.stdout, finished.id))
        assert cells[:3] == [finished.id, "greet", "Finished"]
        started = finished.get_details()["startTimeUtc"]  # ISO, with microseconds
        assert cells[3] == started[:19].replace("T", " ")
        assert cells[4].endswith("s")
        assert cells[5] == "1 Finished"

    @pytest.mark.slow
    def test_ids_are_whole_on_a_narrow_terminal(
        self, cli: CliRunner, project: Path, finished: PipelineRun
    ) -> None:
        args = ["-w", str(project), "runs", "list"]
        result = cli.invoke(app, args, env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert max(len(line) for line in result.stdout.splitlines()) <= 80
        assert _cells(_row(result.stdout, finished.id))[0] == finished.id

    @pytest.mark.slow
    def test_newest_first_limited_and_by_experiment(
        self, run: Invoke, finished: PipelineRun, submit: Submit
    ) -> None:
        other = submit("slow.py", experiment="other")
        other.wait_for_completion(show_output=False, timeout_seconds=WAIT_S)
        newest = run("runs", "list", "-n", "1").stdout
        assert other.id in newest
        assert finished.id not in newest
        greet = run("runs", "list", "--experiment", "greet").stdout
        assert finished.id in greet
        assert other.id not in greet

    def test_no_runs(self, run: Invoke) -> None:
        result = run("runs", "list")
        assert result.exit_code == 0
        assert "No runs in workspace 'test-ws'." in result.stdout

    @pytest.mark.slow
    def test_unknown_experiment_exits_3_and_suggests_a_close_one(
        self, run: Invoke, finished: PipelineRun
    ) -> None:
        result = run("runs", "list", "-e", "gret")
        assert result.exit_code == 3
        assert result.stderr == (
            "Error: no runs of experiment 'gret' in this workspace; its experiments "
            "are greet. Did you mean 'greet'?\n"
        )


@pytest.mark.slow
class TestShow:
    def test_steps_outputs_datasets_and_metrics(
        self, run: Invoke, finished: PipelineRun
    ) -> None:
        (step,) = finished.get_steps()
        result = run("runs", "show", finished.id)
        assert result.exit_code == 0, result.output
        out = result.stdout
        assert f"Run {finished.id}" in out
        assert _value(out, "experiment") == "greet"
        assert _value(out, "status") == "Finished"
        assert "Parameters: none" in out
        assert _cells(_row(out, "continue_on_step_failure")) == [
            "continue_on_step_failure",
            "False",
        ]
        steps = _cells(_row(out.split("Steps")[1], "hello"))
        assert steps[:2] == ["hello", "Finished"]
        assert steps[2].endswith("s")
        # the step named no compute target: it ran locally
        assert (steps[3], steps[4], steps[6]) == (step.id, "local", "")
        outputs = _cells(_row(out.split("Committed outputs")[1], "hello"))
        assert outputs == [
            "hello",
            "model",
            f"workspaceblobstore:dataset/{step.id}/model",
            "1",
            "6 B",
        ]
        registered = _cells(_row(out.split("Registered datasets")[1], "hello"))
        assert registered == ["hello", "hello_model", "1", "model"]
        metrics = _cells(_row(out.split("Metrics")[1], "hello"))
        assert metrics == ["hello", "acc", "0.9"]

    def test_a_failed_step_shows_its_error(
        self, run: Invoke, submit: Submit, tmp_path: Path
    ) -> None:
        failed = submit("sleeps.py", arguments=(str(tmp_path / "no" / "dir"),))
        failed.wait_for_completion(
            show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
        )
        result = run("runs", "show", failed.id)
        assert result.exit_code == 0, result.output
        cells = _cells(_row(result.stdout.split("Steps")[1], "sleeps"))
        assert cells[1] == "Failed"
        assert cells[6].startswith("step 'sleeps' failed (exit code 1): ")
        assert "FileNotFoundError" in cells[6]
        assert "Metrics: none" in result.stdout


@pytest.mark.slow
class TestLogs:
    def test_prints_each_stream_with_the_step_name(
        self, run: Invoke, finished: PipelineRun, workspace: Workspace
    ) -> None:
        result = run("runs", "logs", finished.id)
        assert result.exit_code == 0, result.output
        driver_log = workspace.path / "runs" / finished.id / "driver.log"
        assert result.stdout.splitlines() == [
            f"Driver log: {driver_log}",
            "[hello] hello from the step",
            "[hello stderr] a warning",
        ]
        assert driver_log.is_file()

    def test_one_step(self, run: Invoke, finished: PipelineRun) -> None:
        result = run("runs", "logs", finished.id, "--step", "hello")
        assert result.exit_code == 0, result.output
        assert "[hello] hello from the step" in result.stdout

    def test_unknown_step_exits_3(self, run: Invoke, finished: PipelineRun) -> None:
        result = run("runs", "logs", finished.id, "--step", "helo")
        assert result.exit_code == 3
        assert result.stderr.startswith(
            f"Error: run '{finished.id}' has no step 'helo'; its steps are hello. "
            "Did you mean 'hello'?"
        )

    def test_follow_prints_until_the_run_ends(
        self, run: Invoke, submit: Submit
    ) -> None:
        slow = submit("slow.py")
        result = run("runs", "logs", slow.id, "--follow")
        assert result.exit_code == 0, result.output
        lines = untimed(result.stdout.splitlines())
        assert lines.index("[slow] first") < lines.index("[slow] last")
        assert lines.index("[slow] last") < lines.index("[slow] Finished")
        assert lines[-1].startswith(
            f"[run] greet / {slow.id}: Finished · 1 of 1 steps done · "
        )


@pytest.mark.slow
class TestCancel:
    def test_a_sleeping_step_is_canceled(
        self, run: Invoke, sleeping: PipelineRun
    ) -> None:
        result = run("runs", "cancel", sleeping.id)
        assert result.exit_code == 0, result.output
        assert f"Canceled run {sleeping.id}." in result.stdout
        assert sleeping.get_status() == "Canceled"
        assert [s.get_status() for s in sleeping.get_steps()] == ["Canceled"]
        assert _cells(_row(result.stdout, "sleeps"))[:2] == ["sleeps", "Canceled"]

    def test_no_wait_only_requests_it(self, run: Invoke, sleeping: PipelineRun) -> None:
        result = run("runs", "cancel", sleeping.id, "--no-wait")
        assert result.exit_code == 0, result.output
        assert result.stdout == f"Cancel of run {sleeping.id} requested.\n"
        status = sleeping.wait_for_completion(
            show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
        )
        assert status == "Canceled"

    def test_an_ended_run_exits_2(self, run: Invoke, finished: PipelineRun) -> None:
        result = run("runs", "cancel", finished.id)
        assert result.exit_code == 2
        assert result.stderr == (
            f"Error: run '{finished.id}' has already ended (Finished); only a run "
            "that is not started or running can be canceled.\n"
        )
        assert finished.get_status() == "Finished"


@pytest.mark.parametrize("command", ["show", "logs", "cancel"])
def test_unknown_run_exits_3(run: Invoke, command: str) -> None:
    result = run("runs", command, "nope_123")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith(
        "Error: no run with id 'nope_123' in this workspace"
    )
