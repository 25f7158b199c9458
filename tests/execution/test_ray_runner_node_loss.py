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

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Workspace

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
        code = write_script(tmp_path / "code", "half.py", HALF)
        flags = tmp_path / "flags"
        flags.mkdir()
        args = (str(flags), nodes.head_ip)
        run = one_step(workspace, blob, code, "half.py", *args).submit("tests")
        wait_for(run, (flags / "first").exists, "the step never started")
        assert (flags / "first").read_text() == nodes.worker_ip
        nodes.worker_raylet().kill()
        run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)

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
