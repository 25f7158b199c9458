"""A worker node lost in the middle of a step, on a real two-node Ray cluster (a head
here, a worker in a network namespace of the test's own; root and ``ip`` needed).

The worker's raylet is killed by pid while the step runs there. Each test has its
own cluster: a killed node does not come back.
"""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import run_pipeline, step, write_script

from dataferry import ComputeTarget, Pipeline, PipelineData, PythonScriptStep
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import EventKind
from dataferry.data.compute_ray import RayCompute

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.ray_nodes import TwoNodes

    from dataferry import Workspace
    from dataferry.execution.pipeline_run import PipelineRun

pytestmark = [pytest.mark.server, pytest.mark.slow]

# the first attempt writes part of its output, says where it runs, and hangs; any
# later attempt writes the whole output at once
WORK = """
import os, socket, sys, time
out, flags, head = sys.argv[1], sys.argv[2], sys.argv[3]
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect((head, 1))
os.makedirs(out, exist_ok=True)
try:
    fd = os.open(os.path.join(flags, "first"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
except FileExistsError:
    with open(os.path.join(out, "done.txt"), "w") as fh:
        fh.write(probe.getsockname()[0])
    sys.exit(0)
with open(os.path.join(out, "partial.txt"), "w") as fh:
    fh.write("half")
os.write(fd, probe.getsockname()[0].encode())
os.close(fd)
time.sleep(300)
"""
WAIT_S = 120


@pytest.fixture
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


def target(
    workspace: Workspace, nodes: TwoNodes, shared: Path, retries: int, label: str
) -> None:
    config = RayCompute.provisioning_configuration(
        nodes.address,
        num_cpus=1,
        node_labels={"node": label},
        shared_folders=[str(shared)],
        lost_node_retries=retries,
    )
    ComputeTarget.create(workspace, "pinned", config)


def work_pipeline(workspace: Workspace, tmp_path: Path, nodes: TwoNodes) -> Pipeline:
    code = write_script(tmp_path / "code", "work.py", WORK)
    flags = tmp_path / "flags"
    flags.mkdir()
    out = PipelineData("out")
    work = PythonScriptStep(
        "work.py",
        name="work",
        source_directory=str(code),
        arguments=[out, str(flags), nodes.head_ip],
        outputs=[out],
        compute_target="pinned",
        allow_reuse=False,
    )
    return Pipeline(workspace, [work])


def kill_worker_when_started(run: PipelineRun, flags: Path, nodes: TwoNodes) -> None:
    """Wait until the first attempt runs on the worker node, then kill its raylet."""
    until = time.monotonic() + WAIT_S
    while not (flags / "first").exists() or not (flags / "first").read_text():
        assert time.monotonic() < until, run.get_details()
        if run.get_status() in ("Failed", "Canceled"):
            pytest.fail(str([s.get_details() for s in run.get_steps()]))
        time.sleep(0.1)
    assert (flags / "first").read_text() == nodes.worker_ip
    nodes.worker_raylet().kill()


def staging_left(store_root: Path) -> list[str]:
    staging = store_root / ".dataferry-staging"
    return sorted(os.listdir(staging)) if staging.exists() else []


def test_retries_exhausted_commit_nothing_and_a_rerun_completes(
    workspace: Workspace, nodes: TwoNodes, tmp_path: Path, store_root: Path
) -> None:
    target(workspace, nodes, store_root, retries=0, label="worker")
    run = work_pipeline(workspace, tmp_path, nodes).submit("tests")

    kill_worker_when_started(run, tmp_path / "flags", nodes)
    run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)

    assert run.get_status() == "Failed"
    work = step(run, "work")
    details = work.get_details()
    assert details["error_type"] == "ComputeNodeLostError"
    assert re.fullmatch(
        f"step 'work' on the Ray cluster at {re.escape(nodes.address)}: its Ray "
        r"worker or node was lost \(\w+: .*\); it was run 1 time\(s\), as the "
        "target's lost_node_retries=0 allows. Nothing of it was committed: rerun "
        "the run from step 'work' once the cluster has its nodes, or raise "
        "lost_node_retries.",
        details["error"],
    ), details["error"]
    assert not (store_root / "azureml" / work.id).exists()
    assert staging_left(store_root) == []

    # the worker is gone for good: the target is pointed at the head instead
    ComputeTarget(workspace, "pinned").delete()
    target(workspace, nodes, store_root, retries=0, label="head")
    # an ended run is not resumed (resume is for a run whose driver died): rerun
    again_run = run.rerun(from_step="work")
    again_run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)

    assert again_run.get_status() == "Finished", again_run.get_details()
    again = step(again_run, "work").get_output_data("out").path_on_datastore
    assert sorted(os.listdir(store_root / again)) == ["done.txt"]
    assert (store_root / again / "done.txt").read_text() == nodes.head_ip


def test_a_step_pinned_to_the_lost_node_fails_naming_its_label(
    workspace: Workspace, nodes: TwoNodes, tmp_path: Path, store_root: Path
) -> None:
    target(workspace, nodes, store_root, retries=3, label="worker")
    run = work_pipeline(workspace, tmp_path, nodes).submit("tests")

    kill_worker_when_started(run, tmp_path / "flags", nodes)
    run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)

    assert run.get_status() == "Failed"
    work = step(run, "work")
    details = work.get_details()
    assert details["error_type"] == "ComputeNodeUnavailableError", details
    assert details["error"] == (
        f"step 'work' on the Ray cluster at {nodes.address}: no live node of the "
        f"Ray cluster has label node=worker, CPU=1 (live nodes: {nodes.head_ip} "
        "[node=head]). The node it needs is gone or never joined: start a "
        "node with those labels and resources, or change the step's compute "
        "target, then rerun the run from this step."
    )
    assert not (store_root / "azureml" / work.id).exists()
    assert staging_left(store_root) == []
    retries = [
        e.payload
        for e in RunStore(workspace.catalog).events_since(run.id)
        if e.kind == EventKind.STEP_RETRY
    ]
    for attempt, payload in enumerate(retries, start=2):
        assert payload["attempt"] == attempt
        assert payload["discarded"] == ["out"]


def test_a_step_pinned_to_a_label_no_node_has_fails_before_it_starts(
    workspace: Workspace, nodes: TwoNodes, tmp_path: Path, store_root: Path
) -> None:
    target(workspace, nodes, store_root, retries=2, label="elsewhere")

    run = run_pipeline(work_pipeline(workspace, tmp_path, nodes))

    assert run.get_status() == "Failed"
    details = step(run, "work").get_details()
    assert details["error_type"] == "ComputeNodeUnavailableError"
    assert details["error"] == (
        f"step 'work' on the Ray cluster at {nodes.address}: no live node of the "
        f"Ray cluster has label node=elsewhere, CPU=1 (live nodes: {nodes.head_ip} "
        f"[node=head]; {nodes.worker_ip} [node=worker]). The node it needs "
        "is gone or never joined: start a node with those labels and resources, or "
        "change the step's compute target, then rerun the run from this step."
    )
    assert not (tmp_path / "flags" / "first").exists()
