"""Inside a ScriptRunConfig run, ``Run.get_context()`` is the script run (A.9, B.12):
its id, its experiment, ``parent`` (None, or the run that called ``submit_child``);
a model it registers records the script run; what it logs shows in the ScriptRun's
``get_metrics``. v1 imports only, real processes and a real catalog."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

SCRIPT = """\
import json, os
from azureml.core import Run

run = Run.get_context()
os.makedirs("outputs", exist_ok=True)
open("outputs/model.txt", "w").write("weights")
model = run.register_model("ctx-model", model_path="outputs/model.txt")
run.log("acc", 1.0)
run.log("epochs", 3)
parent = run.parent
seen = {
    "id": run.id,
    "type": run.type,
    "experiment": run.experiment.name,
    "parent": None if parent is None else parent.id,
    "model_run_id": model.run_id,
    "status": run.get_status(),
    "details_run_id": run.get_details()["runId"],
    "metrics": run.get_metrics(),
}
open(os.environ["SEEN_FILE"], "w").write(json.dumps(seen))
"""


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "train.py").write_text(SCRIPT)
    return folder


def _seen(path: Path) -> dict[str, object]:
    return dict(json.loads(path.read_text()))


@pytest.mark.slow
def test_the_context_of_a_script_run_is_the_script_run(
    workspace: Workspace,
    source: Path,
    tmp_path: Path,
    compat_path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azureml.core import Experiment, Model, ScriptRunConfig

    seen_file = tmp_path / "seen.json"
    monkeypatch.setenv("SEEN_FILE", str(seen_file))
    experiment = Experiment(workspace, "ctx-exp")
    run = experiment.submit(
        ScriptRunConfig(source_directory=str(source), script="train.py")
    )
    run.wait_for_completion(raise_on_error=True)

    seen = _seen(seen_file)
    assert seen == {
        "id": run.id,
        "type": "azureml.scriptrun",
        "experiment": "ctx-exp",
        "parent": None,
        "model_run_id": run.id,
        "status": "Running",
        "details_run_id": run.id,
        "metrics": {"acc": 1.0, "epochs": 3},
    }
    model = Model(workspace, "ctx-model")
    assert (model.run_id, model.experiment_name) == (run.id, "ctx-exp")
    assert model.run.id == run.id
    assert type(model.run).__name__ == "ScriptRun"
    metrics = run.get_metrics()
    assert metrics == {"acc": 1.0, "epochs": 3}
    assert (type(metrics["acc"]), type(metrics["epochs"])) == (float, int)
    assert type(seen["metrics"]["acc"]) is float  # type: ignore[index]


@pytest.mark.slow
def test_a_child_script_runs_context_has_its_submitter_as_parent(
    workspace: Workspace,
    source: Path,
    tmp_path: Path,
    compat_path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azureml.core import Experiment, ScriptRunConfig

    seen_file = tmp_path / "seen.json"
    monkeypatch.setenv("SEEN_FILE", str(seen_file))
    experiment = Experiment(workspace, "ctx-exp")
    outer = experiment.start_logging(snapshot_directory=None)
    child = outer.submit_child(
        ScriptRunConfig(source_directory=str(source), script="train.py")
    )
    child.wait_for_completion(raise_on_error=True)
    outer.complete()

    seen = _seen(seen_file)
    assert (seen["id"], seen["parent"], seen["model_run_id"]) == (
        child.id,
        outer.id,
        child.id,
    )
    assert child.parent.id == outer.id
    assert outer.get_metrics(recursive=True) == {child.id: {"acc": 1.0, "epochs": 3}}
