"""Running pipelines: parallelism, failures, cancelling, waiting, logs and details."""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import run_pipeline, step, write_script

from dataferry import (
    AmlCompute,
    ComputeTarget,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PythonScriptStep,
)
from dataferry.errors import ActivityFailedException
from dataferry.execution.commit import STAGING_DIR

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import PipelineRun, Workspace

TIMED = """
import sys, time
name, log, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(log, "a") as fh:
    fh.write(f"{name} start {time.time()}\\n")
time.sleep(seconds)
with open(log, "a") as fh:
    fh.write(f"{name} end {time.time()}\\n")
"""

FAIL = """
import sys
print("about to fail")
print("something broke", file=sys.stderr)
sys.exit(3)
"""

# Writes into every folder given, says so, then sleeps (to be cancelled).
WRITE_AND_SLEEP = """
import os, sys, time
for folder in sys.argv[2:]:
    with open(os.path.join(folder, "partial.txt"), "w") as fh:
        fh.write("half")
open(sys.argv[1], "w").close()
print("written", flush=True)
time.sleep(60)
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = write_script(tmp_path / "code", "timed.py", TIMED)
    write_script(folder, "fail.py", FAIL)
    write_script(folder, "write_and_sleep.py", WRITE_AND_SLEEP)
    write_script(folder, "hello.py", "print('hello line 1')\nprint('hello line 2')\n")
    return folder


def timed(
    code: Path, name: str, log: Path, seconds: float, inputs: list[Any] | None = None
) -> PythonScriptStep:
    """A step that logs its start and end times around a sleep."""
    return PythonScriptStep(
        "timed.py",
        name=name,
        source_directory=str(code),
        arguments=[name, str(log), seconds],
        inputs=inputs,
    )


def times(log: Path) -> dict[str, tuple[float, float]]:
    marks: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        name, what, stamp = line.split()
        marks.setdefault(name, {})[what] = float(stamp)
    return {name: (m["start"], m["end"]) for name, m in marks.items()}


def statuses(run: PipelineRun) -> dict[str, str]:
    return {s.name: s.get_status() for s in run.get_steps()}


@pytest.mark.slow
class TestConcurrency:
    def test_independent_steps_run_at_the_same_time(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        log = tmp_path / "times.log"
        steps = [timed(code, "a", log, 1), timed(code, "b", log, 1)]

        run = run_pipeline(Pipeline(workspace, steps))

        assert run.get_status() == "Finished"
        (a_start, a_end), (b_start, b_end) = times(log)["a"], times(log)["b"]
        assert max(a_end, b_end) - min(a_start, b_start) < 1.8  # they overlapped
        assert a_start < b_end and b_start < a_end

    def test_max_concurrency_setting_serialises(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        workspace.catalog.set_setting("max_concurrency", 1)
        log = tmp_path / "times.log"
        steps = [timed(code, "a", log, 0.5), timed(code, "b", log, 0.5)]

        run = run_pipeline(Pipeline(workspace, steps))

        assert run.get_status() == "Finished"
        (first, second) = sorted(times(log).values())
        assert first[1] <= second[0]


@pytest.mark.slow
class TestFailures:
    def test_failure_cancels_downstream_and_running_steps(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        log = tmp_path / "times.log"
        data = PipelineData("data")
        PythonScriptStep(
            "fail.py",
            name="bad",
            source_directory=str(code),
            outputs=[data],
            arguments=[data],
        )
        after = timed(code, "after", log, 0, inputs=[data])
        slow = timed(code, "slow", log, 30)
        pipeline = Pipeline(workspace, [after, slow])

        run = pipeline.submit("tests")
        with pytest.raises(
            ActivityFailedException, match=r"pipeline run .* failed"
        ) as info:
            run.wait_for_completion(show_output=False, timeout_seconds=60)

        assert run.get_status() == "Failed"
        assert statuses(run) == {
            "after": "Canceled",
            "slow": "Canceled",
            "bad": "Failed",
        }
        bad_details = step(run, "bad").get_details()
        assert (
            bad_details["error"] == "step 'bad' failed (exit code 3):\nsomething broke"
        )
        assert step(run, "after").get_details()["error"] == "not run: step 'bad' failed"
        assert step(run, "slow").get_details()["error"] == "not run: step 'bad' failed"
        assert "bad: step 'bad' failed (exit code 3)" in str(info.value)
        assert info.value.details["status"] == "Failed"
        # "slow" may be cancelled while it prepares, before it writes the log at all
        assert not log.exists() or "after start" not in log.read_text()
        assert (
            run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
        )

    def test_continue_on_step_failure(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        log = tmp_path / "times.log"
        data = PipelineData("data")
        PythonScriptStep(
            "fail.py",
            name="bad",
            source_directory=str(code),
            outputs=[data],
            arguments=[data],
        )
        after = timed(code, "after", log, 0, inputs=[data])
        other = timed(code, "other", log, 0.5)

        run = run_pipeline(
            Pipeline(workspace, [after, other]), continue_on_step_failure=True
        )

        assert run.get_status() == "Failed"
        assert statuses(run) == {
            "after": "Canceled",
            "other": "Finished",
            "bad": "Failed",
        }
        assert (
            step(run, "after").get_details()["error"]
            == "not run: upstream step 'bad' did not finish"
        )
        assert list(times(log)) == ["other"]

    def test_failed_step_commits_nothing(
        self, workspace: Workspace, store_root: Path, code: Path, tmp_path: Path
    ) -> None:
        write_script(
            code,
            "write_then_fail.py",
            "import sys\nopen(sys.argv[1] + '/x.txt', 'w').write('x')\nsys.exit(1)\n",
        )
        store = workspace.get_default_datastore()
        upload = OutputFileDatasetConfig(
            name="up", destination=(store, "out/up")
        ).as_upload()
        mount = OutputFileDatasetConfig(name="mo", destination=(store, "out/mo"))
        registered = upload.register_on_complete("never")
        steps = [
            PythonScriptStep(
                "write_then_fail.py", name=n, source_directory=str(code), arguments=[o]
            )
            for n, o in (("up", registered), ("mo", mount))
        ]

        run = run_pipeline(Pipeline(workspace, steps), continue_on_step_failure=True)

        assert statuses(run) == {"up": "Failed", "mo": "Failed"}
        assert not (store_root / "out").exists()
        staging = store_root / STAGING_DIR
        assert not staging.exists() or os.listdir(staging) == []
        assert [s.get_outputs() for s in run.get_steps()] == [{}, {}]
        assert "never" not in workspace.datasets


@pytest.mark.slow
class TestCancel:
    def test_cancel_a_sleeping_step(
        self, workspace: Workspace, store_root: Path, code: Path, tmp_path: Path
    ) -> None:
        store = workspace.get_default_datastore()
        upload = OutputFileDatasetConfig(
            name="up", destination=(store, "out/up")
        ).as_upload()
        mount = OutputFileDatasetConfig(name="mo", destination=(store, "out/mo"))
        started = tmp_path / "started"
        sleeper = PythonScriptStep(
            "write_and_sleep.py",
            name="sleeper",
            source_directory=str(code),
            arguments=[str(started), upload.register_on_complete("never"), mount],
        )
        log = tmp_path / "times.log"
        after = timed(code, "after", log, 0)
        after.run_after(sleeper)

        run = Pipeline(workspace, [after]).submit("tests")
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists()
        run.cancel()
        status = run.wait_for_completion(show_output=False, timeout_seconds=30)

        assert status == "Canceled"
        assert statuses(run) == {"after": "Canceled", "sleeper": "Canceled"}
        assert step(run, "sleeper").get_details()["error"] == "the run was canceled"
        assert step(run, "sleeper").get_outputs() == {}
        assert not (store_root / "out").exists()
        staging = store_root / STAGING_DIR
        assert not staging.exists() or os.listdir(staging) == []
        assert "never" not in workspace.datasets
        assert not log.exists()

    def test_cancel_before_the_driver_starts(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        log = tmp_path / "times.log"
        run = Pipeline(workspace, [timed(code, "a", log, 0)]).submit("tests")
        run.cancel()

        assert (
            run.wait_for_completion(show_output=False, timeout_seconds=30) == "Canceled"
        )
        assert statuses(run) == {"a": "Canceled"}
        assert not log.exists()

    def test_wait_times_out(
        self,
        workspace: Workspace,
        code: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        run = Pipeline(workspace, [timed(code, "a", tmp_path / "t.log", 30)]).submit(
            "tests"
        )

        status = run.wait_for_completion(show_output=False, timeout_seconds=0.3)

        assert status in ("NotStarted", "Running")
        assert (
            f"Timed out after 0.3 s waiting for run {run.id}" in capsys.readouterr().out
        )
        run.cancel()
        assert (
            run.wait_for_completion(show_output=False, timeout_seconds=30) == "Canceled"
        )


def _untimed(line: str) -> str:
    """A shown line without its leading ``HH:MM:SS`` (checked to be there)."""
    if re.match(r"\d\d:\d\d:\d\d \[", line):
        return line[9:]
    return line


class TestWatching:
    @pytest.mark.slow
    def test_show_output_prints_step_lines(
        self, workspace: Workspace, code: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        s = PythonScriptStep("hello.py", name="hello", source_directory=str(code))
        run = Pipeline(workspace, [s]).submit("tests")

        status = run.wait_for_completion(show_output=True, timeout_seconds=60)

        printed = capsys.readouterr().out
        assert status == "Finished"
        assert f"PipelineRunId: {run.id}" in printed
        # off a terminal: plain lines, each with its time and step, in order
        lines = [_untimed(line) for line in printed.splitlines()]
        assert lines.index("[hello] Running") < lines.index("[hello] hello line 1")
        assert lines.index("[hello] hello line 2") < lines.index("[hello] Finished")
        assert "[hello] Runs (run: first run of this step, nothing to reuse)" in lines
        assert "[run] Finished" in lines
        assert f"[run] tests / {run.id}: Finished · 1 of 1 steps done · " in printed
        assert f"PipelineRun {run.id}: Finished" in printed

    # Not slow: the quick selection's one submit-and-run end to end (two steps).
    def test_steps_logs_and_details(
        self, workspace: Workspace, code: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        hello = PythonScriptStep("hello.py", name="hello", source_directory=str(code))
        bad = PythonScriptStep("fail.py", name="bad", source_directory=str(code))
        bad.run_after(hello)
        run = run_pipeline(Pipeline(workspace, [bad]), experiment="details")

        assert sorted(s.name for s in run.get_steps()) == ["bad", "hello"]
        assert run.get_children()[0].parent.id == run.id
        assert run.find_step_run("missing") == []
        (h,) = run.find_step_run("hello")
        assert h.get_stdout_log() == "hello line 1\nhello line 2\n"
        assert h.get_stderr_log() == ""
        assert h.get_job_log() == "hello line 1\nhello line 2\n"
        b = step(run, "bad")
        assert b.get_job_log() == "about to fail\n\n--- stderr ---\nsomething broke\n"
        assert (
            b.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
        )
        with pytest.raises(ActivityFailedException, match="step 'bad' failed"):
            b.wait_for_completion(show_output=False)
        capsys.readouterr()
        assert h.wait_for_completion(show_output=True) == "Finished"
        shown = [_untimed(line) for line in capsys.readouterr().out.splitlines()]
        assert shown[-4:-1] == [
            "[hello] hello line 1",
            "[hello] hello line 2",
            "[hello] Finished",
        ]
        assert shown[-1].startswith(f"[run] step hello / {h.id}: Finished · ")
        details = run.get_details()
        assert details["status"] == "Failed"
        assert details["experiment"] == "details"
        assert details["steps"] == {"bad": "Failed", "hello": "Finished"}
        assert details["startTimeUtc"] <= details["endTimeUtc"]
        step_details = h.get_details()
        assert step_details["status"] == "Finished"
        assert step_details["exitCode"] == 0
        assert step_details["compute_target"] == "local"
        assert step_details["notes"] == []
        assert os.path.isfile(step_details["logFiles"]["stdout.txt"])

    @pytest.mark.slow
    def test_configured_compute_target_has_no_note(
        self, workspace: Workspace, code: Path
    ) -> None:
        workspace.catalog.set_setting(
            "compute_targets", {"gpu-cluster": {"kind": "local"}}
        )
        known = PythonScriptStep(
            "hello.py",
            name="known",
            source_directory=str(code),
            compute_target="gpu-cluster",
        )
        unknown = PythonScriptStep(
            "hello.py",
            name="unknown",
            source_directory=str(code),
            compute_target=("cpu", "AmlCompute"),
        )

        config = AmlCompute.provisioning_configuration(max_nodes=1)
        ComputeTarget.create(workspace, "made", config)
        made = PythonScriptStep(
            "hello.py", name="made", source_directory=str(code), compute_target="made"
        )

        run = run_pipeline(Pipeline(workspace, [known, unknown, made]))

        assert run.get_status() == "Finished"
        assert step(run, "known").get_details()["notes"] == []
        assert step(run, "made").get_details()["notes"] == []
        assert step(run, "made").get_details()["compute_target"] == "made"
        assert step(run, "known").get_details()["compute_target"] == "gpu-cluster"
        assert step(run, "unknown").get_details()["notes"] == [
            "compute target 'cpu' is not configured in this workspace: step runs on "
            "the local executor"
        ]
