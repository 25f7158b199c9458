"""Compute targets on a Ray cluster: a step that names one runs as a Ray task there.

``RayCompute.provisioning_configuration(address=...)`` checks the settings at once (as
``AmlCompute.provisioning_configuration`` does) and ``ComputeTarget.create`` records
them; ``dataferry compute create NAME --ray ADDRESS`` does the same. The address is a
Ray client address (``ray://host:port``), a cluster's GCS address (``host:port``), or
``local``: the driver starts a Ray of its own on this machine (for development).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataferry.data.compute import ComputeTarget, register_kind
from dataferry.errors import ComputeConfigurationError, ComputeTargetTypeError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

RAY_KIND = "RayCompute"
_HOST_PORT = re.compile(r"^(?:ray://)?[A-Za-z0-9.\-\[\]:]+:(\d{1,5})$")
# a node lost under a step (worker or node died) is retried this many times by default
DEFAULT_LOST_NODE_RETRIES = 2


@dataclass(frozen=True, slots=True)
class RayProvisioningConfiguration:
    """The settings of a Ray target, checked when made.

    ``resources`` is what each of its steps asks Ray for (``num_cpus``, ``num_gpus``,
    ``memory`` in bytes, custom ``resources``, ``label_selector`` for node labels).
    """

    address: str
    max_nodes: int
    lost_node_retries: int
    resources: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    shared_folders: tuple[str, ...] = ()
    kind = RAY_KIND
    runs_on = "ray"

    def to_config(self) -> dict[str, Any]:
        """What the catalog keeps of it (JSON)."""
        return {
            "ray_address": self.address,
            "max_nodes": self.max_nodes,
            "lost_node_retries": self.lost_node_retries,
            "resources": dict(self.resources),
            "description": self.description,
            "shared_folders": list(self.shared_folders),
        }


def ray_configuration(
    address: str,
    *,
    max_nodes: int = 4,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    memory: int | None = None,
    resources: Mapping[str, float] | None = None,
    node_labels: Mapping[str, str] | None = None,
    lost_node_retries: int = DEFAULT_LOST_NODE_RETRIES,
    description: str | None = None,
    shared_folders: Sequence[str] = (),
) -> RayProvisioningConfiguration:
    """``RayCompute.provisioning_configuration(...)``: a Ray target's settings.

    Args:
        address: ``ray://host:port``, ``host:port`` (a GCS address) or ``local``.
        max_nodes: how many of its steps run at once.
        num_cpus, num_gpus, memory: what each step asks for (memory in bytes).
        resources: custom Ray resources each step asks for.
        node_labels: node labels a step's node must have (Ray's ``label_selector``).
        lost_node_retries: how often a step whose worker or node was lost is run again.
        shared_folders: absolute folders every node sees at the same path (a network
            share, or one disk); a local-folder datastore under one is reachable
            from all nodes.

    Returns:
        The configuration for ``ComputeTarget.create``.

    Raises:
        ComputeTargetTypeError: a setting has the wrong type.
        ComputeConfigurationError: the address has no known shape, a count is
            negative, or a shared folder is not absolute; every problem is listed.
    """
    problems = [why] if (why := check_ray_address(address)) else []
    asked = {"num_cpus": num_cpus, "num_gpus": num_gpus, "memory": memory}
    for name, value in asked.items():
        problems += _number_problem(name, value)
    for key, amount in (resources or {}).items():
        problems += _number_problem(f"resources[{key!r}]", amount)
    problems += _count_problem("max_nodes", max_nodes, least=1)
    problems += _count_problem("lost_node_retries", lost_node_retries, least=0)
    for label, wanted_value in (node_labels or {}).items():
        if not isinstance(label, str) or not isinstance(wanted_value, str):
            problems.append(
                f"node_labels must map str to str, not {label!r}: {wanted_value!r}"
            )
    problems += [
        f"shared_folders must be absolute paths, not {folder!r}"
        for folder in shared_folders
        if not isinstance(folder, str) or not os.path.isabs(folder)
    ]
    if problems:
        raise ComputeConfigurationError(
            "Invalid Ray configuration: " + "; ".join(problems) + "."
        )
    wanted: dict[str, Any] = {k: v for k, v in asked.items() if v is not None}
    if resources:
        wanted["resources"] = {k: float(v) for k, v in resources.items()}
    if node_labels:
        wanted["label_selector"] = dict(node_labels)
    shared = tuple(os.path.normpath(folder) for folder in shared_folders)
    return RayProvisioningConfiguration(
        address, max_nodes, lost_node_retries, wanted, description, shared
    )


def check_ray_address(address: object) -> str:
    """Why ``address`` is not a Ray address, or ``""`` if it is one.

    Raises:
        ComputeTargetTypeError: ``address`` is not a str.
    """
    if not isinstance(address, str):
        raise ComputeTargetTypeError(
            f"a Ray address must be a str, not {type(address).__name__}"
        )
    if address == "local":
        return ""
    match = _HOST_PORT.match(address)
    if match is None or not 0 < int(match.group(1)) < 65536:
        return (
            f"the Ray address {address!r} is not 'ray://HOST:PORT', a GCS 'HOST:PORT' "
            "or 'local' (a Ray of the driver's own, for development)"
        )
    return ""


def _number_problem(name: str, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int | float):
        return [f"{name} must be a number, not {type(value).__name__} ({value!r})"]
    if value < 0 or not math.isfinite(value):
        return [f"{name} must be 0 or more, not {value}"]
    return []


def _count_problem(name: str, value: object, *, least: int) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{name} must be an int, not {type(value).__name__} ({value!r})"]
    if value < least:
        return [f"{name} must be {least} or more, not {value}"]
    return []


class RayCompute(ComputeTarget):
    """A Ray cluster: a step that names it runs there as a Ray task."""

    _kind = RAY_KIND
    provisioning_configuration = staticmethod(ray_configuration)

    @property
    def ray_address(self) -> str:
        """``ray://host:port``, ``host:port`` or ``local``."""
        return str(self._config["ray_address"])

    @property
    def lost_node_retries(self) -> int:
        """How often a step whose worker or node was lost is run again."""
        return int(self._config.get("lost_node_retries", DEFAULT_LOST_NODE_RETRIES))

    @property
    def resources(self) -> dict[str, Any]:
        """What each step asks Ray for (``num_cpus``, ``memory``, ...)."""
        return dict(self._config.get("resources") or {})

    @property
    def shared_folders(self) -> list[str]:
        """Folders every node of the cluster sees at the same path."""
        return list(self._config.get("shared_folders") or [])


register_kind(RayCompute)
