"""Compute targets: workspace records of where steps run (``local``) and how many at once.

``ComputeTarget(ws, name)`` / ``AmlCompute(ws, name)`` read the record (the class of
its kind is returned, whichever was called), ``ComputeTarget.create`` records one and
returns at once, ``wait_for_completion`` prints what the SDK prints when provisioning
succeeded (a local target is ready when recorded). A step whose ``compute_target`` names
a target runs where the target says (``local``: a process on this machine) and at most
``max_nodes`` steps on it run at once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataferry.data.compute_config import (
    AmlComputeProvisioningConfiguration,
    ScaleSettings,
    provisioning_configuration,
)
from dataferry.errors import ComputeConfigurationError, ComputeTargetTypeError

if TYPE_CHECKING:
    from dataferry.catalog.compute_store import ComputeStore
    from dataferry.catalog.records import ComputeTargetRecord
    from dataferry.data.compute_ray import RayProvisioningConfiguration
    from dataferry.data.workspace import Workspace

RESERVED_NAMES = ("amlcompute", "local", "containerinstance")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,23}$")
_SUCCEEDED = 'Provisioning operation finished, operation "Succeeded"'


def _store(workspace: Workspace) -> ComputeStore:
    from dataferry.catalog.compute_store import ComputeStore

    return ComputeStore(workspace.catalog)


class ComputeTarget:
    """A compute target of a workspace (the SDK's base class).

    ``ComputeTarget(workspace, name)`` returns the recorded target as the class of its
    kind (``AmlCompute``).

    Raises:
        ComputeTargetNotFoundError: no target of that name (a ``ComputeTargetException``,
            as the SDK raises; the usual notebook catches it and creates the target).
    """

    _kind = "ComputeTarget"

    def __new__(cls, workspace: Workspace, name: str) -> ComputeTarget:
        record = _store(workspace).get(name)
        target = object.__new__(_class_of(record.kind))
        target._load(workspace, record)
        return target

    def __init__(self, workspace: Workspace, name: str) -> None:
        # __new__ did the work; __init__ only accepts the same arguments
        pass

    def _load(self, workspace: Workspace, record: ComputeTargetRecord) -> None:
        self.workspace = workspace
        self.name = record.name
        self.type = record.kind
        self.runs_on = record.runs_on
        self.max_nodes = record.max_nodes
        self.provisioning_state = record.state
        self.provisioning_errors: tuple[Any, ...] | None = None
        self.location = workspace.location
        self.tags = dict(record.config.get("tags") or {})
        self.description = record.config.get("description")
        self.created_at = record.created_at
        self._config = dict(record.config)

    # -- making, listing, removing ----------------------------------------------------

    @staticmethod
    def create(
        workspace: Workspace,
        name: str,
        provisioning_configuration: AmlComputeProvisioningConfiguration
        | RayProvisioningConfiguration,
    ) -> ComputeTarget:
        """Record a target; it is ready at once (``Succeeded``).

        ``AmlCompute.provisioning_configuration(...)`` makes one whose steps run on this
        machine; ``RayCompute.provisioning_configuration(address=...)`` one whose steps
        run as Ray tasks (``dataferry.data.compute_ray``).

        Creating a target again with the same settings returns it.

        Raises:
            ComputeConfigurationError: ``name`` is reserved (``local``, ``amlcompute``,
                ``containerinstance``) or not 2-24 letters, digits and ``-`` starting
                with a letter.
            ComputeTargetTypeError: the configuration is not one
                ``AmlCompute.provisioning_configuration`` or
                ``RayCompute.provisioning_configuration`` made.
            ComputeTargetExistsError: a target of that name has other settings.
        """
        check_target_name(name)
        from dataferry.data.compute_ray import RAY_KIND, RayProvisioningConfiguration

        if not isinstance(
            provisioning_configuration,
            AmlComputeProvisioningConfiguration | RayProvisioningConfiguration,
        ):
            raise ComputeTargetTypeError(
                "ComputeTarget.create needs a configuration from "
                "AmlCompute.provisioning_configuration(...) or "
                "RayCompute.provisioning_configuration(...), not "
                f"{type(provisioning_configuration).__name__}; other compute kinds "
                "(AKS, Databricks, compute instances) are Azure-only."
            )
        from dataferry.catalog.records import ComputeTargetRecord

        config = provisioning_configuration.to_config()
        ray = isinstance(provisioning_configuration, RayProvisioningConfiguration)
        record = ComputeTargetRecord(
            name=name,
            kind=RAY_KIND if ray else AmlCompute._kind,
            runs_on="ray" if ray else "local",
            max_nodes=max(1, int(config["max_nodes"])),
            config=config,
        )
        saved = _store(workspace).add(record)
        target = object.__new__(_class_of(saved.kind))
        target._load(workspace, saved)
        return target

    @staticmethod
    def list(workspace: Workspace) -> list[ComputeTarget]:
        """Every target of ``workspace``, by name."""
        targets = []
        for record in _store(workspace).list():
            target = object.__new__(_class_of(record.kind))
            target._load(workspace, record)
            targets.append(target)
        return targets

    def delete(self) -> None:
        """Remove the target's record (runs that used it keep its name).

        Raises:
            ComputeTargetNotFoundError: it was removed already.
        """
        _store(self.workspace).remove(self.name)
        self.provisioning_state = "Deleting"

    def detach(self) -> None:
        """As :meth:`delete`: a local target has nothing to detach from."""
        self.delete()

    # -- state ------------------------------------------------------------------------

    def refresh_state(self) -> None:
        """Read the record again.

        Raises:
            ComputeTargetNotFoundError: the target was deleted meanwhile.
        """
        self._load(self.workspace, _store(self.workspace).get(self.name))

    def get_status(self) -> Any:
        """The provisioning state (``"Succeeded"``), read again."""
        self.refresh_state()
        return self.provisioning_state

    def wait_for_completion(
        self, show_output: bool = False, is_delete_operation: bool = False
    ) -> None:
        """Print what the SDK prints once provisioning (or deletion) succeeded.

        A local target is ready (or gone) when its record is, so this returns at once.
        """
        if show_output:
            print(self.provisioning_state, end="")
        print(_SUCCEEDED)

    def serialize(self) -> dict[str, Any]:
        """The target as a JSON-able dict (name, type, state, where it runs, settings)."""
        return {
            "name": self.name,
            "type": self.type,
            "location": self.location,
            "provisioningState": self.provisioning_state,
            "runsOn": self.runs_on,
            "maxNodes": self.max_nodes,
            "properties": dict(self._config),
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(workspace={self.workspace.name!r}, "
            f"name={self.name!r}, type={self.type!r}, "
            f"provisioning_state={self.provisioning_state!r})"
        )


@dataclass(frozen=True, slots=True)
class AmlComputeStatus:
    """``AmlCompute.get_status()``: a local cluster's nodes are always there and idle."""

    current_node_count: int
    target_node_count: int
    allocation_state: str
    provisioning_state: str
    scale_settings: ScaleSettings
    vm_size: str
    vm_priority: str
    creation_time: str | None
    errors: tuple[Any, ...] | None = None

    @property
    def node_state_counts(self) -> dict[str, int]:
        """Nodes by state: the minimum count, idle."""
        return {
            "preparingNodeCount": 0,
            "runningNodeCount": 0,
            "idleNodeCount": self.current_node_count,
            "unusableNodeCount": 0,
            "leavingNodeCount": 0,
            "preemptedNodeCount": 0,
        }

    def serialize(self) -> dict[str, Any]:
        """The SDK's camelCase dict (the keys notebooks print)."""
        return {
            "currentNodeCount": self.current_node_count,
            "targetNodeCount": self.target_node_count,
            "nodeStateCounts": self.node_state_counts,
            "allocationState": self.allocation_state,
            "allocationStateTransitionTime": self.creation_time,
            "errors": self.errors,
            "creationTime": self.creation_time,
            "modifiedTime": self.creation_time,
            "provisioningState": self.provisioning_state,
            "provisioningStateTransitionTime": None,
            "scaleSettings": self.scale_settings.serialize(),
            "vmPriority": self.vm_priority.capitalize(),
            "vmSize": self.vm_size,
        }


class AmlCompute(ComputeTarget):
    """A cluster: locally, up to ``max_nodes`` steps on it run at once on this machine."""

    _kind = "AmlCompute"
    provisioning_configuration = staticmethod(provisioning_configuration)

    @property
    def vm_size(self) -> str:
        """The VM size given (recorded; no effect locally)."""
        return str(self._config.get("vm_size", ""))

    @property
    def vm_priority(self) -> str:
        """``dedicated`` or ``lowpriority`` (recorded; no effect locally)."""
        return str(self._config.get("vm_priority", "dedicated"))

    @property
    def scale_settings(self) -> ScaleSettings:
        """Minimum and maximum node counts, idle time before scaling down."""
        return ScaleSettings(
            int(self._config.get("min_nodes", 0)),
            self.max_nodes,
            int(self._config.get("idle_seconds_before_scaledown", 0)),
        )

    def get_status(self) -> AmlComputeStatus:
        """The cluster's status, read again; ``.serialize()`` is the SDK's dict."""
        self.refresh_state()
        scale = self.scale_settings
        return AmlComputeStatus(
            current_node_count=scale.minimum_node_count,
            target_node_count=scale.minimum_node_count,
            allocation_state="Steady",
            provisioning_state=self.provisioning_state,
            scale_settings=scale,
            vm_size=self.vm_size,
            vm_priority=self.vm_priority,
            creation_time=self.created_at.isoformat() if self.created_at else None,
        )

    @staticmethod
    def supported_vmsizes(
        workspace: Workspace, location: str | None = None
    ) -> list[dict[str, Any]]:
        """The sizes a cluster can have here: one, this machine (``name`` ``local``,
        ``vCPUs``, ``gpus``, ``memoryGB``), in the SDK's keys. A ``location`` (an
        Azure region) is checked and changes nothing: every step runs on this machine.

        Raises:
            ComputeTargetTypeError: ``location`` is not a str.
        """
        if location is not None and not isinstance(location, str):
            raise ComputeTargetTypeError(
                f"AmlCompute.supported_vmsizes(): location must be a region name "
                f"(str) or None, not {type(location).__name__}"
            )
        return [local_vm_size()]

    def update(
        self,
        min_nodes: int | None = None,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = None,
    ) -> None:
        """Change the scale settings given (None keeps one); a new ``max_nodes``
        bounds how many steps on this cluster run at once from the next step on.

        Raises:
            ComputeConfigurationError: the counts are out of range (the checks of
                ``provisioning_configuration``).
            ComputeTargetTypeError: a setting has the wrong type.
        """
        scale = self.scale_settings
        checked = provisioning_configuration(
            vm_size=self.vm_size,
            vm_priority=self.vm_priority,
            min_nodes=scale.minimum_node_count if min_nodes is None else min_nodes,
            max_nodes=scale.maximum_node_count if max_nodes is None else max_nodes,
            idle_seconds_before_scaledown=(
                scale.idle_seconds_before_scaledown
                if idle_seconds_before_scaledown is None
                else idle_seconds_before_scaledown
            ),
        ).to_config()
        keys = ("min_nodes", "max_nodes", "idle_seconds_before_scaledown")
        config = {**self._config, **{k: checked[k] for k in keys}}
        bound = max(1, int(config["max_nodes"]))
        self._load(
            self.workspace,
            _store(self.workspace).update_scale(self.name, bound, config),
        )

    def list_nodes(self) -> list[dict[str, Any]]:
        """The cluster's nodes: none, as steps run as processes on this machine."""
        return []

    def wait_for_completion(  # type: ignore[override]  # the SDK's AmlCompute signature
        self,
        show_output: bool = False,
        min_node_count: int | None = None,
        timeout_in_minutes: int = 25,
        is_delete_operation: bool = False,
    ) -> None:
        """Print what the SDK prints once the cluster is provisioned, and return.

        The minimum node count is always there locally, so nothing is waited for.
        """
        super().wait_for_completion(show_output, is_delete_operation)
        if show_output and not is_delete_operation:
            print(self.provisioning_state)
            print("AmlCompute wait for completion finished\n")
            print("Minimum number of nodes requested have been provisioned")


class LocalTarget:
    """The machine the submitting process runs on (the SDK's ``LocalTarget()``)."""

    def __init__(self) -> None:
        self.name = "local"
        self.type = "local"
        self.runs_on = "local"
        self.max_nodes = os.cpu_count() or 1

    def __repr__(self) -> str:
        return "LocalTarget()"


_CLASSES: dict[str, type[ComputeTarget]] = {"AmlCompute": AmlCompute}


def register_kind(cls: type[ComputeTarget]) -> None:
    """Make ``ComputeTarget(ws, name)`` return ``cls`` for records of its kind."""
    _CLASSES[cls._kind] = cls


def _class_of(kind: str) -> type[ComputeTarget]:
    if kind not in _CLASSES:
        # the module of each further kind registers it when imported
        import dataferry.data.compute_ray  # noqa: F401
    return _CLASSES.get(kind, ComputeTarget)


def local_vm_size() -> dict[str, Any]:
    """This machine as a VM size: cores, memory (GB, one decimal), no GPU counted."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "name": "local",
        "vCPUs": os.cpu_count() or 1,
        "gpus": 0,
        "memoryGB": round(memory / 2**30, 1),
        "lowPriorityCapable": False,
        "premiumIO": False,
        "supportedComputeTypes": ["AmlCompute"],
    }


def check_target_name(name: object) -> str:
    """Return ``name`` if a new compute target may have it.

    Raises:
        ComputeTargetTypeError: ``name`` is not a str.
        ComputeConfigurationError: it is reserved or breaks the naming rule.
    """
    if not isinstance(name, str):
        raise ComputeTargetTypeError(
            f"a compute target name must be a str, not {type(name).__name__}"
        )
    if name.lower() in RESERVED_NAMES:
        raise ComputeConfigurationError(
            f"Please specify a different target name. {name} is a reserved name."
        )
    if not _NAME_RE.match(name):
        raise ComputeConfigurationError(
            f"invalid compute target name {name!r}: use 2-24 letters, digits or '-', "
            "starting with a letter."
        )
    return name
