"""``Run(experiment, run_id)`` as the SDK's constructor, and the details of runs made
in this process (``start_logging``), with and without their logs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry import Experiment, Run, ScriptRun, ScriptRunConfig
from dataferry.errors import (
    PipelineTypeError,
    RunArgumentError,
    RunNotFoundError,
    RunPropertyError,
)
from dataferry.execution.interactive_run import InteractiveRun

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


def test_run_of_an_experiment_and_id_is_the_recorded_run(
    workspace: Workspace,
) -> None:
    experiment = Experiment(workspace, "notebook")
    started = experiment.start_logging()
    started.log("acc", 0.5)
    started.complete()

    fetched = Run(experiment, started.id)

    assert isinstance(fetched, InteractiveRun)
    assert (fetched.id, fetched.get_status()) == (started.id, "Completed")
    assert fetched.get_metrics() == {"acc": 0.5}


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("notebook", "run-1"), "str and str"),
        ((None, "run-1"), "NoneType and str"),
    ],
)
def test_run_refuses_what_is_not_an_experiment_and_an_id(
    workspace: Workspace, args: tuple[object, ...], names: str
) -> None:
    with pytest.raises(
        PipelineTypeError,
        match=rf"Run\(experiment, run_id\) takes an Experiment and a run id \(str\), not {names}; inside a step or script use Run.get_context\(\)",
    ):
        Run(*args)


def test_run_refuses_an_id_of_no_run(workspace: Workspace) -> None:
    with pytest.raises(RunNotFoundError, match="no-such-run"):
        Run(Experiment(workspace, "notebook"), "no-such-run")


def test_interactive_run_details_while_running_and_once_failed(
    workspace: Workspace,
) -> None:
    run = Experiment(workspace, "notebook").start_logging(tags={"k": "v"})

    running = run.get_details()
    run.fail("bad data")
    failed = run.get_details_with_logs()

    assert {k: running[k] for k in ("runId", "target", "status", "tags")} == {
        "runId": run.id,
        "target": "local",
        "status": "Running",
        "tags": {"k": "v"},
    }
    assert (running["inputDatasets"], running["outputDatasets"]) == ([], [])
    assert "endTimeUtc" not in running and "error" not in running
    assert failed["status"] == "Failed"
    assert failed["endTimeUtc"] >= failed["startTimeUtc"]
    assert failed["error"] == {
        "error": {"code": "UserError", "message": "UserError: bad data"}
    }
    assert failed["logFiles"] == {}


@pytest.mark.slow
def test_script_run_details_with_logs_hold_the_logs_text(
    workspace: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.py").write_text("print('hello from the script')\n")
    experiment = Experiment(workspace, "scripts")
    run = experiment.submit(ScriptRunConfig(str(src), "hello.py"))
    run.wait_for_completion()

    details = run.get_details_with_logs()

    assert isinstance(Run(experiment, run.id), ScriptRun)
    assert details["status"] == "Completed"
    assert "hello from the script" in details["logFiles"]["user_logs/std_log.txt"]
    assert details["logFiles"].keys() == run.get_details()["logFiles"].keys()


def test_interactive_children_are_listed(workspace: Workspace) -> None:
    experiment = Experiment(workspace, "notebook")
    with experiment.start_logging() as parent:
        for i in range(3):
            with parent.child_run() as child:
                child.log("fold", i)
        grandchild = child.child_run()
        grandchild.complete()

    children = list(parent.get_children())
    everyone = list(parent.get_children(recursive=True))

    assert len(children) == 3
    assert {run.get_metrics()["fold"] for run in children} == {0, 1, 2}
    assert [run.id for run in everyone if run.id not in {c.id for c in children}] == [
        grandchild.id
    ]
    assert list(grandchild.get_children()) == []


@pytest.mark.slow
def test_script_run_tags_and_properties_and_runs_found_by_them(
    workspace: Workspace, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.py").write_text("print('hello')\n")
    experiment = Experiment(workspace, "explore-runs")
    run = experiment.submit(ScriptRunConfig(str(src), "hello.py"), tags={"team": "a"})
    other = experiment.submit(ScriptRunConfig(str(src), "hello.py"))
    run.wait_for_completion()
    other.wait_for_completion()

    run.add_properties({"author": "azureml-user"})
    run.tag("quality", "great run")
    run.tag("quality", "fantastic run")
    run.tag("worth another look")

    assert run.get_properties() == {"author": "azureml-user"}
    assert run.get_tags() == {
        "team": "a",
        "quality": "fantastic run",
        "worth another look": None,
    }
    assert run.tags == run.get_tags()
    with pytest.raises(RunPropertyError, match="author"):
        run.add_properties({"author": "different-user"})
    found = experiment.get_runs(
        properties={"author": "azureml-user"}, tags={"quality": "fantastic run"}
    )
    assert [r.id for r in found] == [run.id]
    assert [r.id for r in experiment.get_runs(tags="worth another look")] == [run.id]
    assert [r.id for r in experiment.get_runs(tags={"team": "a"})] == [run.id]
    assert [r.id for r in experiment.get_runs(properties=["author"])] == [run.id]
    assert {r.id for r in experiment.get_runs()} == {run.id, other.id}


def test_create_children_tags_each_child(workspace: Workspace) -> None:
    parent = Experiment(workspace, "notebook").start_logging(tags={"k": "v"})

    numbered = parent.create_children(count=3)
    valued = parent.create_children(tag_key="fold", tag_values=["a", "b"])
    for child in numbered + valued:
        child.complete()
    parent.tag("later", "x")

    assert [c.get_tags() for c in numbered] == [
        {"azureml.batch_child_number": str(i)} for i in range(3)
    ]
    assert [c.get_tags() for c in valued] == [{"fold": "a"}, {"fold": "b"}]
    assert {c.parent.id for c in numbered + valued} == {parent.id}
    assert len(list(parent.get_children())) == 5
    assert parent.get_tags() == {"k": "v", "later": "x"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {},
            r"create_children\(\) takes count or tag_values \(with tag_key\), one of them",
        ),
        (
            {"count": 2, "tag_key": "f", "tag_values": ["a"]},
            r"takes count or tag_values",
        ),
        (
            {"count": 0},
            r"create_children\(count=0\): count must be an int from 1 to 100",
        ),
        ({"count": 101}, r"count=101\): count must be an int from 1 to 100"),
        ({"count": "3"}, r"count='3'\): count must be an int"),
        ({"tag_values": ["a"]}, r"create_children\(tag_values=...\) needs tag_key"),
        (
            {"tag_key": "f", "tag_values": [str(i) for i in range(101)]},
            r"makes at most 100 runs at once, not 101",
        ),
    ],
)
def test_create_children_refuses_bad_arguments_and_makes_none(
    workspace: Workspace, kwargs: dict[str, object], message: str
) -> None:
    parent = Experiment(workspace, "notebook").start_logging()

    with pytest.raises(RunArgumentError, match=message):
        parent.create_children(**kwargs)  # type: ignore[arg-type]

    assert list(parent.get_children()) == []
