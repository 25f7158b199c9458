"""``AmlCompute.provisioning_configuration``: a compute target's settings, checked at once.

The Azure ML SDK validates a provisioning configuration as it is made (reference A.13);
so does this. Locally only ``max_nodes`` matters (it bounds how many steps on the target
run at once); the rest is kept and shown. Passwords and SSH keys are checked for
consistency and then dropped: secrets never go into the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dataferry.errors import ComputeConfigurationError, ComputeTargetTypeError

# the SDK's default base images (azureml.core.runconfig / environment); recorded, not run
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu20.04"

_PRIORITIES = ("dedicated", "lowpriority")
_PORT_ACCESS = ("Enabled", "Disabled", "NotSpecified")
_VNET = ("vnet_resourcegroup_name", "vnet_name", "subnet_name")


@dataclass(frozen=True, slots=True)
class ScaleSettings:
    """How many nodes a cluster may have, and how long an idle one stays."""

    minimum_node_count: int
    maximum_node_count: int
    idle_seconds_before_scaledown: int

    def serialize(self) -> dict[str, Any]:
        """The SDK's camelCase form (``nodeIdleTimeBeforeScaleDown`` as ISO ``PT<n>S``)."""
        return {
            "minNodeCount": self.minimum_node_count,
            "maxNodeCount": self.maximum_node_count,
            "nodeIdleTimeBeforeScaleDown": f"PT{self.idle_seconds_before_scaledown}S",
        }


@dataclass(frozen=True, slots=True)
class AmlComputeProvisioningConfiguration:
    """The settings of an ``AmlCompute`` cluster, as ``provisioning_configuration`` made them.

    ``settings`` holds every other argument as given (no password or SSH key).
    """

    vm_size: str
    vm_priority: str
    scale_settings: ScaleSettings
    settings: dict[str, Any] = field(default_factory=dict)

    def to_config(self) -> dict[str, Any]:
        """What the catalog keeps of it (JSON)."""
        return {
            "vm_size": self.vm_size,
            "vm_priority": self.vm_priority,
            "min_nodes": self.scale_settings.minimum_node_count,
            "max_nodes": self.scale_settings.maximum_node_count,
            "idle_seconds_before_scaledown": (
                self.scale_settings.idle_seconds_before_scaledown
            ),
            **self.settings,
        }

    def validate_configuration(self) -> None:
        """Check the settings again (they were checked when made; kept for the SDK).

        Raises:
            ComputeConfigurationError: a setting is out of range or inconsistent.
        """
        _check_counts(
            self.scale_settings.minimum_node_count,
            self.scale_settings.maximum_node_count,
        )


