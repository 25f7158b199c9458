"""A v1 model program with no edit: a step registers ./outputs/model.pkl, the
submitting script registers from the finished step run too, lists, downloads and
catches the SDK's exceptions, and a later pipeline's step loads the model with
``Model.get_model_path`` — all through ``azureml.*`` imports and real processes."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dataferry import Workspace

TRAIN = """\
import os, pickle
from azureml.core import Run

run = Run.get_context()
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pkl", "wb") as f:
    pickle.dump({"coef": 0.5}, f)
model = run.register_model(model_name="sk-model", model_path="outputs/model.pkl",
                           tags={"area": "iris"}, model_framework="ScikitLearn")
print("registered", model.name, model.version)
"""

SCORE = """\
import pickle
from azureml.core.model import Model

path = Model.get_model_path("sk-model")
with open(path, "rb") as f:
    print("loaded coef", pickle.load(f)["coef"])
"""

PROGRAM = """\
from azureml.core import Workspace, Experiment, Model
from azureml.core.model import Model as SameModel, InferenceConfig
from azureml.exceptions import WebserviceException, ModelNotFoundException
from azureml.pipeline.core import Pipeline
from azureml.pipeline.steps import PythonScriptStep

assert SameModel is Model
ws = Workspace.from_config()
exp = Experiment(ws, "models")

def pipeline(script):
    return Pipeline(ws, steps=[PythonScriptStep(
        name=script[:-3], script_name=script, source_directory="steps",
        allow_reuse=False)])

run = exp.submit(pipeline("train.py"))
run.wait_for_completion(show_output=False)
(train,) = run.find_step_run("train")
again = train.register_model("sk-model", "outputs/model.pkl")
print("versions:", [m.version for m in Model.list(ws, name="sk-model")])
latest = Model(ws, "sk-model")
print("latest:", latest.id, latest.run_id == train.id, latest.experiment_name)
print("tagged:", [m.id for m in Model.list(ws, tags=[["area", "iris"]])])
print("download:", latest.download(target_dir="dl", exist_ok=True))
try:
    Model(ws, "sk-modle")
except WebserviceException as exc:
    print("not found:", isinstance(exc, ModelNotFoundException), str(exc)[:60])
try:
    Model.deploy(ws, "svc", [latest], InferenceConfig)
except Exception as exc:
    print("deploy:", type(exc).__name__)
scoring = exp.submit(pipeline("score.py"))
scoring.wait_for_completion(show_output=False)
(score,) = scoring.find_step_run("score")
print("score:", score.get_status(), score.get_stdout_log().strip())
"""


@pytest.mark.slow
def test_register_list_download_and_load_unchanged(
    workspace: Workspace, compat_path: str
) -> None:
    folder = workspace.path.parent
    (folder / "steps").mkdir()
    (folder / "steps" / "train.py").write_text(TRAIN)
    (folder / "steps" / "score.py").write_text(SCORE)
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
    lines = [x for x in result.stdout.splitlines() if not x.startswith("Submitted")]
    assert lines == [
        "versions: [1, 2]",
        "latest: sk-model:2 True models",
        "tagged: ['sk-model:1']",
        "download: dl/model.pkl",
        "not found: True ModelNotFound: Model with name sk-modle not found in provide",
        "deploy: AzureOnlyError",
        "score: Finished loaded coef 0.5",
    ]
