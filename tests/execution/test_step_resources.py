"""A step's own resource ask (``runconfig.step_resources``): checked when set, kept in
the plan, merged over the target's, refused for a step that would ignore it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import run_pipeline, write_script

from dataferry import Pipeline, PythonScriptStep, RunConfiguration
from dataferry.catalog.run_store import RunStore
from dataferry.errors import PipelineTypeError, StepDefinitionError
from dataferry.execution.executors.ray_executor import step_options
from dataferry.execution.plan_model import PlanNode, plan_of

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

WHERE = "RunConfiguration.step_resources"


def test_a_valid_ask_is_kept_as_numbers() -> None:
    rc = RunConfiguration()
    rc.step_resources = {"num_cpus": 2, "memory": 2**30, "resources": {"disk": 0.5}}
    assert rc.step_resources == {
        "num_cpus": 2.0,
        "memory": 2**30,
        "resources": {"disk": 0.5},
    }
    rc.step_resources = None
    assert rc.step_resources == {}


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (
            [2],
            PipelineTypeError,
            f"{WHERE} must be a dict of num_cpus, num_gpus, memory, resources, not list ([2])",
        ),
        (
            {"cpus": 2},
            StepDefinitionError,
            f"{WHERE} has unknown key(s) 'cpus'; it takes num_cpus, num_gpus, memory, resources",
        ),
        (
            {"num_cpus": -1},
            StepDefinitionError,
            f"{WHERE}['num_cpus'] must be 0 or more, not -1",
        ),
        (
            {"num_gpus": "1"},
            PipelineTypeError,
            f"{WHERE}['num_gpus'] must be a number, not str ('1')",
        ),
        (
            {"memory": True},
            PipelineTypeError,
            f"{WHERE}['memory'] must be a number, not bool (True)",
        ),
        (
            {"num_cpus": float("inf")},
            StepDefinitionError,
            f"{WHERE}['num_cpus'] must be 0 or more, not inf",
        ),
        (
            {"resources": ["disk"]},
            PipelineTypeError,
            f"{WHERE}['resources'] must be a dict of resource name to amount, not list (['disk'])",
        ),
        (
            {"resources": {"": 1}},
            PipelineTypeError,
            f"{WHERE}['resources'] names must be non-empty str, not ''",
        ),
        (
            {"resources": {"disk": -2}},
            StepDefinitionError,
            f"{WHERE}['resources']['disk'] must be 0 or more, not -2",
        ),
    ],
)
def test_a_bad_ask_is_refused_when_set(
    value: Any, error: type[Exception], message: str
) -> None:
    rc = RunConfiguration()
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        rc.step_resources = value
    assert rc.step_resources == {}


def test_the_step_ask_goes_over_the_target_options() -> None:
    target = {"num_cpus": 1, "memory": 100, "resources": {"a": 1.0, "b": 2.0}}
    step = {"num_cpus": 2.0, "resources": {"b": 3.0, "c": 1.0}}
    assert step_options(target, step) == {
        "num_cpus": 2.0,
        "memory": 100,
        "resources": {"a": 1.0, "b": 3.0, "c": 1.0},
    }
    assert step_options(target, None) == target


def _asking_step(code: Path, target: str | None) -> PythonScriptStep:
    rc = RunConfiguration()
    rc.step_resources = {"num_cpus": 1, "resources": {"scratch": 1}}
    return PythonScriptStep(
        "noop.py",
        name="asks",
        source_directory=str(code),
        runconfig=rc,
        compute_target=target,
    )


def test_the_ask_is_stored_in_the_plan_and_read_back(
    workspace: Workspace, tmp_path: Path
) -> None:
    code = write_script(tmp_path / "code", "noop.py", "print('hi')")
    run = run_pipeline(Pipeline(workspace, [_asking_step(code, None)]))
    (node,) = plan_of(RunStore(workspace.catalog).get_run(run.id)).nodes
    assert node.step_resources == {"num_cpus": 1.0, "resources": {"scratch": 1.0}}
    assert PlanNode.from_json(node.to_json()) == node


@pytest.mark.parametrize("target", [None, "local"])
def test_a_local_step_with_an_ask_is_refused_before_it_runs(
    workspace: Workspace, tmp_path: Path, target: str | None
) -> None:
    code = write_script(tmp_path / "code", "noop.py", "open('ran', 'w')")
    run = run_pipeline(Pipeline(workspace, [_asking_step(code, target)]))

    assert run.get_status() == "Failed"
    assert run.get_details()["error"] == (
        "driver failed: runconfig.step_resources is only for steps on a Ray compute "
        "target; step 'asks' (target 'local') would run as a local process and "
        "ignore it. Give these steps a Ray target, or remove their step_resources; "
        "nothing was run."
    )
    assert all(s.get_status() != "Finished" for s in run.get_steps())
