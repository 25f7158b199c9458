"""``dataferry compute create NAME --ray ADDRESS``: a target whose steps run on Ray."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from dataferry import ComputeTarget
from dataferry.data.compute_ray import RayCompute

if TYPE_CHECKING:
    from dataferry import Workspace
    from tests.cli.conftest import Invoke


@pytest.mark.parametrize(
    ("address", "nodes"),
    [("ray://10.0.0.5:10001", "4"), ("127.0.0.1:6379", "2"), ("local", "1")],
)
def test_create_a_ray_target(
    run: Invoke, workspace: Workspace, address: str, nodes: str
) -> None:
    created = run(
        "compute", "create", "ray-gpu", "--ray", address, "--max-nodes", nodes,
        "--num-cpus", "2", "--num-gpus", "0.5", "--memory", "1000000",
        "--resource", "tpu=1", "--label", "zone=a", "--lost-node-retries", "1",
        "--shared-folder", "/mnt/share/",
    )  # fmt: skip

    assert created.exit_code == 0, created.output
    assert (
        f"Compute target 'ray-gpu' (RayCompute): steps run ray, at most {nodes} at "
        "once." in created.output
    )
    target = ComputeTarget(workspace, "ray-gpu")
    assert isinstance(target, RayCompute)
    assert (target.ray_address, target.lost_node_retries) == (address, 1)
    assert target.shared_folders == ["/mnt/share"]
    assert target.resources == {
        "num_cpus": 2.0,
        "num_gpus": 0.5,
        "memory": 1000000,
        "resources": {"tpu": 1.0},
        "label_selector": {"zone": "a"},
    }
    shown = json.loads(run("compute", "show", "ray-gpu", "--json").output)
    assert (shown["type"], shown["runs_on"], shown["ray_address"]) == (
        "RayCompute",
        "ray",
        address,
    )
    assert f"{address}" in run("compute", "show", "ray-gpu").output


def test_a_ray_target_defaults_to_four_at_once_and_two_retries(
    run: Invoke, workspace: Workspace
) -> None:
    assert run("compute", "create", "rc", "--ray", "local").exit_code == 0

    target = ComputeTarget(workspace, "rc")
    assert (target.max_nodes, target.lost_node_retries, target.resources) == (
        4,
        2,
        {},
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--ray", "http://head:8265"],
            "Invalid Ray configuration: the Ray address 'http://head:8265' is not "
            "'ray://HOST:PORT', a GCS 'HOST:PORT' or 'local'",
        ),
        (["--ray", "head:99999"], "the Ray address 'head:99999' is not"),
        (["--ray", "head"], "the Ray address 'head' is not"),
        (["--ray", "local", "--num-cpus", "-1"], "num_cpus must be 0 or more, not -1"),
        (["--ray", "local", "--max-nodes", "0"], "max_nodes must be 1 or more, not 0"),
        (
            ["--ray", "local", "--lost-node-retries", "-2"],
            "lost_node_retries must be 0 or more, not -2",
        ),
    ],
)
def test_a_bad_ray_setting_is_refused_and_nothing_is_recorded(
    run: Invoke, args: list[str], message: str
) -> None:
    result = run("compute", "create", "rc", *args)

    assert result.exit_code == 2
    assert message in result.output
    assert json.loads(run("compute", "list", "--json").output) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ray", "local", "--resource", "tpu"], "'tpu' is not KEY=VALUE"),
        (["--ray", "local", "--resource", "tpu=x"], "the amount must be a number"),
        (["--ray", "local", "--label", "=a"], "'=a' is not KEY=VALUE"),
        (["--max-nodes", "2", "--num-cpus", "1"], "--num-cpus only apply with --ray"),
        ([], "Missing option '--max-nodes' (needed without --ray)."),
    ],
)
def test_bad_options_are_usage_errors(
    run: Invoke, args: list[str], message: str
) -> None:
    result = run("compute", "create", "rc", *args)

    assert result.exit_code == 2
    assert message in result.output
