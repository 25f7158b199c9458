"""v1 programs with no edit at all: `from azureml.core import ...` in the submitting
script and in the step scripts, through a real workspace and real processes."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

from dataferry.execution.views import list_runs, run_detail

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

STEP = """\
import argparse, os, time
from azureml.core import Run
from azureml.core.run import Run as SameRun

parser = argparse.ArgumentParser()
parser.add_argument("--out")
args = parser.parse_args()
run = Run.get_context()
assert SameRun is Run
os.makedirs(args.out, exist_ok=True)
time.sleep(0.3)
with open(os.path.join(args.out, "done.txt"), "w") as f:
    f.write(type(run).__name__)
print("step ran with", type(run).__module__)
"""

PROGRAM = """\
from azureml.core import Workspace, Experiment, VERSION
from azureml.core.authentication import InteractiveLoginAuthentication
from azureml.core.compute import ComputeTarget, AmlCompute
from azureml.core.compute_target import ComputeTargetException
from azureml.core.runconfig import RunConfiguration, DEFAULT_CPU_IMAGE
from azureml.data import OutputFileDatasetConfig
from azureml.pipeline.core import Pipeline
from azureml.pipeline.steps import PythonScriptStep
from azureml.train.hyperdrive import HyperDriveConfig  # imported, never used

print("SDK version:", VERSION)
ws = Workspace.from_config(auth=InteractiveLoginAuthentication())
print(ws.name, ws.resource_group, ws.location, sep="\\n")
print("details:", ws.get_details()["location"])

cluster_name = "cpu-cluster"
try:
    compute_target = ComputeTarget(workspace=ws, name=cluster_name)
    print("Found existing compute target")
except ComputeTargetException:
    print("Creating a new compute target...")
    compute_config = AmlCompute.provisioning_configuration(
        vm_size="STANDARD_D2_V2", max_nodes=1
    )
    compute_target = ComputeTarget.create(ws, cluster_name, compute_config)
    compute_target.wait_for_completion(
        show_output=True, min_node_count=None, timeout_in_minutes=20
    )
print(compute_target.get_status().serialize()["scaleSettings"])
print("targets:", sorted(ws.compute_targets))

run_config = RunConfiguration()
run_config.environment.docker.base_image = DEFAULT_CPU_IMAGE
steps = [
    PythonScriptStep(
        name=f"step{i}",
        script_name="step.py",
        source_directory="steps",
        arguments=["--out", OutputFileDatasetConfig(name=f"out{i}")],
        compute_target=compute_target,
        runconfig=run_config,
        allow_reuse=False,
    )
    for i in range(3)
]
run = Experiment(ws, "v1-sample").submit(Pipeline(ws, steps=steps))
run.wait_for_completion(show_output=False)
print("status:", run.get_status())
for step in sorted(run.get_steps(), key=lambda s: s.name):
    print("step:", step.name, step.get_details()["target"])
print("experiments:", sorted(ws.experiments))
"""


def run_program(folder: Path, pythonpath: str) -> str:
    (folder / "steps").mkdir(exist_ok=True)
    (folder / "steps" / "step.py").write_text(STEP)
    (folder / "program.py").write_text(PROGRAM)
    result = subprocess.run(
        [sys.executable, "program.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.slow
def test_compute_cells_and_a_pipeline_run_unchanged(
    workspace: Workspace, compat_path: str
) -> None:
    folder = workspace.path.parent

    first = run_program(folder, compat_path)
    second = run_program(folder, compat_path)

    assert first.splitlines()[:11] == [
        "SDK version: 1.61.0+dataferry.0.1.0",
        "test-ws",
        "dataferry-local",
        "local",
        "details: local",
        "Creating a new compute target...",
        'SucceededProvisioning operation finished, operation "Succeeded"',
        "Succeeded",
        "AmlCompute wait for completion finished",
        "",
        "Minimum number of nodes requested have been provisioned",
    ]
    for out in (first, second):
        assert (
            "{'minNodeCount': 0, 'maxNodeCount': 1, 'nodeIdleTimeBeforeScaleDown': 'PT1800S'}"
            in out
        )
        assert "targets: ['cpu-cluster']" in out
        assert "status: Finished" in out
        assert "\n".join(f"step: step{i} cpu-cluster" for i in range(3)) in out
        assert "experiments: ['v1-sample']" in out
    assert "Found existing compute target" in second
    assert "Creating" not in second


@pytest.mark.slow
def test_steps_on_a_one_node_target_run_one_at_a_time(
    workspace: Workspace, compat_path: str
) -> None:
    run_program(workspace.path.parent, compat_path)

    (summary,) = list_runs(workspace)
    steps = run_detail(workspace, summary.id).steps
    spans = sorted((s.started_at, s.ended_at) for s in steps)
    assert all(isinstance(t, datetime) for span in spans for t in span)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start  # type: ignore[operator]
    assert {s.compute_target for s in steps} == {"cpu-cluster"}
    for step in steps:
        assert step.log_dir is not None
        stdout = (step.log_dir / "stdout.txt").read_text()
        assert "step ran with dataferry.execution.run_context" in stdout


def test_step_script_imports_azureml_in_the_steps_interpreter(
    compat_path: str, tmp_path: Path
) -> None:
    script = tmp_path / "probe.py"
    script.write_text(
        textwrap.dedent(
            """\
            from azureml.core import Run
            import dataferry
            print(Run is dataferry.Run)
            """
        )
    )

    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    ).stdout

    assert out.strip() == "True"
