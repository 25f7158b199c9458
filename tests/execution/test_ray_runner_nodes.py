"""The step-runner path on a two-node Ray cluster with data on Azurite and no folder
shared by the nodes (``ray_blob_kit``): a step's logs reach the run's log store while
it runs on the worker, and cancel stops its whole process tree there (node loss:
``test_ray_runner_node_loss``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psutil
import pytest
from click.testing import CliRunner
from execution.blob_kit import blobs
from execution.ray_blob_kit import WAIT_S, blob_on_nodes, one_step, two_nodes, wait_for
from pipeline.kit import step, write_script

from dataferry.cli import app
from dataferry.execution.views.step_logs import read_log_range

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.azurite import Azurite
    from servers.ray_nodes import TwoNodes

    from dataferry import Datastore, Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

LINES = 150_000  # about 1.8 MB: more than one chunk of ray_logs.CHUNK_BYTES

TALK = f"""
import os, sys, time
out, go = sys.argv[1], sys.argv[2]
print("started on the node", flush=True)
print("a warning", file=sys.stderr, flush=True)
until = time.monotonic() + {WAIT_S}
while not os.path.exists(go) and time.monotonic() < until:
    time.sleep(0.05)
sys.stdout.writelines(f"line {{i:06d}}\\n" for i in range({LINES}))
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "x.txt"), "w").write("x")
print("done", flush=True)
"""
# a child in the script's group, and one that left it (its own session)
TREE = """
import os, subprocess, sys, time
out, pids = sys.argv[1], sys.argv[2]
sleep = [sys.executable, "-c", "import time; time.sleep(300)"]
kept = subprocess.Popen(sleep)
left = subprocess.Popen(sleep, start_new_session=True)
os.makedirs(out, exist_ok=True)
open(os.path.join(out, "half.txt"), "w").write("half")
with open(pids + ".tmp", "w") as fh:
    fh.write(f"{os.getpid()} {kept.pid} {left.pid}")
os.rename(pids + ".tmp", pids)
time.sleep(300)
"""


@pytest.fixture(scope="module")
def nodes() -> Iterator[TwoNodes]:
    with two_nodes() as cluster:
        yield cluster


@pytest.fixture
def blob(
    workspace: Workspace, azurite: Azurite, blob_container: str, nodes: TwoNodes
) -> Iterator[Datastore]:
    with blob_on_nodes(workspace, azurite, blob_container, nodes) as store:
        yield store


def test_logs_of_a_worker_step_reach_the_run_while_it_runs_and_stay_whole(
    workspace: Workspace, blob: Datastore, tmp_path: Path
) -> None:
    code = write_script(tmp_path / "code", "talk.py", TALK)
    go = tmp_path / "go"
    run = one_step(workspace, blob, code, "talk.py", str(go)).submit("tests")

    def page(stream: str) -> str:
        return read_log_range(workspace, run.id, "work", stream=stream).text

    wait_for(run, lambda: "started on the node" in page("stdout"), "no stdout")
    wait_for(run, lambda: "a warning" in page("stderr"), "no stderr")
    assert step(run, "work").get_status() == "Running"
    go.touch()
    run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)

    assert run.get_status() == "Finished", run.get_details()
    result = CliRunner().invoke(
        app,
        ["-w", str(workspace.path.parent), "runs", "logs", run.id, "--step", "work"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    shown = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("[work") and "dataferry:" not in line
    ]
    expected = [f"[work] line {i:06d}" for i in range(LINES)]
    assert shown[0] == "[work] started on the node"
    assert shown[1 : LINES + 1] == expected
    assert shown[LINES + 1 :] == ["[work] done", "[work stderr] a warning"]


def test_cancel_of_a_worker_step_stops_its_whole_process_tree(
    workspace: Workspace, blob: Datastore, tmp_path: Path
) -> None:
    code = write_script(tmp_path / "code", "tree.py", TREE)
    pids = tmp_path / "pids.txt"
    run = one_step(workspace, blob, code, "tree.py", str(pids)).submit("tests")
    wait_for(run, pids.exists, "the step never started")
    procs = [psutil.Process(int(p)) for p in pids.read_text().split()]

    run.cancel()
    run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)

    assert run.get_status() == "Canceled"
    assert step(run, "work").get_status() == "Canceled"
    assert psutil.wait_procs(procs, timeout=10)[1] == []
    assert blobs(blob, "out") == {}
    assert blobs(blob, ".dataferry-staging") == {}
