"""A run's concurrency limit from the compute targets its steps name."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry import AmlCompute, ComputeTarget
from dataferry.execution.compute_limits import concurrency_limit

if TYPE_CHECKING:
    from dataferry import Workspace


@pytest.fixture
def targets(workspace: Workspace) -> Workspace:
    for name, size in (("one", 1), ("two", 2), ("big", 64)):
        config = AmlCompute.provisioning_configuration(max_nodes=size)
        ComputeTarget.create(workspace, name, config)
    return workspace


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["one", "one", "one"], 1),
        (["two", "two"], 2),
        (["one", "two"], 3),
        (["big"], 8),  # never above the workspace's limit
        (["one", None], 8),  # a step with no target is bounded by the workspace only
        (["one", "local"], 8),
        (["one", "unrecorded"], 8),  # an unrecorded name runs locally, as before
        ([], 8),
    ],
    ids=["one", "two", "sum", "capped", "none", "local", "unrecorded", "empty"],
)
def test_limit(targets: Workspace, names: list[str | None], expected: int) -> None:
    assert concurrency_limit(targets.catalog, names, 8) == expected


def test_zero_nodes_still_runs_one(workspace: Workspace) -> None:
    config = AmlCompute.provisioning_configuration(max_nodes=0)
    target = ComputeTarget.create(workspace, "empty", config)

    assert target.max_nodes == 1
    assert concurrency_limit(workspace.catalog, ["empty"], 8) == 1
