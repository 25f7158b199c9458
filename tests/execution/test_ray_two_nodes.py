"""Steps on a real two-node Ray cluster: a head here and a worker node in a network
namespace of the test's own (``servers.ray_nodes``; root and ``ip`` needed)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import run_pipeline, step, write_script

from dataferry import (
    ComputeTarget,
    Pipeline,
    PipelineData,
    PythonScriptStep,
    RunConfiguration,
)
from dataferry.data.compute_ray import RayCompute

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.ray_nodes import TwoNodes

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

WHERE = """
import os, socket, sys
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect((sys.argv[1], 1))
with open(os.path.join(sys.argv[2], "where.txt"), "w") as fh:
    fh.write(probe.getsockname()[0])
"""

# the step's own address on the route to the head: which node it ran on
PRODUCE = """
import os, socket, sys
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect((sys.argv[1], 1))
os.makedirs(sys.argv[2], exist_ok=True)
with open(os.path.join(sys.argv[2], "n.txt"), "w") as fh:
    fh.write(f"{probe.getsockname()[0]} 21")
"""
CONSUME = """
import os, socket, sys
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect((sys.argv[1], 1))
where, n = open(os.path.join(sys.argv[2], "n.txt")).read().split()
with open(os.path.join(sys.argv[3], "out.txt"), "w") as fh:
    fh.write(f"{where} -> {probe.getsockname()[0]}: {int(n) * 2}")
"""


@pytest.fixture(scope="module")
def nodes() -> Iterator[TwoNodes]:
    from servers.ray_cluster import RayUnavailable
    from servers.ray_nodes import NamespaceUnavailable, two_node_cluster

    try:
        with two_node_cluster(worker_resources={"scratch": 1}) as cluster:
            yield cluster
    except NamespaceUnavailable as exc:
        pytest.skip(f"no two-node Ray cluster here: {exc}")
    except RayUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = write_script(tmp_path / "code", "produce.py", PRODUCE)
    write_script(folder, "consume.py", CONSUME)
    return folder


def pinned(workspace: Workspace, nodes: TwoNodes, shared: list[str]) -> None:
    """Targets ``onhead`` and ``onworker``: the same cluster, one node each."""
    for name, label in (("onhead", "head"), ("onworker", "worker")):
        config = RayCompute.provisioning_configuration(
            nodes.address,
            num_cpus=1,
            node_labels={"node": label},
            shared_folders=shared,
            lost_node_retries=0,
        )
        ComputeTarget.create(workspace, name, config)


def across(code: Path, nodes: TwoNodes) -> list[PythonScriptStep]:
    middle, final = PipelineData("middle"), PipelineData("final")
    return [
        PythonScriptStep(
            "produce.py",
            name="produce",
            source_directory=str(code),
            arguments=[nodes.head_ip, middle],
            outputs=[middle],
            compute_target="onworker",
        ),
        PythonScriptStep(
            "consume.py",
            name="consume",
            source_directory=str(code),
            arguments=[nodes.head_ip, middle, final],
            inputs=[middle],
            outputs=[final],
            compute_target="onhead",
        ),
    ]


def test_steps_pinned_to_each_node_pass_data_through_a_shared_folder(
    workspace: Workspace, nodes: TwoNodes, code: Path, store_root: Path
) -> None:
    pinned(workspace, nodes, [str(store_root)])

    run = run_pipeline(Pipeline(workspace, across(code, nodes)))

    assert run.get_status() == "Finished", run.get_details()
    consume = step(run, "consume")
    final = store_root / consume.get_output_data("final").path_on_datastore
    assert (final / "out.txt").read_text() == (
        f"{nodes.worker_ip} -> {nodes.head_ip}: 42"
    )


def test_a_local_folder_outside_the_shared_folders_is_refused_before_any_step(
    workspace: Workspace, nodes: TwoNodes, code: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pinned(workspace, nodes, [str(elsewhere)])

    run = run_pipeline(Pipeline(workspace, across(code, nodes)))

    assert run.get_status() == "Failed"
    error = run.get_details()["error"]
    assert error == (
        f"driver failed: compute target 'onhead' is a Ray cluster of 2 nodes at "
        f"{nodes.address}, and a local-folder datastore is only on the driver's "
        "machine: step 'consume' uses 'workspaceblobstore'. Use a datastore every "
        "node reaches (Azure Blob, ADLS, S3, or a local folder inside one of the "
        "target's shared_folders) for these steps' data, or run them on a local "
        "target; nothing was run."
    )
    assert all(s.get_status() != "Finished" for s in run.get_steps())
    assert not os.listdir(elsewhere)


def asking_in(
    workspace: Workspace, code: Path, nodes: TwoNodes, ask: dict[str, object]
) -> Pipeline:
    """One step on the unpinned target ``anynode`` asking for ``ask`` itself."""
    write_script(code, "where.py", WHERE)
    out = PipelineData("where")
    rc = RunConfiguration()
    rc.step_resources = ask
    work = PythonScriptStep(
        "where.py",
        name="where",
        source_directory=str(code),
        arguments=[nodes.head_ip, out],
        outputs=[out],
        runconfig=rc,
        compute_target="anynode",
        allow_reuse=False,
    )
    return Pipeline(workspace, [work])


@pytest.mark.parametrize(
    "ask",
    [{"resources": {"scratch": 1}}, {"resources": {"scratch": 0.5}, "num_cpus": 1}],
)
def test_a_step_asking_for_a_resource_only_the_worker_has_runs_there(
    workspace: Workspace,
    nodes: TwoNodes,
    code: Path,
    store_root: Path,
    ask: dict[str, object],
) -> None:
    config = RayCompute.provisioning_configuration(
        nodes.address, num_cpus=1, shared_folders=[str(store_root)]
    )
    ComputeTarget.create(workspace, "anynode", config)

    run = run_pipeline(asking_in(workspace, code, nodes, ask))

    assert run.get_status() == "Finished", run.get_details()
    out = store_root / step(run, "where").get_output_data("where").path_on_datastore
    assert (out / "where.txt").read_text() == nodes.worker_ip


def test_a_step_asking_for_a_resource_no_node_has_fails_naming_it(
    workspace: Workspace, nodes: TwoNodes, code: Path, store_root: Path
) -> None:
    config = RayCompute.provisioning_configuration(
        nodes.address, num_cpus=1, shared_folders=[str(store_root)]
    )
    ComputeTarget.create(workspace, "anynode", config)

    run = run_pipeline(asking_in(workspace, code, nodes, {"resources": {"scratch": 2}}))

    assert run.get_status() == "Failed"
    details = step(run, "where").get_details()
    assert details["error_type"] == "ComputeNodeUnavailableError"
    assert details["error"] == (
        f"step 'where' on the Ray cluster at {nodes.address}: no live node of the "
        f"Ray cluster has CPU=1, scratch=2 (live nodes: {nodes.head_ip} [node=head]; "
        f"{nodes.worker_ip} [node=worker]). The node it needs is gone or never "
        "joined: start a node with those labels and resources, or change the step's "
        "compute target, then rerun the run from this step."
    )
