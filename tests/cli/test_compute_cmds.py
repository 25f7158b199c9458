"""``dataferry compute list|show|create|delete``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from dataferry import ComputeTarget

if TYPE_CHECKING:
    from dataferry import Workspace
    from tests.cli.conftest import Invoke


def test_list_when_none(run: Invoke) -> None:
    result = run("compute", "list")

    assert result.exit_code == 0
    assert "No compute targets" in result.output
    assert json.loads(run("compute", "list", "--json").output) == []


def test_create_list_show_delete(run: Invoke, workspace: Workspace) -> None:
    created = run(
        "compute",
        "create",
        "cpu-cluster",
        "--max-nodes",
        "3",
        "--vm-size",
        "STANDARD_D2_V2",
    )

    assert created.exit_code == 0, created.output
    assert (
        "Compute target 'cpu-cluster' (AmlCompute): steps run local, at most 3 at once."
        in created.output
    )
    assert ComputeTarget(workspace, "cpu-cluster").max_nodes == 3

    listed = json.loads(run("compute", "list", "--json").output)
    assert [
        (t["name"], t["type"], t["runs_on"], t["max_nodes"], t["vm_size"], t["state"])
        for t in listed
    ] == [("cpu-cluster", "AmlCompute", "local", 3, "STANDARD_D2_V2", "Succeeded")]
    table = run("compute", "list").output
    assert "cpu-cluster" in table
    assert "STANDARD_D2_V2" in table

    shown = json.loads(run("compute", "show", "cpu-cluster", "--json").output)
    assert shown["settings"]["max_nodes"] == 3
    assert shown["settings"]["vm_priority"] == "dedicated"
    assert "runs_on" in run("compute", "show", "cpu-cluster").output

    deleted = run("compute", "delete", "cpu-cluster")
    assert deleted.exit_code == 0
    assert "Deleted compute target 'cpu-cluster'." in deleted.output
    assert workspace.compute_targets == {}


def test_reserved_name(run: Invoke) -> None:
    result = run("compute", "create", "local", "--max-nodes", "2")

    assert result.exit_code == 2
    assert (
        "Please specify a different target name. local is a reserved name."
        in result.output
    )


def test_max_below_min(run: Invoke) -> None:
    result = run("compute", "create", "cpu", "--max-nodes", "1", "--min-nodes", "2")

    assert result.exit_code == 2
    assert "max_nodes (1) must not be less than min_nodes (2)" in result.output
    assert json.loads(run("compute", "list", "--json").output) == []


def test_missing_target(run: Invoke) -> None:
    for args in (("show", "nope"), ("delete", "nope")):
        result = run("compute", *args)

        assert result.exit_code == 3
        assert "Compute Target with name nope not found" in result.output
