"""Steps on a two-node Ray cluster through the step runner, with their data on Azurite
and no folder shared between the nodes (``servers.ray_nodes``; root and ``ip``).

The worker node reaches Azurite through a forwarder bound on the head's end of the
veth pair (``servers.forward``); the datastore is registered at that address, so the
driver and both nodes use the same one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from execution.blob_kit import blobs, put
from pipeline.kit import run_pipeline, step, write_script
from servers.azurite import ACCOUNT, KEY

from dataferry import (
    ComputeTarget,
    Dataset,
    Datastore,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
)
from dataferry.data.compute_ray import RayCompute

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.azurite import Azurite
    from servers.ray_nodes import TwoNodes

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

PRODUCE = """
import os, socket, sys
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect((sys.argv[1], 1))
dl, mnt, out = sys.argv[2:5]
text = "".join(open(os.path.join(dl, n)).read() for n in sorted(os.listdir(dl)))
text += "".join(open(os.path.join(mnt, n)).read() for n in sorted(os.listdir(mnt)))
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "n.txt"), "w").write(f"{probe.getsockname()[0]} {text}")
sys.exit(int(os.environ.get("FAIL_WITH", "0")))
"""
CONSUME = """
import os, socket, sys
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect((sys.argv[1], 1))
where, text = open(os.path.join(sys.argv[2], "n.txt")).read().split()
os.makedirs(sys.argv[3], exist_ok=True)
with open(os.path.join(sys.argv[3], "out.txt"), "w") as fh:
    fh.write(f"{where} -> {probe.getsockname()[0]}: {text}")
"""


@pytest.fixture(scope="module")
def nodes() -> Iterator[TwoNodes]:
    from servers.ray_cluster import RayUnavailable
    from servers.ray_nodes import NamespaceUnavailable, two_node_cluster

    try:
        with two_node_cluster() as cluster:
            yield cluster
    except NamespaceUnavailable as exc:
        pytest.skip(f"no two-node Ray cluster here: {exc}")
    except RayUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def blob(
    workspace: Workspace, azurite: Azurite, blob_container: str, nodes: TwoNodes
) -> Iterator[Datastore]:
    """A blob datastore both nodes reach (Azurite through the head's veth end), with
    ``raw/a.txt`` and ``raw/b.txt``; the targets ``onhead`` and ``onworker``."""
    from servers.forward import forwarding

    with forwarding(nodes.head_ip, azurite.port) as port:
        store = Datastore.register_azure_blob_container(
            workspace,
            "blob",
            blob_container,
            ACCOUNT,
            account_key=KEY,
            protocol="http",
            endpoint=f"{nodes.head_ip}:{port}",
            create_if_not_exists=True,
        )
        put(store, {"raw/a.txt": "A", "raw/b.txt": "B"})
        for name, label in (("onhead", "head"), ("onworker", "worker")):
            config = RayCompute.provisioning_configuration(
                nodes.address, num_cpus=1, node_labels={"node": label}
            )
            ComputeTarget.create(workspace, name, config)
        yield store


def pipeline(
    workspace: Workspace, blob: Datastore, nodes: TwoNodes, code: Path
) -> Pipeline:
    raw = Dataset.File.from_files((blob, "raw"))
    mid = OutputFileDatasetConfig("mid", destination=(blob, "mid/{run-id}"))
    final = OutputFileDatasetConfig("final", destination=(blob, "final/{run-id}"))
    dl = raw.as_named_input("dl").as_download()
    mnt = raw.as_named_input("mnt").as_mount()
    produce = PythonScriptStep(
        "produce.py",
        name="produce",
        source_directory=str(code),
        arguments=[nodes.head_ip, dl, mnt, mid],
        compute_target="onworker",
        allow_reuse=False,
    )
    consume = PythonScriptStep(
        "consume.py",
        name="consume",
        source_directory=str(code),
        arguments=[nodes.head_ip, mid.as_input(), final],
        compute_target="onhead",
        allow_reuse=False,
    )
    return Pipeline(workspace, [produce, consume])


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = write_script(tmp_path / "code", "produce.py", PRODUCE)
    write_script(folder, "consume.py", CONSUME)
    return folder


def snapshots_on(nodes: TwoNodes, node: str) -> list[str]:
    folder = nodes.temp_dir / node / "dataferry-node" / "snapshots"
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def test_a_worker_step_reads_blob_inputs_and_its_output_is_committed_for_the_head(
    workspace: Workspace, blob: Datastore, nodes: TwoNodes, code: Path
) -> None:
    run = run_pipeline(pipeline(workspace, blob, nodes, code))

    assert run.get_status() == "Finished", run.get_details()
    final = step(run, "consume").get_output_data("final").path_on_datastore
    written = {k: v for k, v in blobs(blob, final).items() if not k.startswith(".")}
    assert written == {"out.txt": f"{nodes.worker_ip} -> {nodes.head_ip}: ABAB"}
    assert blobs(blob, ".dataferry-staging") == {}
    # one code snapshot, fetched once on each node that ran a step
    assert len(snapshots_on(nodes, "worker")) == 1
    assert snapshots_on(nodes, "head") == snapshots_on(nodes, "worker")


def test_a_failed_worker_step_commits_nothing_and_leaves_nothing_staged(
    workspace: Workspace,
    blob: Datastore,
    nodes: TwoNodes,
    code: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_script(code, "produce.py", PRODUCE.replace('"FAIL_WITH", "0"', '"X", "3"'))

    run = run_pipeline(pipeline(workspace, blob, nodes, code))

    assert run.get_status() == "Failed"
    assert step(run, "produce").get_status() == "Failed"
    assert blobs(blob, "mid") == {}
    assert blobs(blob, ".dataferry-staging") == {}
