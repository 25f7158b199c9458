"""The driver's half of a step that its step runner runs on another node.

For a step on a Ray target that reads or writes a datastore not on the driver's disk
(blob, ADLS, S3), the driver does not bind inputs or run anything itself: it resolves
each input to its files (and checks them, as binding does), leases and stages the
outputs, publishes the code snapshot by its content hash on a datastore the step uses,
and hands the step runner a ``NodeSpec`` (``execution.step_runner.run_on_node``). What
the node staged comes back as ``StagedOnNode``; ``take_result`` marks the outputs so
the one-transaction commit publishes them from their staging prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.catalog.compute_store import ComputeStore
from dataferry.data.compute_ray import RAY_KIND
from dataferry.data.mount import mount_fallback
from dataferry.errors import ComputeConfigurationError, StepSpecError
from dataferry.execution.node_spec import (
    NodeFile,
    NodeInput,
    NodeOutput,
    NodeSpec,
    WorkspaceIdentity,
    store_ref,
)
from dataferry.execution.run_listing import run_type_of
from dataferry.execution.shared_snapshots import local_snapshot, publish_snapshot

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from dataferry.data.workspace import Workspace
    from dataferry.execution.commit import StagedOutput
    from dataferry.execution.materialise import BoundInput
    from dataferry.execution.node_spec import NodeResult
    from dataferry.execution.preparation import StepJob
    from dataferry.storage.location import StorageLocation


def on_ray_target(workspace: Workspace, target: str | None) -> bool:
    """Whether ``target`` names a Ray compute target of the workspace."""
    if not target or target == "local":
        return False
    return any(
        r.name == target and r.kind == RAY_KIND
        for r in ComputeStore(workspace.catalog).list()
    )


def uses_remote_store(
    inputs: Iterable[BoundInput], staged: Iterable[StagedOutput]
) -> bool:
    """Whether a resolved input file or an output is on a datastore that is not a
    folder of this machine: then the step runs through its step runner."""
    locations = [s.location for s in staged]
    for bound in inputs:
        locations.extend(f.location for f in bound.files or ())
    return any(not _on_this_machine(loc) for loc in locations)


def node_spec(
    job: StepJob, inputs: Iterable[BoundInput], staged: Iterable[StagedOutput]
) -> NodeSpec:
    """The spec of the step ``job`` for its step runner, its snapshot published.

    Raises:
        ComputeConfigurationError: an output takes its files from a ``source``
            folder of the step (a folder on the driver's machine).
        StepSpecError: an input file is not on a registered datastore (a URL).
        StorageError: the snapshot could not be stored on the datastore.
    """
    node, outputs = job.node, list(staged)
    refused = [s.name for s in outputs if s.spec.source]
    if refused:
        raise ComputeConfigurationError(
            f"step '{node.name}' runs on Ray target '{node.compute_target}' through "
            f"its step runner, and output(s) {refused} take their files from a "
            "source folder of the step, which the driver cannot commit from another "
            "node. Write these outputs to their own folder (no source), or run the "
            "step on a local target; nothing was run."
        )
    given = tuple(_node_input(node.name, b) for b in inputs)
    written = tuple(NodeOutput(s.name, s.location.name, s.path) for s in outputs)
    names = {f.datastore for i in given for f in i.files} | {
        o.datastore for o in written
    }
    snapshot_store = _snapshot_store(job.workspace, written, given)
    publish_snapshot(
        _location(job.workspace, snapshot_store),
        local_snapshot(job.workspace, node.snapshot, node.name),
        node.snapshot,
    )
    names.add(snapshot_store)
    run = job.run
    return NodeSpec(
        run_id=run.id,
        step_run_id=job.record.id,
        experiment=run.experiment,
        workspace=_identity(job.workspace),
        node=node,
        parameters=dict(run.parameters),
        snapshot=node.snapshot,
        snapshot_store=snapshot_store,
        stores={name: store_ref(job.workspace, name) for name in sorted(names)},
        inputs=given,
        outputs=written,
        run_type=run_type_of(run.options),
        run_parent_id=run.options.get("parent_run_id"),
        mount_fallback=mount_fallback(job.workspace),
    )


def take_result(staged: Iterable[StagedOutput], result: NodeResult) -> None:
    """Mark each output with the files its node staged, for the commit.

    Raises:
        StepSpecError: the node staged an output the driver does not know, or left
            one out (the commit would be half).
    """
    by_name = {s.name: s for s in staged}
    got = {s.name: s for s in result.staged}
    if set(got) != set(by_name):
        raise StepSpecError(
            f"the step runner staged outputs {sorted(got)}, and the step has "
            f"{sorted(by_name)}; nothing was committed. Run the step again."
        )
    for name, done in got.items():
        by_name[name].on_node = dict(done.files)


def _node_input(step: str, bound: BoundInput) -> NodeInput:
    if bound.mode == "direct":
        return NodeInput(bound.name, bound.style, "direct", value=bound.value)
    files = []
    for f in bound.files or ():
        if not f.location.name:
            raise StepSpecError(
                f"step '{step}': input '{bound.name}' has file {f.full}, which is on "
                "no registered datastore (a URL), so a step runner on another node "
                "cannot open it. Register its store as a datastore, or run the step "
                "on a local target."
            )
        files.append(NodeFile(f.location.name, f.full, f.display))
    return NodeInput(
        bound.name, bound.style, bound.mode, tuple(files), one_file=bound.one_file
    )


def _snapshot_store(
    workspace: Workspace, outputs: Iterable[NodeOutput], inputs: Iterable[NodeInput]
) -> str:
    """A datastore the step uses that is not a folder of this machine: the node
    reaches it, so it can fetch the snapshot from there."""
    named = [o.datastore for o in outputs]
    named += [f.datastore for i in inputs for f in i.files]
    for name in named:
        if not _on_this_machine(_location(workspace, name)):
            return name
    raise StepSpecError(
        "the step uses no datastore off this machine to carry its code snapshot; "
        "give it an input or output on a blob, ADLS or S3 datastore."
    )


def _location(workspace: Workspace, name: str) -> StorageLocation:
    from dataferry.data.datastore import Datastore

    return Datastore.get(workspace, name).location


def _on_this_machine(location: StorageLocation) -> bool:
    return location.local_path(location.full_path("")) is not None


def _identity(workspace: Workspace) -> WorkspaceIdentity:
    facts: Mapping[str, str | None] = {
        "subscription_id": getattr(workspace, "subscription_id", None),
        "resource_group": getattr(workspace, "resource_group", None),
    }
    return WorkspaceIdentity(workspace.name, workspace.path, **facts)
