"""Long pipelines submit and plan: nothing on the way from the graph to the driver recurses."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pipeline.kit import chain, run_pipeline, step, write_script

from dataferry import Pipeline
from dataferry.execution.plan import PlanCompiler
from dataferry.execution.plan_inputs import UpstreamOutputInput

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

# thousands of steps: compiling or running them takes seconds
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("n", [998, 2000])
def test_a_long_chain_compiles_into_a_plan(
    workspace: Workspace, tmp_path: Path, n: int
) -> None:
    code = write_script(tmp_path / "code", "step.py", "")
    pipeline = Pipeline(workspace, steps=[chain(n, code)[-1]])

    plan = PlanCompiler(pipeline, workspace).compile()

    nodes = plan.nodes
    assert [node.name for node in nodes] == [f"s{i}" for i in range(n)]
    assert nodes[0].upstream == ()
    assert nodes[-1].upstream == (f"s{n - 2}",)
    first_input = nodes[-1].inputs[0]
    assert isinstance(first_input, UpstreamOutputInput)
    assert first_input.producer == f"s{n - 2}"


def test_a_2000_step_chain_submits_and_runs(
    workspace: Workspace, tmp_path: Path
) -> None:
    # the first step fails, so the driver walks all 2000 steps without starting 1999
    code = write_script(tmp_path / "code", "fail.py", "raise SystemExit(3)\n")
    pipeline = Pipeline(workspace, steps=[chain(2000, code, script="fail.py")[-1]])

    run = run_pipeline(pipeline)

    assert run.get_status() == "Failed"
    assert step(run, "s0").get_status() == "Failed"
    statuses = {s.name: s.get_status() for s in run.get_steps()}
    assert len(statuses) == 2000
    assert {statuses[f"s{i}"] for i in range(1, 2000)} == {"Canceled"}
