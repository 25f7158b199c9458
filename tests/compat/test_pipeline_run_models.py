"""``PipelineRun.register_model`` and ``StepRun.register_model`` (B.14) from a v1
program: a path resolves to the step run that has it, ``<step>/<path>`` picks one,
and a path several steps have (or none) is refused before anything is registered."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dataferry.errors import ModelPathAmbiguousError, ModelPathNotFoundError

if TYPE_CHECKING:
    from dataferry import Workspace

WRITE = """\
import os, sys
os.makedirs("outputs/folder", exist_ok=True)
open("outputs/model.pkl", "w").write(sys.argv[1])
open(f"outputs/{sys.argv[1]}.txt", "w").write("report of " + sys.argv[1])
open("outputs/folder/a.txt", "w").write(sys.argv[1])
"""


@pytest.mark.slow
def test_pipeline_and_step_runs_register_models_from_their_steps_files(
    workspace: Workspace, tmp_path: Path
) -> None:
    from azureml.core import Experiment, Model
    from azureml.pipeline.core import Pipeline
    from azureml.pipeline.steps import PythonScriptStep

    source = tmp_path / "steps"
    source.mkdir()
    (source / "write.py").write_text(WRITE)
    steps = [
        PythonScriptStep(
            name=name,
            script_name="write.py",
            arguments=[name],
            source_directory=str(source),
        )
        for name in ("train", "evaluate")
    ]
    run = Experiment(workspace, "models").submit(Pipeline(workspace, steps=steps))
    run.wait_for_completion(show_output=False)
    train, evaluate = (run.find_step_run(n)[0] for n in ("train", "evaluate"))

    report = run.register_model("report", model_path="outputs/evaluate.txt")
    assert (report.run_id, report.experiment_name) == (evaluate.id, "models")
    assert report.run.id == evaluate.id
    assert (tmp_path / "got").mkdir() is None
    downloaded = report.download(str(tmp_path / "got"))
    assert Path(downloaded).read_text() == "report of evaluate"

    picked = run.register_model("picked", model_path="train/outputs/model.pkl")
    assert picked.run_id == train.id
    assert Path(picked.download(str(tmp_path / "got"))).read_text() == "train"

    with pytest.raises(
        ModelPathAmbiguousError,
        match=rf"model_path ./outputs/model.pkl names files of 2 steps of pipeline "
        rf"run {run.id}: 'evaluate' \({evaluate.id}\), 'train' \({train.id}\); pass "
        r"'evaluate/outputs/model.pkl' or register from the step run "
        r"\(run.find_step_run\('evaluate'\)\[0\].register_model",
    ):
        run.register_model("clash", model_path="./outputs/model.pkl")
    with pytest.raises(
        ModelPathAmbiguousError, match=r"model_path outputs/folder/ names files of 2"
    ):
        run.register_model("clash", model_path="outputs/folder/")
    with pytest.raises(
        ModelPathNotFoundError,
        match=r"Could not locate the provided model_path outputs/none.pkl in the "
        r"files of pipeline run .*'train': \['outputs/folder/a.txt', "
        r"'outputs/model.pkl', 'outputs/train.txt'\]",
    ):
        run.register_model("missing", model_path="outputs/none.pkl")
    with pytest.raises(ModelPathNotFoundError, match="model_path weights in the"):
        run.register_model("weights")  # the path defaults to the model's name
    assert sorted(m.name for m in Model.list(workspace)) == ["picked", "report"]

    folder = evaluate.register_model("folder", model_path="outputs/folder")
    assert folder.run_id == evaluate.id
    target = tmp_path / "folder-model"
    target.mkdir()
    assert (Path(folder.download(str(target))) / "a.txt").read_text() == "evaluate"
