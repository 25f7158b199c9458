"""The run a step process sees, made without running a step: a context file written as
the driver writes it (``process_contract.write_context``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from dataferry.execution.run_context import _SubmittedRun

if TYPE_CHECKING:
    from dataferry import Workspace


def submitted_run(workspace: Workspace) -> _SubmittedRun:
    """The run a step process would see, for step run ``sr-1`` of run ``r-1``."""
    folder = workspace.path / "runs" / "r-1" / "sr-1"
    folder.mkdir(parents=True)
    context = {
        "workspace": str(workspace.path),
        "run_id": "sr-1",
        "parent_run_id": "r-1",
        "experiment": "exp",
        "step_name": "train",
        "inputs": {},
        "outputs": {},
    }
    (folder / "context.json").write_text(json.dumps(context))
    return _SubmittedRun(folder / "context.json")
