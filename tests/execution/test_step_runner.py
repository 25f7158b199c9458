"""The step runner on its node (``execution.step_runner``), called in this process
with real datastores: a blob container on the session's Azurite, the snapshot fetched
from it by hash into a node folder of its own, nothing read from the workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from execution.blob_kit import blobs, put, register_blob
from pipeline.kit import run_pipeline, write_script

from dataferry import Dataset, OutputFileDatasetConfig, Pipeline, PythonScriptStep
from dataferry.catalog.run_store import RunStore
from dataferry.errors import FuseUnavailableError, StepSpecError
from dataferry.execution.node_spec import (
    NodeFile,
    NodeInput,
    NodeOutput,
    NodeSpec,
    WorkspaceIdentity,
    store_ref,
)
from dataferry.execution.plan_model import plan_of
from dataferry.execution.run_layout import stdout_path
from dataferry.execution.shared_snapshots import publish_snapshot
from dataferry.execution.step_runner import run_on_node

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Datastore, Workspace
    from dataferry.execution.plan_model import PlanNode

pytestmark = [pytest.mark.server, pytest.mark.slow]

SCRIPT = """
import os, sys
dl, mnt, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
names = sorted(os.listdir(dl))
text = "".join(open(os.path.join(mnt, n)).read() for n in sorted(os.listdir(mnt)))
try:
    open(os.path.join(mnt, "new.txt"), "w")
    mode = "writable"
except OSError:
    mode = "read-only"
