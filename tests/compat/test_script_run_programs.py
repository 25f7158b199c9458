"""A v1 script-run program with no edit at all: ``from azureml.core import
ScriptRunConfig, Experiment, Workspace, Environment`` in the submitting script and
``from azureml.core import Run`` in the script, through real processes."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dataferry import Workspace

TRAIN = """\
import argparse, os
from azureml.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--data")
parser.add_argument("--out")
args = parser.parse_args()
run = Run.get_context()
run.log("rows", len(os.listdir(args.data)))
os.makedirs("outputs", exist_ok=True)
open("outputs/model.pkl", "w").write("model")
os.makedirs(args.out, exist_ok=True)
open(os.path.join(args.out, "scores.csv"), "w").write("a,b\\n")
print("trained on", sorted(os.listdir(args.data)))
"""

PROGRAM = """\
from azureml.core import ScriptRunConfig, Experiment, Workspace, Environment, Dataset, Run
from azureml.core.conda_dependencies import CondaDependencies
from azureml.core.script_run import ScriptRun
from azureml.data import OutputFileDatasetConfig
from azureml.exceptions import ActivityFailedException

ws = Workspace.from_config()
datastore = ws.get_default_datastore()
datastore.upload("data", target_path="iris", overwrite=True, show_progress=False)
dataset = Dataset.File.from_files(path=(datastore, "iris/"))
env = Environment("sklearn-env")
env.python.conda_dependencies = CondaDependencies.create(pip_packages=["azureml-defaults"])
src = ScriptRunConfig(
    source_directory="train",
    script="train.py",
    arguments=[
        "--data", dataset.as_named_input("iris").as_download(),
        "--out", OutputFileDatasetConfig(name="scores"),
    ],
    compute_target="local",
    environment=env,
)
run = Experiment(workspace=ws, name="iris-train").submit(src)
details = run.wait_for_completion(show_output=True)
print("status:", details["status"], run.get_status(), isinstance(run, ScriptRun))
print("inputs:", [d["consumptionDetails"]["mechanism"] for d in details["inputDatasets"]])
print("outputs:", [d["outputDetails"]["outputName"] for d in details["outputDatasets"]])
print("metrics:", run.get_metrics())
print("files:", [f for f in run.get_file_names() if f.startswith("outputs/")])
run.download_file("outputs/model.pkl", output_file_path="model.pkl")
print("downloaded:", open("model.pkl").read())
print("again:", type(Run.get(ws, run.id)).__name__)
print("runs:", [r.id == run.id for r in Experiment(ws, "iris-train").get_runs()])
"""


@pytest.mark.slow
def test_a_v1_script_run_program_runs_unchanged(
    workspace: Workspace, compat_path: str
) -> None:
    folder = workspace.path.parent
    (folder / "train").mkdir()
    (folder / "train" / "train.py").write_text(TRAIN)
    (folder / "data").mkdir()
    (folder / "data" / "a.csv").write_text("x\n1\n")
    (folder / "program.py").write_text(PROGRAM)

    result = subprocess.run(
        [sys.executable, "program.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.startswith("RunId: iris-train_")
    assert "trained on ['a.csv']" in out
    assert "Execution Summary" in out
    for line in (
        "status: Completed Completed True",
        "inputs: ['Download']",
        "outputs: ['scores']",
        "metrics: {'rows': 1}",
        "files: ['outputs/model.pkl']",
        "downloaded: model",
        "again: ScriptRun",
        "runs: [True]",
    ):
        assert line in out.splitlines(), out
