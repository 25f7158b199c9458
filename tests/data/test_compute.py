"""Compute targets as workspace records: provisioning checks, create, find, list, delete."""

from __future__ import annotations

import os

import pytest

from dataferry import AmlCompute, ComputeTarget, LocalTarget, Workspace
from dataferry.data.compute_config import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE
from dataferry.errors import (
    ComputeConfigurationError,
    ComputeTargetException,
    ComputeTargetExistsError,
    ComputeTargetNotFoundError,
    ComputeTargetTypeError,
    UserErrorException,
)

SUCCEEDED = 'Provisioning operation finished, operation "Succeeded"'


def config(**kwargs: object) -> object:
    return AmlCompute.provisioning_configuration(
        **{"vm_size": "STANDARD_D2_V2", "max_nodes": 4, **kwargs}  # type: ignore[arg-type]
    )


class TestProvisioningConfiguration:
    def test_fields(self) -> None:
        cfg = AmlCompute.provisioning_configuration(
            vm_size="STANDARD_NC6", vm_priority="lowpriority", min_nodes=1, max_nodes=3
        )

        assert (cfg.vm_size, cfg.vm_priority) == ("STANDARD_NC6", "lowpriority")
        scale = cfg.scale_settings
        assert (scale.minimum_node_count, scale.maximum_node_count) == (1, 3)
        assert scale.idle_seconds_before_scaledown == 1800

    def test_falsy_min_nodes_is_zero(self) -> None:
        cfg = AmlCompute.provisioning_configuration(max_nodes=2, min_nodes=None)  # type: ignore[arg-type]

        assert cfg.scale_settings.minimum_node_count == 0

    def test_max_nodes_is_mandatory(self) -> None:
        with pytest.raises(
            ComputeConfigurationError, match="max nodes count is mandatory"
        ):
            AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2")

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"max_nodes": 1, "min_nodes": 2}, r"max_nodes \(1\) must not be less than min_nodes \(2\)"),
            ({"max_nodes": -1}, "max_nodes must be 0 or more, not -1"),
            ({"max_nodes": 2, "min_nodes": -1}, "min_nodes must be 0 or more, not -1"),
            ({"max_nodes": 2, "vm_priority": "spot"}, "vm_priority must be one of dedicated, lowpriority, not 'spot'"),
            ({"max_nodes": 2, "vnet_name": "v"}, r"not all virtual net information provided.*missing: vnet_resourcegroup_name, subnet_name"),
            ({"max_nodes": 2, "admin_username": "me"}, "admin_username needs admin_user_password or admin_user_ssh_key"),
            ({"max_nodes": 2, "admin_user_password": "pw"}, "needs admin_username"),
            ({"max_nodes": 2, "remote_login_port_public_access": "Open"}, "remote_login_port_public_access must be one of"),
        ],
        ids=["max<min", "max<0", "min<0", "priority", "vnet", "admin-no-secret", "secret-no-admin", "port"],
    )  # fmt: skip
    def test_bad_values(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(ComputeConfigurationError, match=message) as caught:
            AmlCompute.provisioning_configuration(**kwargs)  # type: ignore[arg-type]

        assert isinstance(caught.value, ValueError)
        assert isinstance(caught.value, ComputeTargetException)

    def test_every_problem_is_reported_at_once(self) -> None:
        with pytest.raises(
            ComputeConfigurationError,
            match=r"max_nodes \(1\) must not be less than min_nodes \(2\); "
            r"vm_priority must be one of",
        ):
            AmlCompute.provisioning_configuration(
                max_nodes=1, min_nodes=2, vm_priority="x"
            )

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"vm_size": 4, "max_nodes": 2}, r"vm_size must be a str, not int \(4\)"),
            ({"max_nodes": "4"}, r"max_nodes must be an int, not str \('4'\)"),
            ({"max_nodes": 2.5}, r"max_nodes must be an int, not float"),
            ({"max_nodes": True}, r"max_nodes must be an int, not bool"),
            ({"max_nodes": 2, "min_nodes": "1"}, r"min_nodes must be an int, not str"),
        ],
        ids=["vm_size", "max-str", "max-float", "max-bool", "min-str"],
    )
    def test_bad_types(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(ComputeTargetTypeError, match=message) as caught:
            AmlCompute.provisioning_configuration(**kwargs)  # type: ignore[arg-type]

        assert isinstance(caught.value, TypeError)

    def test_secrets_are_not_kept(self) -> None:
        cfg = config(admin_username="me", admin_user_password="s3cret")

        assert "s3cret" not in repr(cfg.to_config())  # type: ignore[attr-defined]
        assert cfg.to_config()["admin_username"] == "me"  # type: ignore[attr-defined]


class TestTargets:
    def test_missing_target_raises_the_sdk_exception(
        self, workspace: Workspace
    ) -> None:
        with pytest.raises(
            ComputeTargetException,
            match="ComputeTargetNotFound: Compute Target with name cpu-cluster not "
            "found in provided workspace",
        ) as caught:
            ComputeTarget(workspace=workspace, name="cpu-cluster")

        assert isinstance(caught.value, ComputeTargetNotFoundError)
        assert isinstance(caught.value, LookupError)

    def test_aml_compute_lookup_misses_too(self, workspace: Workspace) -> None:
        with pytest.raises(ComputeTargetNotFoundError, match="Known: none"):
            AmlCompute(workspace, "gpu")

    def test_create_then_find(self, workspace: Workspace) -> None:
        made = ComputeTarget.create(workspace, "cpu-cluster", config())

        found = ComputeTarget(workspace, "cpu-cluster")
        assert type(found) is AmlCompute
        assert type(AmlCompute(workspace, "cpu-cluster")) is AmlCompute
        assert (found.name, found.type, found.runs_on, found.max_nodes) == (
            "cpu-cluster",
            "AmlCompute",
            "local",
            4,
        )
        assert (made.name, made.provisioning_state) == ("cpu-cluster", "Succeeded")
        assert found.vm_size == "STANDARD_D2_V2"  # type: ignore[attr-defined]

    def test_a_similar_name_is_suggested(self, workspace: Workspace) -> None:
        ComputeTarget.create(workspace, "cpu-cluster", config())

        with pytest.raises(
            ComputeTargetNotFoundError, match="Did you mean 'cpu-cluster'"
        ):
            ComputeTarget(workspace, "cpu-clustr")

    def test_create_again_with_the_same_settings_returns_it(
        self, workspace: Workspace
    ) -> None:
        first = ComputeTarget.create(workspace, "cpu", config())
        second = ComputeTarget.create(workspace, "cpu", config())

        assert second.created_at == first.created_at
        assert [t.name for t in ComputeTarget.list(workspace)] == ["cpu"]

    def test_create_again_with_other_settings_is_refused(
        self, workspace: Workspace
    ) -> None:
        ComputeTarget.create(workspace, "cpu", config())

        with pytest.raises(
            ComputeTargetExistsError,
            match="compute target 'cpu' already exists as a AmlCompute with other "
            "settings",
        ):
            ComputeTarget.create(workspace, "cpu", config(max_nodes=8))
        assert ComputeTarget(workspace, "cpu").max_nodes == 4

    @pytest.mark.parametrize(
        "name", ["local", "amlcompute", "containerinstance", "LOCAL"]
    )
    def test_reserved_names(self, workspace: Workspace, name: str) -> None:
        with pytest.raises(
            UserErrorException,
            match=f"Please specify a different target name. {name} is a reserved name.",
        ):
            ComputeTarget.create(workspace, name, config())
        assert ComputeTarget.list(workspace) == []

    @pytest.mark.parametrize(
        "name", ["x", "1cpu", "cpu_cluster", "a" * 25, "cpu cluster"]
    )
    def test_bad_names(self, workspace: Workspace, name: str) -> None:
        with pytest.raises(
            ComputeConfigurationError, match="use 2-24 letters, digits or '-'"
        ):
            ComputeTarget.create(workspace, name, config())

    def test_create_needs_an_aml_configuration(self, workspace: Workspace) -> None:
        with pytest.raises(
            ComputeTargetTypeError, match="not dict; other compute kinds"
        ):
            ComputeTarget.create(workspace, "cpu", {"max_nodes": 2})  # type: ignore[arg-type]

    def test_list_and_workspace_dict(self, workspace: Workspace) -> None:
        ComputeTarget.create(workspace, "b-cluster", config(max_nodes=2))
        ComputeTarget.create(workspace, "a-cluster", config())

        assert [t.name for t in ComputeTarget.list(workspace)] == [
            "a-cluster",
            "b-cluster",
        ]
        targets = workspace.compute_targets
        assert sorted(targets) == ["a-cluster", "b-cluster"]
        assert targets["b-cluster"].max_nodes == 2
        with pytest.raises(KeyError):
            _ = targets["nope"]

    def test_delete(self, workspace: Workspace) -> None:
        target = ComputeTarget.create(workspace, "cpu", config())

        target.delete()

        assert workspace.compute_targets == {}
        with pytest.raises(ComputeTargetNotFoundError, match="name cpu not found"):
            target.delete()

    def test_records_survive_reopening(self, workspace: Workspace) -> None:
        ComputeTarget.create(workspace, "cpu", config(max_nodes=3))

        again = Workspace.from_config(workspace.path.parent)
        assert again.compute_targets["cpu"].max_nodes == 3
        again.close()


class TestStatusAndOutput:
    def test_wait_for_completion_prints_what_the_sdk_prints(
        self, workspace: Workspace, capsys: pytest.CaptureFixture[str]
    ) -> None:
        target = ComputeTarget.create(workspace, "cpu", config())

        assert target.wait_for_completion(show_output=True) is None  # type: ignore[func-returns-value]

        assert capsys.readouterr().out == (
            f"Succeeded{SUCCEEDED}\nSucceeded\nAmlCompute wait for completion "
            "finished\n\nMinimum number of nodes requested have been provisioned\n"
        )

    def test_quiet_wait_still_prints_the_operation(
        self, workspace: Workspace, capsys: pytest.CaptureFixture[str]
    ) -> None:
        ComputeTarget.create(workspace, "cpu", config()).wait_for_completion()

        assert capsys.readouterr().out == SUCCEEDED + "\n"

    def test_status_serializes_to_the_sdk_keys(self, workspace: Workspace) -> None:
        target = ComputeTarget.create(
            workspace, "cpu", config(min_nodes=1, idle_seconds_before_scaledown=120)
        )

        status = target.get_status().serialize()

        assert status["provisioningState"] == "Succeeded"
        assert status["currentNodeCount"] == status["targetNodeCount"] == 1
        assert status["scaleSettings"] == {
            "minNodeCount": 1,
            "maxNodeCount": 4,
            "nodeIdleTimeBeforeScaleDown": "PT120S",
        }
        assert (status["vmSize"], status["vmPriority"]) == (
            "STANDARD_D2_V2",
            "Dedicated",
        )
        assert status["nodeStateCounts"]["idleNodeCount"] == 1
        assert status["errors"] is None
        assert set(status) == {
            "currentNodeCount", "targetNodeCount", "nodeStateCounts", "allocationState",
            "allocationStateTransitionTime", "errors", "creationTime", "modifiedTime",
            "provisioningState", "provisioningStateTransitionTime", "scaleSettings",
            "vmPriority", "vmSize",
        }  # fmt: skip

    def test_local_target_and_images(self) -> None:
        local = LocalTarget()

        assert (local.name, local.type, local.runs_on) == ("local", "local", "local")
        assert local.max_nodes == (os.cpu_count() or 1)
        assert DEFAULT_CPU_IMAGE.startswith("mcr.microsoft.com/azureml/openmpi")
        assert "cuda" in DEFAULT_GPU_IMAGE


@pytest.mark.parametrize("location", [None, "southcentralus"])
def test_supported_vmsizes_is_this_machine(
    workspace: Workspace, location: str | None
) -> None:
    sizes = AmlCompute.supported_vmsizes(workspace=workspace, location=location)

    assert [s["name"] for s in sizes] == ["local"]
    assert sizes[0]["vCPUs"] == os.cpu_count()
    assert sizes[0]["gpus"] == 0
    assert sizes[0]["memoryGB"] > 0


def test_supported_vmsizes_refuses_a_location_that_is_not_a_name(
    workspace: Workspace,
) -> None:
    with pytest.raises(
        ComputeTargetTypeError,
        match=r"supported_vmsizes\(\): location must be a region name \(str\) or None, not int",
    ):
        AmlCompute.supported_vmsizes(workspace, location=3)  # type: ignore[arg-type]


def test_a_cluster_has_no_nodes_to_list(workspace: Workspace) -> None:
    config = AmlCompute.provisioning_configuration(max_nodes=2)
    cluster = ComputeTarget.create(workspace, "cpu-nodes", config)

    assert cluster.list_nodes() == []


def test_update_changes_the_scale_given_and_keeps_the_rest(
    workspace: Workspace,
) -> None:
    config = AmlCompute.provisioning_configuration(
        vm_size="STANDARD_D2_V2", min_nodes=0, max_nodes=4
    )
    cluster = ComputeTarget.create(workspace, "cpu-upd", config)
    assert isinstance(cluster, AmlCompute)

    cluster.update(idle_seconds_before_scaledown=300)
    cluster.update(min_nodes=1, max_nodes=2)

    again = AmlCompute(workspace, "cpu-upd")
    assert again.get_status().serialize()["scaleSettings"] == {
        "minNodeCount": 1,
        "maxNodeCount": 2,
        "nodeIdleTimeBeforeScaleDown": "PT300S",
    }
    assert (again.max_nodes, again.vm_size) == (2, "STANDARD_D2_V2")
    assert cluster.max_nodes == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"max_nodes": -1},
            ComputeConfigurationError,
            r"Invalid provisioning configuration: max_nodes must be 0 or more, not -1",
        ),
        (
            {"min_nodes": 5},
            ComputeConfigurationError,
            r"max_nodes \(4\) must not be less than min_nodes \(5\)",
        ),
        (
            {"max_nodes": "4"},
            ComputeTargetTypeError,
            r"max_nodes must be an int, not str \('4'\)",
        ),
    ],
)
def test_update_refuses_bad_counts_and_changes_nothing(
    workspace: Workspace,
    kwargs: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    config = AmlCompute.provisioning_configuration(max_nodes=4)
    cluster = ComputeTarget.create(workspace, "cpu-bad", config)
    assert isinstance(cluster, AmlCompute)

    with pytest.raises(error, match=message):
        cluster.update(**kwargs)  # type: ignore[arg-type]

    assert AmlCompute(workspace, "cpu-bad").max_nodes == 4
