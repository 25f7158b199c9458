"""``dataferry run FILE.py``: real pipelines of one tiny step, submitted from a file."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import Result

from dataferry.catalog.run_store import TERMINAL, RunRecord, RunStore
from dataferry.cli.run_cmds import parse_scalar
from dataferry.execution.run_layout import resolved_path

if TYPE_CHECKING:
    from dataferry import Workspace

Invoke = Callable[..., Result]
WriteFile = Callable[..., Path]

STEP = """\
import sys
print("args", sys.argv[1:])
if "--fail" in sys.argv:
    raise ValueError("boom [/x]")
"""

# {project}, {steps}: folders; {extra}: more step arguments; {tail}: the file's end
PIPELINE = """\
import sys
from dataferry import Pipeline, PipelineParameter, PythonScriptStep, Workspace

ws = Workspace.from_config({project!r})
n = PipelineParameter("n", default_value=3)
step = PythonScriptStep(
    "step.py", name="echo", arguments=["--n", n{extra}],
    source_directory={steps!r}, allow_reuse=False,
)
pipeline = Pipeline(ws, steps=[step])
{tail}
"""


def _untimed(output: str) -> list[str]:
    """The timestamped lines of ``output`` without their ``HH:MM:SS``."""
    return [
        line[9:] for line in output.splitlines() if re.match(r"\d\d:\d\d:\d\d \[", line)
    ]


@pytest.fixture
def write_file(tmp_path: Path, project: Path) -> WriteFile:
    """``write_file("train.py", tail="pipeline.submit('x')")``: a pipeline file."""
    steps = tmp_path / "steps"
    steps.mkdir()
    (steps / "step.py").write_text(STEP)

    def write(name: str, *, tail: str = "", extra: str = "") -> Path:
        path = tmp_path / "jobs" / name
        path.parent.mkdir(exist_ok=True)
        text = PIPELINE.format(
            project=str(project), steps=str(steps), extra=extra, tail=tail
        )
        path.write_text(text)
        return path

    return write


@pytest.fixture
def store(workspace: Workspace) -> RunStore:
    return RunStore(workspace.catalog)


def _only_run(store: RunStore) -> RunRecord:
    (record,) = store.list_runs()
    return record


def _step_stdout(store: RunStore, workspace: Workspace, run_id: str) -> str:
    (step,) = store.step_runs(run_id)
    assert step.log_dir == f"runs/{run_id}/{step.id}"  # relative to the workspace
    return (resolved_path(workspace, step.log_dir) / "stdout.txt").read_text()


def _wait_ended(store: RunStore, run_id: str) -> str:
    deadline = time.monotonic() + 60
    while (status := store.get_run(run_id).status) not in TERMINAL:
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(0.05)
    return status


@pytest.mark.slow
class TestRunAFile:
    def test_a_file_that_submits_is_watched_to_its_end(
        self, run: Invoke, write_file: WriteFile, store: RunStore
    ) -> None:
        path = write_file("submits.py", tail="pipeline.submit(sys.argv[1])")
        result = run("run", str(path), "--", "from-args")
        assert result.exit_code == 0, result.output
        record = _only_run(store)
        assert (record.experiment, record.status) == ("from-args", "Finished")
        assert f"Submitted PipelineRun {record.id}" in result.stdout
        assert f"[run] from-args / {record.id}: Finished · 1 of 1 steps done" in (
            result.stdout
        )
        shown = _untimed(result.stdout)
        assert shown.index("[echo] Running") < shown.index("[echo] args ['--n', '3']")
        assert shown.index("[echo] args ['--n', '3']") < shown.index("[echo] Finished")

    def test_a_file_defining_pipeline_is_submitted_under_its_name(
        self, run: Invoke, write_file: WriteFile, store: RunStore
    ) -> None:
        result = run("run", str(write_file("train-model.py")))
        assert result.exit_code == 0, result.output
        record = _only_run(store)
        assert (record.experiment, record.status) == ("train-model", "Finished")
        assert dict(record.parameters) == {"n": 3}

    def test_experiment_and_param_override(
        self, run: Invoke, write_file: WriteFile, store: RunStore, workspace: Workspace
    ) -> None:
        path = write_file("train.py")
        result = run("run", str(path), "--experiment", "tuned", "--param", "n=5")
        assert result.exit_code == 0, result.output
        record = _only_run(store)
        assert record.experiment == "tuned"
        assert dict(record.parameters) == {"n": 5}
        assert "args ['--n', '5']" in _step_stdout(store, workspace, record.id)

    def test_a_file_ending_with_sys_exit_0_is_still_watched(
        self, run: Invoke, write_file: WriteFile, store: RunStore
    ) -> None:
        path = write_file("exits.py", tail="pipeline.submit('exits')\nsys.exit(0)")
        result = run("run", str(path))
        assert result.exit_code == 0, result.output
        assert _only_run(store).status == "Finished"
        assert "exits / " in result.stdout

    def test_no_wait_returns_once_submitted(
        self, run: Invoke, write_file: WriteFile, store: RunStore
    ) -> None:
        result = run("run", str(write_file("quick.py")), "--no-wait")
        assert result.exit_code == 0, result.output
        record = _only_run(store)
        assert f"follow it with: dataferry runs logs {record.id} --follow" in (
            result.stdout
        )
        assert "quick / " not in result.stdout  # no status table
        assert _wait_ended(store, record.id) == "Finished"


class TestFailures:
    @pytest.mark.slow
    def test_a_failing_step_exits_1_with_its_error(
        self, run: Invoke, write_file: WriteFile, store: RunStore
    ) -> None:
        result = run("run", str(write_file("fails.py", extra=', "--fail"')))
        assert result.exit_code == 1
        record = _only_run(store)
        assert record.status == "Failed"
        shown = _untimed(result.stdout)
        assert "[echo] ! ValueError: boom [/x]" in shown  # stderr, markup kept as text
        assert shown.index("[echo] ! ValueError: boom [/x]") < shown.index(
            "[echo] Failed"
        )
        assert result.stderr.splitlines()[:2] == [
            f"Error: run {record.id} Failed",
            "  echo: step 'echo' failed (exit code 1): ValueError: boom [/x]",
        ]

    def test_a_file_that_neither_submits_nor_defines_pipeline_exits_2(
        self, run: Invoke, tmp_path: Path, store: RunStore
    ) -> None:
        path = tmp_path / "empty.py"
        path.write_text("x = 1\n")
        result = run("run", str(path))
        assert result.exit_code == 2
        assert result.stderr.startswith(
            "Error: empty.py submitted no run and defines no module-level `pipeline`"
        )
        assert store.list_runs() == []

    def test_a_file_exiting_non_zero_keeps_its_status(
        self, run: Invoke, tmp_path: Path
    ) -> None:
        path = tmp_path / "bad.py"
        path.write_text("import sys\nsys.exit(4)\n")
        assert run("run", str(path)).exit_code == 4

    def test_unknown_parameter_exits_2(
        self, run: Invoke, write_file: WriteFile, store: RunStore
    ) -> None:
        result = run("run", str(write_file("train.py")), "--param", "m=1")
        assert result.exit_code == 2
        assert "Pipeline parameter with name m does not exist" in result.stderr
        assert store.list_runs() == []

    def test_a_parameter_given_twice_is_a_usage_error(
        self, run: Invoke, write_file: WriteFile
    ) -> None:
        path = write_file("train.py")
        result = run("run", str(path), "--param", "n=1", "--param", "n=2")
        assert result.exit_code == 2
        assert "pipeline parameter 'n' is given more than once" in result.stderr

    def test_an_invalid_experiment_name_fails_before_the_file_runs(
        self, run: Invoke, tmp_path: Path
    ) -> None:
        path = tmp_path / "marks.py"
        path.write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
        result = run("run", str(path), "--experiment", "no spaces")
        assert result.exit_code == 2
        assert "invalid experiment name 'no spaces'" in result.stderr
        assert not (tmp_path / "ran").exists()

    @pytest.mark.slow
    def test_params_are_not_applied_to_a_run_the_file_submits_itself(
        self, run: Invoke, write_file: WriteFile, store: RunStore
    ) -> None:
        path = write_file("own.py", tail="pipeline.submit('own')")
        result = run("run", str(path), "--param", "n=5", "--experiment", "other")
        assert result.exit_code == 0, result.output
        record = _only_run(store)
        assert dict(record.parameters) == {"n": 3}
        assert "Warning: --experiment other was not used" in result.stderr
        assert "Warning: --param n not applied" in result.stderr


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("-2", -2),
        ("0.5", 0.5),
        ("1e3", 1000.0),
        ("true", True),
        ("False", False),
        ("abc", "abc"),
        ("", ""),
        ("nan", "nan"),
        ("inf", "inf"),
    ],
    ids=repr,
)
def test_parse_scalar(text: str, value: object) -> None:
    parsed = parse_scalar(text)
    assert parsed == value
    assert type(parsed) is type(value)


def test_help_lists_run_and_runs(run: Invoke) -> None:
    result = run("--help")
    assert "run " in result.stdout
    assert "runs " in result.stdout
    assert "[-- ARGS]" in run("run", "--help").stdout


class TestAFileThatFails:
    """The user's frames, not the CLI's: the traceback starts in the file."""

    def test_an_import_error_shows_the_files_frames(
        self, run: Invoke, tmp_path: Path
    ) -> None:
        path = tmp_path / "broken.py"
        path.write_text(
            "import os\n\n\ndef load():\n    import no_such_module_x\n\n\nload()\n"
        )
        result = run("run", str(path))
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert lines[0] == "Traceback (most recent call last):"
        assert lines[1] == f'  File "{path}", line 8, in <module>'
        assert f'  File "{path}", line 5, in load' in lines
        assert lines[-2] == "ModuleNotFoundError: No module named 'no_such_module_x'"
        assert (
            lines[-1] == f"Error: {path} raised ModuleNotFoundError (traceback above)."
        )
        assert "click" not in result.stderr
        assert "runpy" not in result.stderr

    def test_a_dataferry_error_keeps_its_exit_code(
        self, run: Invoke, tmp_path: Path
    ) -> None:
        path = tmp_path / "wrong.py"
        path.write_text(
            "from dataferry.errors import DatasetNotFoundError\n"
            "raise DatasetNotFoundError('no dataset named x')\n"
        )
        result = run("run", str(path))
        assert result.exit_code == 3
        lines = result.stderr.splitlines()
        assert lines[1] == f'  File "{path}", line 2, in <module>'
        assert "dataferry.errors.DatasetNotFoundError: no dataset named x" in lines

    def test_a_syntax_error_points_at_the_line(
        self, run: Invoke, tmp_path: Path
    ) -> None:
        path = tmp_path / "typo.py"
        path.write_text("x = 1\ny = (\n")
        result = run("run", str(path))
        assert result.exit_code == 1
        assert result.stderr.startswith(f'  File "{path}", line 2\n')
        assert "SyntaxError" in result.stderr
        assert "Traceback" not in result.stderr
