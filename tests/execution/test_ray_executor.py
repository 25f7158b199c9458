"""Steps on a Ray target run as Ray tasks on a real loopback head; others stay local."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import psutil
import pytest
from pipeline.kit import WAIT_S, run_pipeline, step, write_script

from dataferry import ComputeTarget, Pipeline, PipelineData, PythonScriptStep
from dataferry.catalog.run_store import RunStore
from dataferry.data.compute_ray import RayCompute
from dataferry.execution.executors.per_step import check_reachable
from dataferry.execution.executors.ray_executor import RayExecutor
from dataferry.execution.plan_model import plan_of
from dataferry.execution.run_layout import driver_log

if TYPE_CHECKING:
    from pathlib import Path

    from servers.ray_cluster import RayHead

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

PRODUCE = """
import os, sys
os.makedirs(sys.argv[1], exist_ok=True)
with open(os.path.join(sys.argv[1], "n.txt"), "w") as fh:
    fh.write(f"{os.getpid()} 21")
print("produced on", os.getpid())
"""
CONSUME = """
import os, sys
pid, n = open(os.path.join(sys.argv[1], "n.txt")).read().split()
with open(os.path.join(sys.argv[2], "out.txt"), "w") as fh:
    fh.write(str(int(n) * 2))
"""
SLEEP = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open(sys.argv[1], "w") as fh:
    fh.write(f"{os.getpid()} {child.pid}")
time.sleep(120)
"""
FAIL = """
import sys
print("half way")
print("the input was bad", file=sys.stderr)
sys.exit(4)
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = write_script(tmp_path / "code", "produce.py", PRODUCE)
    write_script(folder, "consume.py", CONSUME)
    write_script(folder, "sleep.py", SLEEP)
    write_script(folder, "fail.py", FAIL)
    return folder


@pytest.fixture
def on_ray(workspace: Workspace, ray_head: RayHead) -> str:
    config = RayCompute.provisioning_configuration(
        ray_head.address, max_nodes=2, num_cpus=1
    )
    ComputeTarget.create(workspace, "raycluster", config)
    return "raycluster"


def two_steps(code: Path, ray_target: str) -> list[PythonScriptStep]:
    middle = PipelineData("middle")
    final = PipelineData("final")
    produce = PythonScriptStep(
        "produce.py",
        name="produce",
        source_directory=str(code),
        arguments=[middle],
        outputs=[middle],
        compute_target=ray_target,
    )
    consume = PythonScriptStep(
        "consume.py",
        name="consume",
        source_directory=str(code),
        arguments=[middle, final],
        inputs=[middle],
        outputs=[final],
    )
    return [produce, consume]


def test_a_ray_step_and_a_local_step_pass_data_through_a_local_datastore(
    workspace: Workspace, code: Path, on_ray: str, store_root: Path
) -> None:
    run = run_pipeline(Pipeline(workspace, two_steps(code, on_ray)))

    assert run.get_status() == "Finished", run.get_details()
    produce, consume = step(run, "produce"), step(run, "consume")
    assert produce.get_details()["executor"] == "local+ray"
    started = driver_log(workspace, run.id).read_text()
    assert re.search(
        rf"step produce \({produce.id}\) started, pid ray:[0-9a-f]+", started
    )
    assert re.search(rf"step consume \({consume.id}\) started, pid \d+$", started, re.M)
    assert produce.get_stdout_log().startswith("produced on ")
    final = store_root / consume.get_output_data("final").path_on_datastore
    assert (final / "out.txt").read_text() == "42"
    committed = [
        e
        for e in RunStore(workspace.catalog).events_since(run.id)
        if e.kind == "output_committed"
    ]
    assert sorted(e.payload["output"] for e in committed) == ["final", "middle"]

    again = run_pipeline(Pipeline(workspace, two_steps(code, on_ray)))

    assert again.get_status() == "Finished"
    assert step(again, "produce").get_details()["reusedFrom"] == produce.id
    assert step(again, "consume").get_details()["reusedFrom"] == consume.id


def test_a_failing_script_on_ray_fails_its_step_with_its_log(
    workspace: Workspace, code: Path, on_ray: str
) -> None:
    failing = PythonScriptStep(
        "fail.py", name="bad", source_directory=str(code), compute_target=on_ray
    )

    run = run_pipeline(Pipeline(workspace, [failing]))

    assert run.get_status() == "Failed"
    bad = step(run, "bad")
    assert bad.get_status() == "Failed"
    assert bad.get_stdout_log() == "half way\n"
    assert bad.get_stderr_log() == "the input was bad\n"
    assert (
        bad.get_details()["error"]
        == "step 'bad' failed (exit code 4):\nthe input was bad"
    )


def test_cancel_of_a_running_ray_step_leaves_no_process(
    workspace: Workspace, code: Path, on_ray: str, tmp_path: Path
) -> None:
    pids = tmp_path / "pids.txt"
    sleeper = PythonScriptStep(
        "sleep.py",
        name="sleeper",
        source_directory=str(code),
        arguments=[str(pids)],
        compute_target=on_ray,
    )
    run = Pipeline(workspace, [sleeper]).submit("tests")
    until = time.monotonic() + WAIT_S
    while not pids.exists() or not pids.read_text():
        assert time.monotonic() < until, "the step never started"
        time.sleep(0.1)
    script, child = (int(p) for p in pids.read_text().split())

    run.cancel()
    run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)

    assert run.get_status() == "Canceled"
    assert step(run, "sleeper").get_status() == "Canceled"
    gone = psutil.wait_procs(_existing(script, child), timeout=10)[1]
    assert gone == []


def _existing(*pids: int) -> list[psutil.Process]:
    found = []
    for pid in pids:
        try:
            found.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_local_folder_datastore_is_reachable_from_a_one_node_cluster(
    workspace: Workspace, code: Path, on_ray: str, ray_head: RayHead
) -> None:
    run = Pipeline(workspace, two_steps(code, on_ray)).submit("tests")
    run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)
    plan = plan_of(RunStore(workspace.catalog).get_run(run.id))

    # one node shares the driver's disk (two nodes: test_ray_two_nodes.py)
    check_reachable(workspace, plan, on_ray, RayExecutor(ray_head.address, {}, 0))


LOSE_ONCE = """
import os, sys, time
marker = sys.argv[1]
if not os.path.exists(marker):
    with open(marker, "w") as fh:
        fh.write(str(os.getppid()))  # the Ray worker running this attempt
    time.sleep(120)
