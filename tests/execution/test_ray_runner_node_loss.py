"""A worker node lost under a step on the step-runner path (data on Azurite, no folder
shared by the nodes; ``ray_blob_kit``): nothing is committed or left staged, and a
rerun completes. Its own cluster: a killed node does not come back."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from execution.blob_kit import blobs
from execution.ray_blob_kit import (
    WAIT_S,
    blob_on_nodes,
    one_step,
    pin,
    two_nodes,
    wait_for,
)
from pipeline.kit import step, write_script

from dataferry import ComputeTarget
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import EventKind

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite
    from servers.ray_nodes import TwoNodes

    from dataferry import Datastore, Workspace
    from dataferry.execution.pipeline_run import PipelineRun

pytestmark = [pytest.mark.server, pytest.mark.slow]

# the first attempt writes part of its output, says where it runs, and hangs; a
# later attempt writes the whole output at once
HALF = """
import os, socket, sys, time
out, flags, head = sys.argv[1], sys.argv[2], sys.argv[3]
probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
probe.connect((head, 1))
os.makedirs(out, exist_ok=True)
first = os.path.join(flags, "first")
if os.path.exists(first):
    open(os.path.join(out, "done.txt"), "w").write(probe.getsockname()[0])
    sys.exit(0)
open(os.path.join(out, "partial.txt"), "w").write("half")
with open(first + ".tmp", "w") as fh:
    fh.write(probe.getsockname()[0])
os.rename(first + ".tmp", first)
time.sleep(300)
"""


def start_and_kill_worker(
    workspace: Workspace, blob: Datastore, nodes: TwoNodes, tmp_path: Path
) -> PipelineRun:
    """Run ``half.py`` on the worker node; kill that node once the step runs there."""
    code = write_script(tmp_path / "code", "half.py", HALF)
    flags = tmp_path / "flags"
    flags.mkdir()
    args = (str(flags), nodes.head_ip)
    run = one_step(workspace, blob, code, "half.py", *args).submit("tests")
    wait_for(run, (flags / "first").exists, "the step never started")
    assert (flags / "first").read_text() == nodes.worker_ip
    nodes.worker_raylet().kill()
    run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)
    return run


def test_a_lost_worker_node_commits_nothing_and_a_rerun_on_the_head_completes(
    workspace: Workspace, azurite: Azurite, blob_container: str, tmp_path: Path
) -> None:
    # a cluster of its own: a killed node does not come back
    with (
        two_nodes() as nodes,
        blob_on_nodes(
            workspace, azurite, blob_container, nodes, lost_node_retries=0
        ) as blob,
    ):
        run = start_and_kill_worker(workspace, blob, nodes, tmp_path)

        assert run.get_status() == "Failed"
        details = step(run, "work").get_details()
        assert details["error_type"] == "ComputeNodeLostError"
        assert "Nothing of it was committed" in details["error"]
        assert blobs(blob, "out") == {}
        assert blobs(blob, ".dataferry-staging") == {}

        ComputeTarget(workspace, "onworker").delete()
        pin(workspace, nodes, "onworker", "head", 0)
        again = run.rerun(from_step="work")
        again.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)

        assert again.get_status() == "Finished", again.get_details()
        out = step(again, "work").get_output_data("out").path_on_datastore
        written = {k: v for k, v in blobs(blob, out).items() if not k.startswith(".")}
        assert written == {"done.txt": nodes.head_ip}
        assert blobs(blob, ".dataferry-staging") == {}


def test_a_retry_is_a_fresh_attempt_and_a_gone_node_fails_the_step_cleanly(
    workspace: Workspace, azurite: Azurite, blob_container: str, tmp_path: Path
) -> None:
    with (
        two_nodes() as nodes,
        blob_on_nodes(
            workspace, azurite, blob_container, nodes, lost_node_retries=1
        ) as blob,
    ):
        run = start_and_kill_worker(workspace, blob, nodes, tmp_path)

        assert run.get_status() == "Failed"
        details = step(run, "work").get_details()
        # the retry waits for a node labelled node=worker, which is gone
        assert details["error_type"] == "ComputeNodeUnavailableError", details
        assert (
            "no live node of the Ray cluster has label node=worker"
            in (details["error"])
        )
        retries = [
            e.payload
            for e in RunStore(workspace.catalog).events_since(run.id)
            if e.kind == EventKind.STEP_RETRY
        ]
        assert [(p["attempt"], p["discarded"]) for p in retries] == [(2, ["out"])]
        assert blobs(blob, "out") == {}
        assert blobs(blob, ".dataferry-staging") == {}
