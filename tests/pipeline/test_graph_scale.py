"""Long pipelines: every graph walk is iterative, so depth is no limit.

A chain of 998 steps built as ``Pipeline(ws, steps=[last])`` used to raise RecursionError
in ``validate()`` and ``submit()`` (the cycle check recursed once per step).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pytest

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep
from dataferry.errors import PipelineValidationError

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


def chain(
    src: Path, length: int, first_script: str = "step.py"
) -> list[PythonScriptStep]:
    """Steps s0 .. s<length-1>, each reading the output of the one before it."""
    steps: list[PythonScriptStep] = []
    previous: OutputFileDatasetConfig | None = None
    for i in range(length):
        out = OutputFileDatasetConfig(name=f"o{i}")
        reads = [previous.as_input(f"i{i}")] if previous is not None else []
        steps.append(
            PythonScriptStep(
                first_script if i == 0 else "step.py",
                name=f"s{i}",
                source_directory=str(src),
                arguments=[out, *reads],
            )
        )
        previous = out
    return steps


@pytest.mark.parametrize("length", [997, 998, 5000])
def test_a_long_chain_validates_from_its_last_step(
    workspace: Workspace, src: Path, length: int
) -> None:
    pipeline = Pipeline(workspace, steps=[chain(src, length)[-1]])

    assert pipeline.validate() == []
    order = [node.node_id for node in pipeline.topological_order()]
    assert order == [f"s{i}" for i in range(length)]


def test_a_cycle_at_the_far_end_of_a_long_chain_is_found(
    workspace: Workspace, src: Path
) -> None:
    steps = chain(src, 3000)
    x = PythonScriptStep("step.py", name="x", source_directory=str(src))
    y = PythonScriptStep("step.py", name="y", source_directory=str(src))
    steps[0].run_after(x)
    x.run_after(y)
    y.run_after(x)
    pipeline = Pipeline(workspace, steps=[steps[-1]])

    assert pipeline.validate() == ["Cycle detected including node(s) x, y"]
    with pytest.raises(PipelineValidationError, match=r"Cycle detected .* x, y"):
        pipeline.submit("scale")


def test_a_cycle_through_a_whole_long_chain_is_found(
    workspace: Workspace, src: Path
) -> None:
    steps = chain(src, 1500)
    steps[0].run_after(steps[-1])

    (problem,) = Pipeline(workspace, steps=[steps[-1]]).validate()
    assert problem.startswith("Cycle detected including node(s) s0, s1, s10, s100, ")
    assert problem.count(", ") == 1499


@pytest.mark.slow
def test_a_long_chain_is_submitted_and_run(workspace: Workspace, src: Path) -> None:
    """Submit compiles and runs all 998 steps; the first fails, so the rest never start."""
    (src / "fail.py").write_text("raise SystemExit(1)\n")
    pipeline = Pipeline(workspace, steps=[chain(src, 998, "fail.py")[-1]])

    run = pipeline.submit("scale")
    status = run.wait_for_completion(
        show_output=False, raise_on_error=False, timeout_seconds=120
    )

    assert status == "Failed"
    statuses = Counter(step.get_status() for step in run.get_steps())
    assert statuses == {"Failed": 1, "Canceled": 997}


@pytest.mark.slow
def test_a_chain_of_100000_steps_validates(workspace: Workspace, src: Path) -> None:
    pipeline = Pipeline(workspace, steps=[chain(src, 100_000)[-1]])

    assert len(pipeline.steps) == 100_000
    assert pipeline.validate() == []
    order = pipeline.topological_order()
    assert (order[0].node_id, order[-1].node_id) == ("s0", "s99999")