print("second attempt")
"""


def test_a_step_whose_worker_dies_is_run_again_and_the_retry_is_an_event(
    workspace: Workspace, code: Path, on_ray: str, tmp_path: Path
) -> None:
    write_script(code, "lose_once.py", LOSE_ONCE)
    marker = tmp_path / "worker.txt"
    losing = PythonScriptStep(
        "lose_once.py",
        name="losing",
        source_directory=str(code),
        arguments=[str(marker)],
        compute_target=on_ray,
    )
    run = Pipeline(workspace, [losing]).submit("tests")
    until = time.monotonic() + WAIT_S
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < until, "the step never started"
        time.sleep(0.1)
    psutil.Process(int(marker.read_text())).kill()  # the worker dies mid-step

    run.wait_for_completion(raise_on_error=False, timeout_seconds=WAIT_S)

    assert run.get_status() == "Finished"
    losing_run = step(run, "losing")
    assert losing_run.get_stdout_log() == "second attempt\n"
    assert re.search(
        r"^dataferry: the step's Ray worker or node was lost \(\w+Error: .*\); "
        r"running it again \(attempt 2 of 3\)$",
        losing_run.get_stderr_log(),
        re.M,
    )
    retries = [
        e.payload
        for e in RunStore(workspace.catalog).events_since(run.id)
        if e.kind == "step_retry"
    ]
    assert [r["attempt"] for r in retries] == [2]
