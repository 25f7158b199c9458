"""``validate()`` then ``submit()``: the graph's shape is checked once, values every time.

Which steps are in a graph, their ports and their edges are fixed when it is built, so
producer and cycle problems are found once; a parameter's default and an output's
``source`` may still be changed by the user, so those are checked on every call.
"""

from __future__ import annotations

import cProfile
import pstats
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import chain

from dataferry import (
    OutputFileDatasetConfig,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
)
from dataferry.catalog.run_store import RunStore
from dataferry.errors import PipelineValidationError

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace
    from dataferry.pipeline import PipelineStep

SHARED = (
    "Step output shared can not be used as an output for step b, "
    "as it is already an output of step a."
)
CYCLE = "Cycle detected including node(s) c, d"
TWICE = "pipeline parameter 'p' is defined twice with different defaults"


def _faulty(src: Path) -> list[PipelineStep]:
    """One output in two steps, a cycle, and two defaults for one parameter."""
    shared = OutputFileDatasetConfig(name="shared")
    a = PythonScriptStep(
        "step.py",
        name="a",
        source_directory=str(src),
        arguments=[shared, PipelineParameter("p", default_value=1)],
    )
    b = PythonScriptStep(
        "step.py",
        name="b",
        source_directory=str(src),
        outputs=[shared],
        arguments=[PipelineParameter("p", default_value=2)],
    )
    c = PythonScriptStep("step.py", name="c", source_directory=str(src))
    d = PythonScriptStep("step.py", name="d", source_directory=str(src))
    c.run_after(d)
    d.run_after(c)
    return [a, b, c]


def test_every_call_lists_the_same_problems_in_the_same_order(
    workspace: Workspace, src: Path
) -> None:
    pipeline = Pipeline(workspace, _faulty(src))

    first, second = pipeline.validate(), pipeline.validate()

    assert first == second == [SHARED, TWICE, CYCLE]
    with pytest.raises(PipelineValidationError, match="3 problem") as info:
        pipeline.submit("exp")
    assert info.value.problems == [SHARED, TWICE, CYCLE]
    assert RunStore(workspace.catalog).list_runs() == []


def test_a_default_changed_after_validate_is_checked_again(
    workspace: Workspace, src: Path
) -> None:
    one, other = (PipelineParameter("p", default_value=1) for _ in range(2))
    steps = [
        PythonScriptStep(
            "step.py", name=f"s{i}", source_directory=str(src), arguments=[param]
        )
        for i, param in enumerate((one, other))
    ]
    pipeline = Pipeline(workspace, steps)
    assert pipeline.validate() == []

    other.default_value = 2

    assert pipeline.validate() == [TWICE]
    with pytest.raises(PipelineValidationError, match="defined twice"):
        pipeline.submit("exp")
    assert RunStore(workspace.catalog).list_runs() == []


def test_an_output_source_changed_after_validate_is_checked_again(
    workspace: Workspace, src: Path
) -> None:
    upstream = OutputFileDatasetConfig(name="raw")
    written = OutputFileDatasetConfig(name="cooked", source="out")
    first = PythonScriptStep(
        "step.py", name="first", source_directory=str(src), arguments=[upstream]
    )
    second = PythonScriptStep(
        "step.py",
        name="second",
        source_directory=str(src),
        arguments=[upstream.as_input("raw_in").as_download("data"), written],
    )
    pipeline = Pipeline(workspace, [first, second])
    assert pipeline.validate() == []

    written.source = "data/sub"

    (problem,) = pipeline.validate()
    assert problem == (
        "step 'second': input 'raw_in' (path_on_compute 'data') overlaps output "
        "'cooked' (source 'data/sub'); give each input a path_on_compute of its own, "
        "not inside another port's"
    )
    with pytest.raises(PipelineValidationError, match="overlaps output 'cooked'"):
        pipeline.submit("exp")


@pytest.mark.parametrize("link", ["output_config", "pipeline_data", "run_after"])
def test_validate_after_validate_does_not_walk_the_shape_again(
    workspace: Workspace, src: Path, link: str
) -> None:
    # which checks the second validate() calls does not depend on the chain's length
    pipeline = Pipeline(workspace, chain(300, src, link))
    assert pipeline.validate() == []
    profile = cProfile.Profile()

    profile.enable()
    problems = pipeline.validate()
    profile.disable()

    assert problems == []
    called = {
        name
        for (_, _, name) in pstats.Stats(profile).stats  # type: ignore[attr-defined]
    }
    assert not called & {"_producer_problems", "_cycle_problems", "find_cycle"}
    assert "_parameter_problems" in called  # values are still checked


def test_a_steps_parameters_are_found_once_and_handed_out_as_copies(
    workspace: Workspace, src: Path
) -> None:
    p, q = (
        PipelineParameter("p", default_value=1),
        PipelineParameter("q", default_value="x"),
    )
    step = PythonScriptStep(
        "step.py",
        name="s",
        source_directory=str(src),
        arguments=[p],
        params={"k": q, "plain": "v"},
    )
    pipeline = Pipeline(workspace, [step])
    profile = cProfile.Profile()

    profile.enable()
    pipeline.validate()
    found = pipeline.parameters()
    profile.disable()

    assert found == {"p": p, "q": q}
    called = {
        name
        for (_, _, name) in pstats.Stats(profile).stats  # type: ignore[attr-defined]
    }
    assert "_find_parameters" not in called
    given = step.ports.parameters()
    given.clear()
    assert step.ports.parameters() == [p, q]