open(os.path.join(out, "seen.txt"), "w").write(f"{names} {text} {mode}")
sys.exit(0 if text else 3)
"""


@pytest.fixture
def blob(workspace: Workspace, azurite: Azurite, blob_container: str) -> Datastore:
    store = register_blob(workspace, azurite, blob_container)
    put(store, {"raw/a.txt": "A", "raw/b.txt": "B"})
    return store


@pytest.fixture
def node(workspace: Workspace, blob: Datastore, tmp_path: Path) -> PlanNode:
    """The plan node of a step that ran locally once, its snapshot put on ``blob``."""
    code = write_script(tmp_path / "code", "step.py", SCRIPT)
    raw = Dataset.File.from_files((blob, "raw"))
    out = OutputFileDatasetConfig("out", destination=(blob, "out/{run-id}"))
    dl, mnt = raw.as_named_input("dl").as_download(), raw.as_named_input("mnt")
    args = [dl, mnt.as_mount(), out]
    step = PythonScriptStep("step.py", source_directory=str(code), arguments=args)
    run = run_pipeline(Pipeline(workspace, [step]))
    assert run.get_status() == "Finished"
    (planned,) = plan_of(RunStore(workspace.catalog).get_run(run.id)).nodes
    publish_snapshot(blob.location, workspace.path / planned.snapshot, planned.snapshot)
    return planned


def spec_for(
    workspace: Workspace, blob: Datastore, node: PlanNode, root: Path, step_run: str
) -> NodeSpec:
    files = tuple(
        NodeFile("blob", blob.location.full_path(f"raw/{n}"), f"/{n}")
        for n in ("a.txt", "b.txt")
    )
    return NodeSpec(
        run_id="run-1",
        step_run_id=step_run,
        experiment="tests",
        workspace=WorkspaceIdentity(workspace.name, workspace.path),
        node=node,
        parameters={},
        snapshot=node.snapshot,
        snapshot_store="blob",
        stores={"blob": store_ref(workspace, "blob")},
        inputs=(
            NodeInput("dl", "dataset", "download", files),
            NodeInput("mnt", "dataset", "mount", files),
        ),
        outputs=(NodeOutput("out", "blob", f"out/{step_run}"),),
        node_root=str(root),
    )


def test_a_step_runs_on_its_node_and_stages_its_output_on_the_datastore(
    workspace: Workspace, blob: Datastore, node: PlanNode, tmp_path: Path
) -> None:
    root = tmp_path / "node"
    result = run_on_node(spec_for(workspace, blob, node, root, "sr-1"))
    assert result.exit_code == 0
    assert result.snapshot_fetched is True
    (staged,) = result.staged
    assert (staged.name, staged.datastore, staged.path) == ("out", "blob", "out/sr-1")
    assert staged.staging_prefix == ".dataferry-staging/sr-1/out"
    assert dict(staged.files) == {"seen.txt": len("['a.txt', 'b.txt'] AB read-only")}
    on_store = blobs(blob, staged.staging_prefix)
    assert on_store == {"seen.txt": "['a.txt', 'b.txt'] AB read-only"}
    assert result.node_folder == str(root / "steps" / "sr-1")
    assert str(workspace.path) not in result.node_folder


def test_a_second_step_on_the_node_reuses_the_snapshot_and_a_retry_starts_clean(
    workspace: Workspace, blob: Datastore, node: PlanNode, tmp_path: Path
) -> None:
    root = tmp_path / "node"
    run_on_node(spec_for(workspace, blob, node, root, "sr-1"))
    leftover = root / "steps" / "sr-2" / "left-by-a-lost-attempt"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("x")
    again = run_on_node(spec_for(workspace, blob, node, root, "sr-2"))
    assert again.snapshot_fetched is False
    assert again.exit_code == 0
    assert not leftover.exists()


def test_a_failed_step_leaves_nothing_staged(
    workspace: Workspace, blob: Datastore, node: PlanNode, tmp_path: Path
) -> None:
    spec = spec_for(workspace, blob, node, tmp_path / "node", "sr-3")
    one = (spec.inputs[0], NodeInput("mnt", "dataset", "mount", ()))
    result = run_on_node(NodeSpec(**{**spec.__dict__, "inputs": one}))
    assert result.exit_code == 3  # an empty mount: the script fails
    assert result.staged == ()
    assert blobs(blob, ".dataferry-staging/sr-3") == {}


def test_a_spec_without_the_snapshot_or_a_datastore_is_refused(
    workspace: Workspace, blob: Datastore, node: PlanNode, tmp_path: Path
) -> None:
    spec = spec_for(workspace, blob, node, tmp_path / "node", "sr-4")
    no_store = NodeSpec(**{**spec.__dict__, "stores": {}})
    with pytest.raises(StepSpecError, match="no registration for datastore 'blob'"):
        run_on_node(no_store)
    gone = NodeSpec(**{**spec.__dict__, "snapshot": "snapshots/0123abcd"})
    with pytest.raises(StepSpecError, match="code snapshot 0123abcd is not on"):
        run_on_node(gone)


def test_a_node_places_a_mount_without_fuse_as_the_workspace_says(
    workspace: Workspace,
    blob: Datastore,
    node: PlanNode,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same placing as a local step's: a remote mount without FUSE is a
    read-only downloaded copy the log tells of, or, with ``mount_fallback`` set to
    ``error``, a typed error before anything runs or is staged."""
    monkeypatch.setenv("DATAFERRY_FUSE", "off")
    spec = spec_for(workspace, blob, node, tmp_path / "node", "sr-5")
    result = run_on_node(spec)
    assert result.exit_code == 0
    # (a sealed copy: read-only, though not to root, as which the tests may run)
    seen = blobs(blob, ".dataferry-staging/sr-5/out")["seen.txt"]
    assert seen.startswith("['a.txt', 'b.txt'] AB ")
    assert result.notes == (
        "input 'mnt': its datastore is not on this machine and FUSE is turned off by "
        "DATAFERRY_FUSE=off, so the mount is a read-only downloaded copy",
    )
    refusing = NodeSpec(
        **{**spec.__dict__, "step_run_id": "sr-6", "mount_fallback": "error"}
    )
    with pytest.raises(
        FuseUnavailableError,
        match=r"input 'mnt' is to be mounted from a datastore that is not on this "
        r"machine, but FUSE is turned off .*mount_fallback is 'error'",
    ):
        run_on_node(refusing)
    assert blobs(blob, ".dataferry-staging/sr-6") == {}
    assert not stdout_path(tmp_path / "node" / "steps" / "sr-6").exists()  # no run
