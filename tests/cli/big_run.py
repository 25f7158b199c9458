"""A big run for the page, made fast: a chain pipeline compiled and recorded by the
catalog without running it (as tests/execution/test_plan_scaling.py does), its steps
NotStarted. ``n`` steps with a PipelineData between each: about 2n nodes. Imported as
``cli.big_run``."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from pipeline.kit import chain, write_script

from dataferry import Pipeline
from dataferry.catalog.run_store import RunStore
from dataferry.execution.plan import PlanCompiler

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


def recorded_run(workspace: Workspace, tmp_path: Path, n: int) -> str:
    """The id of a recorded (never started) run of an ``n``-step chain."""
    src = write_script(tmp_path / f"chain{n}", "step.py", "print('ok')\n")
    compiler = PlanCompiler(Pipeline(workspace, steps=chain(n, src)), workspace)
    parameters = compiler.parameters({})
    plan = compiler.compile()
    run_id = f"big_{n}"
    RunStore(workspace.catalog).create_run(
        run_id,
        "big",
        plan.to_json(),
        parameters=parameters,
        options={},
        tags=None,
        description=None,
        steps=[
            (f"{run_id}_{node.node_id}", node.node_id, node.name) for node in plan.nodes
        ],
        driver_host=socket.gethostname(),
    )
    return run_id
