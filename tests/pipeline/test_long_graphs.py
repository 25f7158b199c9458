"""Long graphs: every walk (closure, cycle check, order) is iterative, so depth is free."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pipeline.kit import chain

from dataferry import Pipeline, StepSequence
from dataferry.errors import PipelineValidationError, StepDefinitionError
from dataferry.pipeline.graph import find_cycle

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


def names(pipeline: Pipeline) -> list[str]:
    return [node.step.name for node in pipeline.topological_order()]


class TestLongChains:
    @pytest.mark.parametrize("link", ["pipeline_data", "output_config", "run_after"])
    @pytest.mark.parametrize("n", [998, 2000])
    def test_the_last_step_pulls_in_a_long_chain(
        self, workspace: Workspace, src: Path, n: int, link: str
    ) -> None:
        steps = chain(n, src, link)

        pipeline = Pipeline(workspace, steps=[steps[-1]])

        assert len(pipeline.steps) == n
        assert pipeline.validate() == []
        assert names(pipeline) == [f"s{i}" for i in range(n)]
        assert pipeline.nodes[-1].upstream == []  # s0, found last by the closure

    def test_producers_are_found_by_lookup(
        self, workspace: Workspace, src: Path
    ) -> None:
        steps = chain(2000, src)
        pipeline = Pipeline(workspace, steps=[steps[-1]])

        for node in pipeline.nodes:
            (written,) = node.step.ports.outputs
            assert pipeline.producer_of(written.origin) is node

    def test_a_step_sequence_of_2000_steps(
        self, workspace: Workspace, src: Path
    ) -> None:
        steps = chain(2000, src, link="none")

        pipeline = Pipeline(workspace, StepSequence(steps=steps[::-1]))

        assert pipeline.validate() == []
        assert names(pipeline) == [f"s{i}" for i in range(1999, -1, -1)]

    def test_steps_nested_5000_lists_deep(
        self, workspace: Workspace, src: Path
    ) -> None:
        a, b = chain(2, src, link="none")
        nested: list[object] = [b]
        for _ in range(5000):
            nested = [nested]

        assert [s.name for s in Pipeline(workspace, [a, nested]).steps] == ["s0", "s1"]

    def test_a_list_that_contains_itself(self, workspace: Workspace, src: Path) -> None:
        a, b = chain(2, src, link="none")
        steps: list[object] = [a, b]
        steps.append(steps)

        assert [s.name for s in Pipeline(workspace, [steps, steps]).steps] == [
            "s0",
            "s1",
        ]

    def test_a_cycle_through_a_3000_step_chain(
        self, workspace: Workspace, src: Path
    ) -> None:
        steps = chain(3000, src, link="run_after")
        steps[0].run_after(steps[-1])
        pipeline = Pipeline(workspace, [steps[0]])

        (problem,) = pipeline.validate()

        assert problem.startswith("Cycle detected including node(s) s0, s1, s10, ")
        assert len(problem.split(", ")) == 3000
        with pytest.raises(StepDefinitionError, match="the pipeline has a cycle"):
            pipeline.topological_order()
        with pytest.raises(PipelineValidationError, match="Cycle detected"):
            pipeline.submit("exp")

    def test_a_cycle_off_the_end_of_a_long_tail(self) -> None:
        # a -> b -> c -> b, reached through a 10,000-node tail: only b and c are in it
        upstream = {f"t{i}": [f"t{i + 1}"] for i in range(10_000)}
        upstream |= {"t10000": ["a"], "a": ["b"], "b": ["c"], "c": ["b"]}

        assert sorted(find_cycle(upstream)) == ["b", "c"]
        assert (
            find_cycle({f"t{i}": [f"t{i + 1}"] for i in range(10_000)} | {"t10000": []})
            == []
        )

    @pytest.mark.slow
    def test_a_100_000_step_chain_validates(
        self, workspace: Workspace, src: Path
    ) -> None:
        steps = chain(100_000, src)

        pipeline = Pipeline(workspace, steps=[steps[-1]])

        assert pipeline.validate() == []
        order = names(pipeline)
        assert (len(order), order[0], order[-1]) == (100_000, "s0", "s99999")
