"""Whether a live Ray node can run a step (``executors.ray_fit``): pure, on node lists."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dataferry.errors import ComputeNodeUnavailableError
from dataferry.execution.executors.ray_fit import check_fits, wanted_resources

HEAD = {
    "Alive": True,
    "NodeManagerAddress": "10.0.0.1",
    "Labels": {"node": "head", "ray.io/node-id": "aa"},
    "Resources": {"CPU": 2.0, "memory": 4e9},
}
WORKER = {
    "Alive": True,
    "NodeManagerAddress": "10.0.0.2",
    "Labels": {"node": "worker"},
    "Resources": {"CPU": 1.0, "GPU": 1.0, "disk": 1.0},
}


def test_wanted_resources_use_ray_node_names_and_drop_zeros() -> None:
    options = {"num_cpus": 1, "num_gpus": 0, "memory": 100, "resources": {"disk": 2}}
    assert wanted_resources(options) == {"CPU": 1.0, "memory": 100.0, "disk": 2.0}


@pytest.mark.parametrize(
    "options",
    [
        {"label_selector": {"node": "worker"}},
        {"label_selector": {"node": "head"}, "num_cpus": 2},
        {"resources": {"disk": 1}},
        {"num_gpus": 1},
        {},
    ],
)
def test_a_step_some_live_node_can_run_passes(options: dict[str, Any]) -> None:
    check_fits([HEAD, WORKER], options, "step 's'")


def test_a_step_pinned_to_a_dead_node_is_refused_naming_the_label() -> None:
    dead = {**WORKER, "Alive": False}
    with pytest.raises(
        ComputeNodeUnavailableError,
        match=re.escape(
            "step 's': no live node of the Ray cluster has label node=worker, CPU=1 "
            "(live nodes: 10.0.0.1 [node=head]). The node it needs is gone or "
            "never joined"
        ),
    ):
        check_fits(
            [HEAD, dead],
            {"label_selector": {"node": "worker"}, "num_cpus": 1},
            "step 's'",
        )


@pytest.mark.parametrize(
    ("options", "asked"),
    [
        (
            {"resources": {"disk": 1}, "label_selector": {"node": "head"}},
            "label node=head, disk=1",
        ),
        ({"num_cpus": 3}, "CPU=3"),
        ({"resources": {"tpu": 0.5}}, "tpu=0.5"),
        ({"label_selector": {"zone": "b"}}, "label zone=b"),
    ],
)
def test_labels_and_resources_no_single_node_has_are_refused(
    options: dict[str, Any], asked: str
) -> None:
    with pytest.raises(
        ComputeNodeUnavailableError,
        match=re.escape(
            f"step 's': no live node of the Ray cluster has {asked} (live nodes: "
            "10.0.0.1 [node=head]; 10.0.0.2 [node=worker])"
        ),
    ):
        check_fits([HEAD, WORKER], options, "step 's'")


def test_no_live_node_at_all_says_so() -> None:
    with pytest.raises(
        ComputeNodeUnavailableError, match=r"\(live nodes: no live node\)"
    ):
        check_fits([{**HEAD, "Alive": False}], {"num_cpus": 1}, "step 's'")
