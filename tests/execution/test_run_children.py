"""Child runs of a script run's and a pipeline step's ``Run.get_context()``
(``create_children``, ``child_run``), ``ScriptRun.fail()`` and ``restore_snapshot``,
through real processes and a real catalog."""

from __future__ import annotations

import time
import zipfile
from typing import TYPE_CHECKING

import pytest

from dataferry import Experiment, Pipeline, PythonScriptStep, ScriptRunConfig
from dataferry.errors import RunArgumentError, RunStateError
from dataferry.execution.pipeline_run import StepRun

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

CHILDREN = """\
import sys
from dataferry import Run

run = Run.get_context()
for i, child in enumerate(run.create_children(count=2)):
    child.log("i", i)
    child.complete()
with run.child_run("named") as child:
    child.log("in_with", 1)
left_open = run.child_run("left open")  # ended when the process exits
if sys.argv[1:] == ["crash"]:
    raise ValueError("boom")
"""

SLEEP = "import time\ntime.sleep(60)\n"


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "children.py").write_text(CHILDREN)
    (src / "sleep.py").write_text(SLEEP)
    (src / "ignored.txt").write_text("not in the snapshot")
    (src / ".amlignore").write_text("ignored.txt\n")
    return src


def _statuses(children: list[object]) -> list[tuple[str, str]]:
    return [
        (c.get_tags().get("azureml.batch_child_number", "-"), c.get_status())
        for c in children
    ]  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_script_makes_child_runs_of_its_script_run(
    workspace: Workspace, source: Path
) -> None:
    run = Experiment(workspace, "kids").submit(
        ScriptRunConfig(str(source), "children.py")
    )
    run.wait_for_completion()

    children = list(run.get_children())
    assert _statuses(children) == [
        ("0", "Completed"),
        ("1", "Completed"),
        ("-", "Completed"),
        ("-", "Completed"),
    ]
    assert [c.get_metrics() for c in children[:3]] == [
        {"i": 0},
        {"i": 1},
        {"in_with": 1},
    ]
    assert {c.parent.id for c in children} == {run.id}
    assert run.get_metrics(recursive=True)[children[0].id] == {"i": 0}


@pytest.mark.slow
def test_children_left_running_fail_with_the_script(
    workspace: Workspace, source: Path
) -> None:
    run = Experiment(workspace, "kids").submit(
        ScriptRunConfig(str(source), "children.py", arguments=["crash"])
    )
    run.wait_for_completion(raise_on_error=False)

    children = list(run.get_children())
    assert [c.get_status() for c in children] == [
        "Completed",
        "Completed",
        "Completed",
        "Failed",
    ]
    assert children[3].get_details()["error"]["error"]["message"] == (
        "UserError: User program failed with ValueError: boom"
    )


@pytest.mark.slow
def test_a_pipeline_step_makes_child_runs_of_its_step_run(
    workspace: Workspace, source: Path
) -> None:
    step = PythonScriptStep(
        script_name="children.py", source_directory=str(source), allow_reuse=False
    )
    run = Experiment(workspace, "pipe-kids").submit(Pipeline(workspace, [step]))
    run.wait_for_completion(show_output=False)

    (step_run,) = run.get_steps()
    children = list(step_run.get_children())
    assert _statuses(children) == [
        ("0", "Completed"),
        ("1", "Completed"),
        ("-", "Completed"),
        ("-", "Completed"),
    ]
    parent = children[0].parent
    assert isinstance(parent, StepRun)
    assert parent.id == step_run.id


@pytest.mark.slow
def test_fail_stops_a_script_run_and_ends_it_failed(
    workspace: Workspace, source: Path
) -> None:
    run = Experiment(workspace, "fail-exp").submit(
        ScriptRunConfig(str(source), "sleep.py")
    )
    started = time.monotonic()

    run.fail("stopped by the test", error_code="TestError")

    assert run.get_status() == "Failed"
    assert time.monotonic() - started < 30
    details = run.get_details()
    assert details["error"]["error"]["message"] == "TestError: stopped by the test"
    run.fail("again")  # an ended run stays as it is
    assert run.get_details()["error"] == details["error"]


def test_fail_of_an_ended_run_changes_nothing(workspace: Workspace) -> None:
    run = Experiment(workspace, "fail-exp").start_logging()
    run.complete()
    run.fail("too late")
    assert run.get_status() == "Completed"


@pytest.mark.slow
def test_restore_snapshot_writes_the_submitted_sources_as_a_zip(
    workspace: Workspace, source: Path, tmp_path: Path
) -> None:
    run = Experiment(workspace, "snap").submit(
        ScriptRunConfig(str(source), "children.py")
    )
    run.wait_for_completion()
    (source / "children.py").write_text("changed after submit")

    path = run.restore_snapshot(path=str(tmp_path / "snapshots"))

    assert path.startswith(str(tmp_path / "snapshots"))
    assert path.endswith(".zip")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == [".amlignore", "children.py", "sleep.py"]
        assert archive.read("children.py").decode() == CHILDREN
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(RunArgumentError, match=r"path=.*a-file'\) is a file"):
        run.restore_snapshot(path=str(tmp_path / "a-file"))
    with pytest.raises(RunArgumentError, match=r"snapshot_id='other'\) names another"):
        run.restore_snapshot(snapshot_id="other", path=str(tmp_path))


def test_an_interactive_run_has_no_snapshot_to_restore(workspace: Workspace) -> None:
    from dataferry.execution.run_snapshot import restore_snapshot

    run = Experiment(workspace, "snap").start_logging()
    with pytest.raises(RunStateError, match=r"has no snapshot: it ran no script"):
        restore_snapshot(workspace, run.id)
