"""``RayCompute.provisioning_configuration``: a Ray target's settings, checked at once."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from dataferry import ComputeTarget
from dataferry.data.compute_ray import RayCompute
from dataferry.errors import (
    ComputeConfigurationError,
    ComputeTargetExistsError,
    ComputeTargetTypeError,
)

if TYPE_CHECKING:
    from dataferry import Workspace


def test_create_read_and_list_a_ray_target(workspace: Workspace) -> None:
    config = RayCompute.provisioning_configuration(
        "ray://head:10001", max_nodes=3, memory=2**30, node_labels={"disk": "ssd"}
    )

    made = ComputeTarget.create(workspace, "big-ray", config)
    again = ComputeTarget.create(workspace, "big-ray", config)  # same settings: fine

    assert isinstance(made, RayCompute)
    assert isinstance(again, RayCompute)
    read = ComputeTarget(workspace, "big-ray")
    assert type(read) is RayCompute
    assert (read.type, read.runs_on, read.max_nodes) == ("RayCompute", "ray", 3)
    assert read.ray_address == "ray://head:10001"
    assert read.resources == {"memory": 2**30, "label_selector": {"disk": "ssd"}}
    assert [type(t) for t in ComputeTarget.list(workspace)] == [RayCompute]
    other = RayCompute.provisioning_configuration("head:6379")
    with pytest.raises(ComputeTargetExistsError, match=r"^compute target 'big-ray'"):
        ComputeTarget.create(workspace, "big-ray", other)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(
        ComputeConfigurationError,
        match=r"^Invalid Ray configuration: the Ray address 'ray://' is not "
        r"'ray://HOST:PORT', a GCS 'HOST:PORT' or 'local' \(a Ray of the driver's "
        r"own, for development\); num_gpus must be 0 or more, not -1; "
        r"resources\['x'\] must be a number, not str \('1'\); max_nodes must be 1 or "
        r"more, not 0; node_labels must map str to str, not 'k': 1\.$",
    ):
        RayCompute.provisioning_configuration(
            "ray://",
            num_gpus=-1,
            resources={"x": "1"},  # type: ignore[dict-item]
            max_nodes=0,
            node_labels={"k": 1},  # type: ignore[dict-item]
        )


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_amount_is_refused(value: float) -> None:
    with pytest.raises(ComputeConfigurationError, match="num_cpus must be 0 or more"):
        RayCompute.provisioning_configuration("local", num_cpus=value)


def test_an_address_that_is_not_a_str_is_a_type_error() -> None:
    with pytest.raises(
        ComputeTargetTypeError, match=r"^a Ray address must be a str, not int$"
    ):
        RayCompute.provisioning_configuration(6379)  # type: ignore[arg-type]


def test_create_refuses_another_configuration_naming_both_kinds(
    workspace: Workspace,
) -> None:
    with pytest.raises(
        ComputeTargetTypeError,
        match=r"AmlCompute\.provisioning_configuration\(\.\.\.\) or "
        r"RayCompute\.provisioning_configuration\(\.\.\.\), not dict",
    ):
        ComputeTarget.create(workspace, "x-ray", {"address": "local"})  # type: ignore[arg-type]


def test_shared_folders_are_kept_normalised() -> None:
    config = RayCompute.provisioning_configuration(
        "127.0.0.1:6379", shared_folders=["/mnt/share/", "/data//x"]
    )

    assert config.to_config()["shared_folders"] == ["/mnt/share", "/data/x"]


@pytest.mark.parametrize("folder", ["relative/dir", "", 7])
def test_a_shared_folder_that_is_not_absolute_is_refused(folder: object) -> None:
    with pytest.raises(
        ComputeConfigurationError,
        match=r"^Invalid Ray configuration: shared_folders must be absolute paths, "
        rf"not {re.escape(repr(folder))}\.$",
    ):
        RayCompute.provisioning_configuration(
            "127.0.0.1:6379",
            shared_folders=[folder],  # type: ignore[list-item]
        )
