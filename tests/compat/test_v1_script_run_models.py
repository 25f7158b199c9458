"""A v1 script run whose ./outputs are registered as a model from the submitting
script, loaded by a later pipeline's step (issue 9: "a script run whose outputs are
registered as a model and loaded by a later step") — no edit, ``azureml.*`` imports."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dataferry import Workspace

TRAIN = """\
import os, pickle
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pkl", "wb") as f:
    pickle.dump({"coef": 0.25}, f)
"""

SCORE = """\
import pickle
from azureml.core.model import Model

with open(Model.get_model_path("script-model"), "rb") as f:
    print("loaded coef", pickle.load(f)["coef"])
"""

PROGRAM = """\
from azureml.core import Experiment, Model, ScriptRunConfig, Workspace
from azureml.pipeline.core import Pipeline
from azureml.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
exp = Experiment(workspace=ws, name="script-models")
src = ScriptRunConfig(source_directory="steps", script="train.py")
run = exp.submit(src)
run.wait_for_completion(show_output=False)
model = run.register_model(model_name="script-model", model_path="outputs/model.pkl")
print("registered", model.name, model.version)
score = Pipeline(ws, steps=[PythonScriptStep(name="score", script_name="score.py",
                                             source_directory="steps")])
scored = exp.submit(score)
scored.wait_for_completion(show_output=False)
(step,) = scored.find_step_run("score")
print(step.get_stdout_log().strip())
"""


@pytest.mark.slow
def test_a_script_runs_outputs_become_a_model_a_later_step_loads(
    workspace: Workspace,
) -> None:
    project = workspace.path
    steps = project / "steps"
    steps.mkdir()
    (steps / "train.py").write_text(TRAIN)
    (steps / "score.py").write_text(SCORE)

    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "registered script-model 1" in lines
    assert lines[-1] == "loaded coef 0.25"