def provisioning_configuration(
    vm_size: str = "",
    vm_priority: str = "dedicated",
    min_nodes: int = 0,
    max_nodes: int | None = None,
    idle_seconds_before_scaledown: int | None = 1800,
    admin_username: str | None = None,
    admin_user_password: str | None = None,
    admin_user_ssh_key: str | None = None,
    vnet_resourcegroup_name: str | None = None,
    vnet_name: str | None = None,
    subnet_name: str | None = None,
    tags: dict[str, str] | None = None,
    description: str | None = None,
    remote_login_port_public_access: str = "NotSpecified",
    identity_type: str | None = None,
    identity_id: list[str] | None = None,
    location: str | None = None,
    enable_node_public_ip: bool = True,
) -> AmlComputeProvisioningConfiguration:
    """``AmlCompute.provisioning_configuration(...)``: the SDK's signature and checks.

    Returns:
        The configuration for ``ComputeTarget.create``.

    Raises:
        ComputeTargetTypeError: a setting has the wrong type (``vm_size=4``).
        ComputeConfigurationError: every other problem at once: no ``max_nodes``,
            ``max_nodes`` below 0 or below ``min_nodes``, an unknown priority or port
            access, part of a virtual network, admin credentials that do not fit.
    """
    _check_types(
        vm_size, vm_priority, min_nodes, max_nodes, idle_seconds_before_scaledown
    )
    min_nodes = min_nodes or 0  # the SDK turns a falsy min_nodes into 0
    problems = _check_counts(min_nodes, max_nodes, raise_now=False)
    if vm_priority not in _PRIORITIES:
        problems.append(
            f"vm_priority must be one of {', '.join(_PRIORITIES)}, not {vm_priority!r}"
        )
    if remote_login_port_public_access not in _PORT_ACCESS:
        problems.append(
            "remote_login_port_public_access must be one of "
            f"{', '.join(_PORT_ACCESS)}, not {remote_login_port_public_access!r}"
        )
    vnet = dict(
        zip(_VNET, (vnet_resourcegroup_name, vnet_name, subnet_name), strict=True)
    )
    if any(vnet.values()) and not all(vnet.values()):
        missing = ", ".join(k for k, v in vnet.items() if not v)
        problems.append(
            "not all virtual net information provided; to use a custom VNET give "
            f"vnet_resourcegroup_name, vnet_name and subnet_name (missing: {missing})"
        )
    problems += _admin_problems(admin_username, admin_user_password, admin_user_ssh_key)
    if problems:
        raise ComputeConfigurationError(
            "Invalid provisioning configuration: " + "; ".join(problems) + "."
        )
    assert max_nodes is not None  # _check_counts reported None above
    settings = {
        "admin_username": admin_username,
        "vnet_resourcegroup_name": vnet_resourcegroup_name,
        "vnet_name": vnet_name,
        "subnet_name": subnet_name,
        "tags": dict(tags or {}),
        "description": description,
        "remote_login_port_public_access": remote_login_port_public_access,
        "identity_type": identity_type,
        "identity_id": list(identity_id or []),
        "location": location,
        "enable_node_public_ip": bool(enable_node_public_ip),
    }
    return AmlComputeProvisioningConfiguration(
        vm_size=vm_size,
        vm_priority=vm_priority,
        scale_settings=ScaleSettings(
            min_nodes, max_nodes, int(idle_seconds_before_scaledown or 0)
        ),
        settings=settings,
    )


def _check_types(
    vm_size: object,
    vm_priority: object,
    min_nodes: object,
    max_nodes: object,
    idle_seconds: object,
) -> None:
    wrong = [
        f"{name} must be {kind}, not {type(value).__name__} ({value!r})"
        for name, value, kind, ok in (
            ("vm_size", vm_size, "a str", isinstance(vm_size, str)),
            ("vm_priority", vm_priority, "a str", isinstance(vm_priority, str)),
            ("min_nodes", min_nodes, "an int", _is_int(min_nodes, none_ok=True)),
            ("max_nodes", max_nodes, "an int", _is_int(max_nodes, none_ok=True)),
            (
                "idle_seconds_before_scaledown",
                idle_seconds,
                "an int",
                _is_int(idle_seconds, none_ok=True),
            ),
        )
        if not ok
    ]
    if wrong:
        raise ComputeTargetTypeError(
            "Invalid provisioning configuration: " + "; ".join(wrong) + "."
        )


def _is_int(value: object, *, none_ok: bool) -> bool:
    if value is None:
        return none_ok
    return isinstance(value, int) and not isinstance(value, bool)


def _check_counts(
    min_nodes: int, max_nodes: int | None, *, raise_now: bool = True
) -> list[str]:
    problems = []
    if max_nodes is None:
        problems.append("max nodes count is mandatory (pass max_nodes=N)")
    elif max_nodes < 0:
        problems.append(f"max_nodes must be 0 or more, not {max_nodes}")
    if min_nodes < 0:
        problems.append(f"min_nodes must be 0 or more, not {min_nodes}")
    if max_nodes is not None and max_nodes < min_nodes:
        problems.append(
            f"max_nodes ({max_nodes}) must not be less than min_nodes ({min_nodes})"
        )
    if problems and raise_now:
        raise ComputeConfigurationError(
            "Invalid provisioning configuration: " + "; ".join(problems) + "."
        )
    return problems


def _admin_problems(
    username: str | None, password: str | None, ssh_key: str | None
) -> list[str]:
    if username and not (password or ssh_key):
        return ["admin_username needs admin_user_password or admin_user_ssh_key"]
    if (password or ssh_key) and not username:
        return ["admin_user_password or admin_user_ssh_key needs admin_username"]
    return []
