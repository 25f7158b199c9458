"""What a step runner needs to run one step on the machine where it runs.

Everything in a ``NodeSpec`` is plain data that pickles (a Ray task's argument, or a
call in the driver's own thread): the step's typed plan node, the run's parameters,
the files each input resolved to on the driver, where each output goes, the code
snapshot's content hash, and the registrations (``DatastoreSpec`` and the secret
values they need) of exactly the datastores the step touches. The node opens those
datastores itself; it never reads the catalog or the driver's workspace folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import StepSpecError
from dataferry.storage.secrets import SecretStore
from dataferry.storage.spec import open_location

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.data.workspace import Workspace
    from dataferry.execution.plan_model import PlanNode
    from dataferry.storage.location import StorageLocation
    from dataferry.storage.spec import DatastoreSpec


@dataclass(frozen=True)
class StoreRef:
    """A datastore as a node opens it: its registration and the secrets it needs."""

    spec: DatastoreSpec
    secrets: Mapping[str, str] = field(default_factory=dict)

    def open(self) -> StorageLocation:
        """The datastore's location on this node.

        Raises:
            SecretNotFoundError: a secret it names is not in ``secrets``.
            DatastoreError: its kind's package is not installed on this node.
        """
        return open_location(self.spec, _GivenSecrets(self.secrets))


def store_ref(workspace: Workspace, name: str) -> StoreRef:
    """The datastore ``name`` of ``workspace``, as a node opens it (on the driver).

    Raises:
        DatastoreNotFoundError: the workspace has no such datastore.
        SecretNotFoundError: a secret it needs is missing on the driver.
    """
    spec = workspace.catalog.get_datastore(name)
    return StoreRef(spec, spec.secrets(workspace.secrets))


class _GivenSecrets(SecretStore):
    """The secrets that came with the spec (a node has no secrets file)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        super().__init__(Path("/nonexistent"))
        self._values = dict(values)

    def get(self, datastore: str) -> dict[str, str]:
        return dict(self._values)


@dataclass(frozen=True)
class WorkspaceIdentity:
    """What a step's process is told about its workspace (``AZUREML_ARM_*``, the
    context file); ``path`` is the driver's folder, named, never opened on a node."""

    name: str
    path: Path
    subscription_id: str | None = None
    resource_group: str | None = None


@dataclass(frozen=True)
class NodeFile:
    """One input file: its datastore's name, full path there, and path as shown."""

    datastore: str
    full: str
    display: str


@dataclass(frozen=True)
class NodeInput:
    """An input as the driver resolved it: its files (none for ``direct``, whose
    ``value`` is the dataset id), and whether it names one file."""

    name: str
    style: str
    mode: str  # mount, download or direct
    files: tuple[NodeFile, ...] = ()
    one_file: bool = False
    value: str = ""


@dataclass(frozen=True)
class NodeOutput:
    """An output: its datastore and resolved destination path."""

    name: str
    datastore: str
    path: str


@dataclass(frozen=True)
class NodeSpec:
    """One step run, as the step runner gets it (see the module docstring).

    ``snapshot``: the content hash of the code snapshot, fetched from
    ``snapshot_store`` (``dataferry/snapshots/<hash>/``) unless the node has it;
    ``node_root``: the node's folder for snapshots and step folders (None: the
    ``DATAFERRY_NODE_ROOT`` variable, else a folder in the system's temp folder);
    ``mount_fallback``: the workspace's setting (``download`` or ``error``).
    """

    run_id: str
    step_run_id: str
    experiment: str
    workspace: WorkspaceIdentity
    node: PlanNode
    parameters: Mapping[str, Any]
    snapshot: str
    snapshot_store: str
    stores: Mapping[str, StoreRef]
    inputs: tuple[NodeInput, ...] = ()
    outputs: tuple[NodeOutput, ...] = ()
    run_type: str = "azureml.PipelineRun"
    run_parent_id: str | None = None
    node_root: str | None = None
    # the workspace's mount_fallback: a remote mount without FUSE downloads or fails
    mount_fallback: str = "download"
    # set by the executor: what the step's process also gets (a Ray cluster's address)
    env: Mapping[str, str] = field(default_factory=dict)

    def store(self, name: str) -> StoreRef:
        """The datastore ``name`` as this spec carries it.

        Raises:
            StepSpecError: the spec does not carry it (the driver built it wrongly).
        """
        try:
            return self.stores[name]
        except KeyError:
            raise StepSpecError(
                f"step run {self.step_run_id}: the step runner was given no "
                f"registration for datastore '{name}' (it has "
                f"{sorted(self.stores) or 'none'}); the spec must carry every "
                "datastore the step reads or writes. Submit the run again."
            ) from None


@dataclass(frozen=True)
class StagedOnNode:
    """An output the node wrote and handed to storage: where it is staged and which
    files it has (``{relative path: size}``; one file: ``{"": size}``)."""

    name: str
    datastore: str
    path: str
    staging_prefix: str
    files: Mapping[str, int]


@dataclass(frozen=True)
class NodeResult:
    """What the step runner hands back: small, whatever the step's data size.

    ``exit_code`` (negative: killed by that signal); ``staged`` outputs (only when
    the step succeeded); ``snapshot_fetched``: the node had to fetch the snapshot
    (False: its cache served it); ``node_folder``: the step's folder on the node;
    ``notes``: what binding and staging said (the step log's first lines)."""

    exit_code: int
    staged: tuple[StagedOnNode, ...]
    snapshot_fetched: bool
    node_folder: str
    notes: tuple[str, ...] = ()
