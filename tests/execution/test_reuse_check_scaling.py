"""The agent's check whether a submitted run is wholly reused stops at the first step
that is not, without building (or naming the ports of) the plan's other nodes; and the
stored-plan reader it uses restores exactly what ``full_nodes`` does (issue 8, item 7).

Work is counted, not timed: the Python function calls ``cProfile`` sees are the same
on a quiet and on a loaded machine.
"""

from __future__ import annotations

import cProfile
import json
import pstats
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import chain

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep
from dataferry.catalog.run_store import RunStore
from dataferry.errors import PlanFormatError, PlanVersionError, RunNotFoundError
from dataferry.execution.pipeline import _step_runs
from dataferry.execution.plan import PlanCompiler
from dataferry.execution.plan_json import StoredNodes, full_nodes
from dataferry.execution.plan_model import Plan
from dataferry.execution.port_identity import NameTokens, name_tokens, output_tokens
from dataferry.execution.reused_run import record_if_reused
from dataferry.execution.submission import RunRequest

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace
    from dataferry.pipeline import PipelineStep

SMALL, LARGE = 200, 2_000
# calls per step the check may make beyond the first step (reading the stored form's
# names and targets); building each node and naming its ports made over 100
CALLS_PER_STEP = 4


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "step.py").write_text("print('ok')\n")
    return folder


def fan_out(n: int, src: Path) -> list[PipelineStep]:
    """One step with a generated output name that ``n - 1`` steps read."""
    root = OutputFileDatasetConfig()
    steps: list[PipelineStep] = [
        PythonScriptStep(
            "step.py", name="root", source_directory=str(src), arguments=[root]
        )
    ]
    steps += [
        PythonScriptStep(
            "step.py",
            name=f"s{i}",
            source_directory=str(src),
            arguments=[root.as_input()],
        )
        for i in range(n - 1)
    ]
    return steps


def request(ws: Workspace, steps: list[PipelineStep], run_id: str) -> RunRequest:
    """The run request ``submit`` sends the agent, as the agent reads it (JSON)."""
    plan = PlanCompiler(Pipeline(ws, steps=steps), ws).compile()
    message = {
        "run_id": run_id,
        "experiment": "scaling",
        "plan": plan.to_json(),
        "parameters": {},
        "options": {},
        "tags": None,
        "description": None,
        "steps": _step_runs(plan.nodes),
    }
    return RunRequest.from_json(json.loads(json.dumps(message)))


def check_calls(ws: Workspace, req: RunRequest) -> int:
    """Function calls of ``record_if_reused`` on ``req``, which no step can reuse."""
    profile = cProfile.Profile()
    profile.enable()
    recorded = record_if_reused(ws, req)
    profile.disable()
    assert recorded is False
    return pstats.Stats(profile).total_calls  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("shape", ["chain", "fan_out"])
def test_the_reuse_check_stops_at_the_first_step_that_runs(
    workspace: Workspace, src: Path, shape: str
) -> None:
    def build(n: int) -> list[PipelineStep]:
        return chain(n, src, "output_config") if shape == "chain" else fan_out(n, src)

    check_calls(workspace, request(workspace, build(5), "warm"))  # first-use caches
    small = check_calls(workspace, request(workspace, build(SMALL), "small"))
    large = check_calls(workspace, request(workspace, build(LARGE), "large"))

    assert (large - small) / (LARGE - SMALL) <= CALLS_PER_STEP, (small, large)
    # nothing was written: the driver records and decides such a run
    with pytest.raises(RunNotFoundError, match="no run with id 'large'"):
        RunStore(workspace.catalog).get_run("large")


def stored_plan(ws: Workspace, src: Path) -> dict[str, Any]:
    steps = chain(3, src, "output_config") + fan_out(3, src)
    steps[-1].compute_target = "cpu"
    plan = PlanCompiler(Pipeline(ws, steps=steps), ws).compile()
    stored: dict[str, Any] = json.loads(json.dumps(plan.to_json()))
    return stored


def test_stored_nodes_restore_what_full_nodes_does(
    workspace: Workspace, src: Path
) -> None:
    data = stored_plan(workspace, src)
    stored = Plan.stored_nodes(data)

    assert [stored.full(n) for n in stored.nodes] == full_nodes(data)
    targets = {n["node_id"]: stored.field(n, "compute_target") for n in stored.nodes}
    # the fan-out's steps s0, s1 are s0_2, s1_2 beside the chain's
    assert targets == {
        "s0": None,
        "s1": None,
        "s2": None,
        "root": None,
        "s0_2": None,
        "s1_2": "cpu",
    }
    assert [stored.field(n, "script") for n in stored.nodes] == ["step.py"] * 6
    # the fan-out's root output has a generated name; the chain's are named o0 .. o2
    ((node_id, index, name),) = stored.generated_outputs()
    assert (node_id, index) == ("root", 0)
    assert name.startswith("output_")


def test_tokens_from_the_stored_form_are_those_of_the_nodes(
    workspace: Workspace, src: Path
) -> None:
    data = stored_plan(workspace, src)
    nodes = Plan.from_json(data).nodes
    from_json = NameTokens(output_tokens(StoredNodes(data).generated_outputs()))

    assert {n.node_id: from_json.of(n) for n in nodes} == name_tokens(nodes)
    assert from_json.outputs == NameTokens.of_nodes(nodes).outputs


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ([], PlanFormatError, "run r's plan is list, not a JSON object"),
        (
            {"plan_version": 3, "nodes": []},
            PlanFormatError,
            r"run r's plan cannot be read \(missing field 'default_datastore'\)",
        ),
        (
            {"plan_version": 3, "default_datastore": "d", "nodes": 7},
            PlanFormatError,
            r"run r's plan cannot be read \('int' object is not iterable\)",
        ),
        (
            {"plan_version": 99, "default_datastore": "d", "nodes": []},
            PlanVersionError,
            "run r's plan has plan version 99, written by a newer dataferry",
        ),
    ],
)
def test_a_malformed_stored_plan_is_named(
    data: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Plan.stored_nodes(data, where="run r's plan")
