"""Plans that scale: building, validating, compiling and recording a pipeline grows
linearly with its steps.

Time on a shared machine is noise, so the work is counted instead: the Python function
calls (``cProfile``'s count, deterministic for a given graph) made for 2,000 and for
20,000 steps. Linear work makes ten times the calls; a scan of every node per input
(what a 10,000-step pipeline used to pay) makes a hundred times.
"""

from __future__ import annotations

import cProfile
import pstats
import socket
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import chain
from sqlalchemy import event

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep
from dataferry.catalog.run_store import RunStore
from dataferry.execution.plan import PlanCompiler

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace
    from dataferry.pipeline import PipelineStep

SMALL, LARGE = 2_000, 20_000
# ten times the steps may cost at most this many times the calls (linear is ~10)
GROWTH_LIMIT = 15


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A source folder holding ``step.py``."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "step.py").write_text("print('ok')\n")
    return folder


def fan_out(n: int, src: Path) -> list[PipelineStep]:
    """One step writing an output that ``n - 1`` other steps read."""
    root = OutputFileDatasetConfig(name="root")
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
            arguments=[root.as_input(f"i{i}")],
        )
        for i in range(n - 1)
    ]
    return steps


def submit_work(workspace: Workspace, src: Path, shape: str, n: int) -> int:
    """Function calls to build, validate, compile and record an ``n``-step pipeline."""
    profile = cProfile.Profile()
    profile.enable()
    steps = chain(n, src) if shape == "chain" else fan_out(n, src)
    pipeline = Pipeline(workspace, steps=steps)
    problems = pipeline.validate() + pipeline.environment_problems()
    compiler = PlanCompiler(pipeline, workspace)
    parameters = compiler.parameters({})
    plan = compiler.compile()
    RunStore(workspace.catalog).create_run(
        f"{shape}_{n}",
        "scaling",
        plan.to_json(),
        parameters=parameters,
        options={},
        tags=None,
        description=None,
        steps=[
            (f"{shape}_{n}_{node.node_id}", node.node_id, node.name)
            for node in plan.nodes
        ],
        driver_host=socket.gethostname(),
    )
    profile.disable()
    assert (problems, len(plan.nodes)) == ([], n)
    return pstats.Stats(profile).total_calls  # type: ignore[attr-defined,no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["chain", "fan_out"])
def test_work_grows_linearly_with_the_steps(
    workspace: Workspace, src: Path, shape: str
) -> None:
    submit_work(workspace, src, shape, 50)  # imports and first-use caches, not counted

    small = submit_work(workspace, src, shape, SMALL)
    large = submit_work(workspace, src, shape, LARGE)

    assert large / small <= GROWTH_LIMIT, (small, large)


def test_step_runs_are_recorded_in_one_statement(
    workspace: Workspace, src: Path
) -> None:
    pipeline = Pipeline(workspace, steps=fan_out(3, src))
    compiler = PlanCompiler(pipeline, workspace)
    plan = compiler.compile()
    store = RunStore(workspace.catalog)
    statements: list[str] = []
    engine = workspace.catalog.engine

    def record(conn: object, cursor: object, sql: str, *rest: object) -> None:
        statements.append(" ".join(sql.split()[:3]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        store.create_run(
            "r1",
            "scaling",
            plan.to_json(),
            parameters={},
            options={},
            tags=None,
            description=None,
            steps=[(f"{nd.node_id}_r", nd.node_id, nd.name) for nd in plan.nodes],
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert statements.count("INSERT INTO step_runs") == 1
    assert [r.node_id for r in store.step_runs("r1")] == ["root", "s0", "s1"]
