"""Script runs (``Experiment.submit(ScriptRunConfig)``) through real processes and a
real catalog: ids, datasets in arguments, run files, metrics, failure, cancel, time
limit, child runs and ``get_runs`` over every kind of run."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dataferry import (
    CommandStep,
    Dataset,
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Run,
    ScriptRun,
    ScriptRunConfig,
)
from dataferry.errors import (
    ActivityFailedException,
    ExperimentExecutionException,
    PipelineTypeError,
    RunArgumentTypeError,
    RunFileNotFoundError,
)
from dataferry.execution.views import list_runs

if TYPE_CHECKING:
    from dataferry import Workspace

TRAIN = """\
import argparse, os, sys
from dataferry import Run

p = argparse.ArgumentParser()
p.add_argument("--mounted")
p.add_argument("--downloaded")
p.add_argument("--out")
p.add_argument("--fail", default="no")
a = p.parse_args()
run = Run.get_context()
run.log("acc", 0.5)
run.log("acc", 0.75)
run.log_list("losses", [3, 2])
run.log_row("table", epoch=1, loss=0.3)
os.makedirs("outputs/sub", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write("weights")
with open("outputs/sub/extra.txt", "w") as f:
    f.write("extra")
with open("logs/train.log", "w") as f:
    f.write("epoch 1")
with open("notes.txt", "w") as f:
    f.write("uploaded")
run.upload_file("reports/notes.txt", "notes.txt")
print("mounted:", sorted(os.listdir(a.mounted)))
print("downloaded:", sorted(os.listdir(a.downloaded)))
print("ignored present:", os.path.exists("secret.txt"))
os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "result.txt"), "w") as f:
    f.write("result")
sys.exit(3 if a.fail == "yes" else 0)
"""

SLEEP = """\
import time
print("sleeping", flush=True)
time.sleep(60)
"""


@pytest.fixture
def project(workspace: Workspace, tmp_path: Path) -> Path:
    """A source folder with train.py, an ignored secret.txt, and a registered dataset."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    (src / "sleep.py").write_text(SLEEP)
    (src / "secret.txt").write_text("do not copy")
    (src / ".amlignore").write_text("secret.txt\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("x\n1\n")
    (data / "b.csv").write_text("x\n2\n")
    workspace.get_default_datastore().upload(
        str(data), target_path="raw", overwrite=True, show_progress=False
    )
    return src


def _config(workspace: Workspace, src: Path, *extra: str) -> ScriptRunConfig:
    store = workspace.get_default_datastore()
    files = Dataset.File.from_files((store, "raw/"))
    return ScriptRunConfig(
        source_directory=str(src),
        script="train.py",
        arguments=[
            "--mounted",
            files.as_named_input("mounted").as_mount(),
            "--downloaded",
            files.as_named_input("downloaded").as_download(),
            "--out",
            OutputFileDatasetConfig(name="result"),
            *extra,
        ],
    )


@pytest.mark.slow
def test_a_script_run_with_datasets_outputs_files_and_metrics(
    workspace: Workspace, project: Path, tmp_path: Path
) -> None:
    experiment = Experiment(workspace, "train-exp")

    run = experiment.submit(_config(workspace, project), tags={"epochs": 3})
    details = run.wait_for_completion(show_output=False)

    assert isinstance(run, ScriptRun)
    assert re.fullmatch(r"train-exp_\d{10}_[0-9a-f]{8}", run.id)
    assert run.type == "azureml.scriptrun"
    assert run.get_status() == "Completed"
    assert run.tags == {"epochs": "3"}
    assert details["runId"] == run.id
    assert details["status"] == "Completed"
    assert details["target"] == "local"
    assert details["endTimeUtc"] is not None
    assert [
        (d["consumptionDetails"]["inputName"], d["consumptionDetails"]["mechanism"])
        for d in details["inputDatasets"]
    ] == [("mounted", "Mount"), ("downloaded", "Download")]
    assert {type(d["dataset"]).__name__ for d in details["inputDatasets"]} == {
        "FileDataset"
    }
    (output,) = details["outputDatasets"]
    assert output["dataset"].to_path() == ["/result.txt"]
    assert output["outputDetails"] == {"outputName": "result"}
    assert details["runDefinition"]["script"] == "train.py"
    assert "error" not in details
    assert run.get_metrics() == {
        "acc": [0.5, 0.75],
        "losses": [3, 2],
        "table": {"epoch": 1, "loss": 0.3},
    }
    assert run.get_metrics(name="acc") == {"acc": [0.5, 0.75]}
    # what the script kept in its folder, and what it uploaded, in one listing
    assert run.get_file_names() == [
        "logs/train.log",
        "outputs/model.txt",
        "outputs/sub/extra.txt",
        "reports/notes.txt",
        "user_logs/std_err.txt",
        "user_logs/std_log.txt",
    ]
    run.download_file("reports/notes.txt", str(tmp_path / "notes.txt"))
    assert (tmp_path / "notes.txt").read_text() == "uploaded"
    assert set(details["logFiles"]) == {
        "logs/train.log",
        "user_logs/std_err.txt",
        "user_logs/std_log.txt",
    }
    log = Path(details["logFiles"]["user_logs/std_log.txt"]).read_text()
    assert "mounted: ['a.csv', 'b.csv']" in log
    assert "downloaded: ['a.csv', 'b.csv']" in log
    assert "ignored present: False" in log
    committed = Path(
        workspace.get_default_datastore().location.root, output["identifier"]["path"]
    )
    assert (committed / "result.txt").read_text() == "result"

    run.download_file("outputs/model.txt", str(tmp_path / "model.txt"))
    assert (tmp_path / "model.txt").read_text() == "weights"
    (tmp_path / "dl").mkdir()
    run.download_file("outputs/model.txt", str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "model.txt").read_text() == "weights"
    run.download_files(prefix="outputs", output_directory=str(tmp_path / "all"))
    assert (tmp_path / "all" / "outputs" / "sub" / "extra.txt").read_text() == "extra"
    run.download_files(
        prefix="outputs", output_directory=str(tmp_path / "flat"), append_prefix=False
    )
    assert (tmp_path / "flat" / "sub" / "extra.txt").read_text() == "extra"
    with pytest.raises(
        RunFileNotFoundError,
        match=r"Cannot find the artifact 'outputs/none.pkl' in run",
    ):
        run.download_file("outputs/none.pkl")

    again = Run.get(workspace, run.id)
    assert isinstance(again, ScriptRun)
    assert again.get_details()["status"] == "Completed"


@pytest.mark.slow
def test_a_failed_run_keeps_its_outputs_folder_and_commits_no_output(
    workspace: Workspace, project: Path
) -> None:
    run = Experiment(workspace, "fail-exp").submit(
        _config(workspace, project, "--fail", "yes")
    )

    with pytest.raises(ActivityFailedException, match=r'"code": "UserError"'):
        run.wait_for_completion()
    details = run.wait_for_completion(raise_on_error=False)

    assert details["status"] == "Failed"
    assert "exit code 3" in details["error"]["error"]["message"]
    assert details["outputDatasets"] == []
    assert "outputs/model.txt" in run.get_file_names()
    assert run.get_metrics()["acc"] == [0.5, 0.75]
    with pytest.raises(RunArgumentTypeError, match="output_paths is the older name"):
        run.download_files(output_paths=["a.txt"])


@pytest.mark.slow
def test_cancel_stops_the_script(workspace: Workspace, project: Path) -> None:
    run = Experiment(workspace, "cancel-exp").submit(
        ScriptRunConfig(str(project), "sleep.py")
    )
    deadline = time.monotonic() + 30
    while run.get_status() != "Running" and time.monotonic() < deadline:
        time.sleep(0.1)

    run.cancel()
    details = run.wait_for_completion()

    assert details["status"] == "Canceled"


@pytest.mark.slow
def test_max_run_duration_seconds_is_enforced(
    workspace: Workspace, project: Path
) -> None:
    started = time.monotonic()
    run = Experiment(workspace, "limit-exp").submit(
        ScriptRunConfig(str(project), "sleep.py", max_run_duration_seconds=1)
    )

    details = run.wait_for_completion(raise_on_error=False)

    assert time.monotonic() - started < 30
    assert details["status"] == "Failed"
    assert "max_run_duration_seconds" in details["error"]["error"]["message"]


def test_a_script_outside_the_source_folder_is_refused_before_anything_is_recorded(
    workspace: Workspace, project: Path
) -> None:
    experiment = Experiment(workspace, "bad-exp")

    for script in ("missing.py", "../elsewhere.py"):
        with pytest.raises(
            ExperimentExecutionException,
            match=r"script path doesn't exist. The script should be inside the project folder",
        ):
            experiment.submit(ScriptRunConfig(str(project), script))
    with pytest.raises(
        PipelineTypeError, match=r"unexpected keyword arguments \['x'\]"
    ):
        experiment.submit(ScriptRunConfig(str(project), "train.py"), x=1)

    assert list_runs(workspace) == []


@pytest.mark.slow
def test_get_runs_lists_script_pipeline_and_interactive_runs(
    workspace: Workspace, project: Path
) -> None:
    experiment = Experiment(workspace, "mixed")
    script_run = experiment.submit(
        ScriptRunConfig(str(project), command="python -c 'print(1)'"), run_id="fixed-id"
    )
    script_run.wait_for_completion()
    step = PythonScriptStep(
        "train.py",
        source_directory=str(project),
        arguments=_config(workspace, project).arguments,
        allow_reuse=False,
    )
    pipeline_run = experiment.submit(Pipeline(workspace, steps=[step]))
    pipeline_run.wait_for_completion(show_output=False)
    interactive = experiment.start_logging(outputs=False)
    interactive.log("score", 1.5)
    child = script_run.submit_child(ScriptRunConfig(str(project), command=["true"]))
    child.wait_for_completion()
    interactive.complete()

    runs = list(experiment.get_runs())
    assert [type(r).__name__ for r in runs] == [
        "InteractiveRun",
        "PipelineRun",
        "ScriptRun",
    ]
    assert runs[2].id == "fixed-id"
    assert [r.id for r in experiment.get_runs(type="azureml.scriptrun")] == ["fixed-id"]
    assert {r.id for r in experiment.get_runs(include_children=True)} == {
        r.id for r in runs
    } | {child.id}
    assert [r.id for r in script_run.get_children()] == [child.id]
    assert child.parent.id == "fixed-id"
    assert interactive.get_status() == "Completed"
    assert interactive.get_metrics() == {"score": 1.5}
    assert Run.get(workspace, interactive.id).get_metrics() == {"score": 1.5}


def test_start_logging_keeps_outputs_and_a_failed_block_fails_the_run(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    experiment = Experiment(workspace, "notebook")

    with experiment.start_logging() as run:
        Path("outputs").mkdir()
        Path("outputs/model.pkl").write_text("m")
        run.log("acc", 0.9)
        Path("notes.txt").write_text("n")
        run.upload_file("reports/notes.txt", "notes.txt")
        child = run.child_run(name="fold-1")
        child.log("acc", 0.8)
        child.complete()
        assert run.get_status() == "Running"

    assert run.get_status() == "Completed"
    # what complete() kept and what was uploaded, in one listing
    assert run.get_file_names() == ["outputs/model.pkl", "reports/notes.txt"]
    run.download_file("reports/notes.txt", str(tmp_path / "copy.txt"))
    assert (tmp_path / "copy.txt").read_text() == "n"
    # its kept files register as a model, recording the interactive run
    model = run.register_model("nb-model", "outputs/model.pkl")
    assert (model.name, model.version, model.run_id) == ("nb-model", 1, run.id)
    copied = run.download_files(output_directory=str(tmp_path / "all"))
    assert sorted(p.relative_to(tmp_path / "all").as_posix() for p in copied) == [
        "outputs/model.pkl",
        "reports/notes.txt",
    ]
    assert child.parent.id == run.id
    assert child.get_metrics() == {"acc": 0.8}
    with (
        pytest.raises(ZeroDivisionError),
        experiment.start_logging(outputs=False) as bad,
    ):
        1 / 0  # noqa: B018  # the block fails, so the run does
    assert bad.get_status() == "Failed"
    assert "User program failed with ZeroDivisionError" in (
        list_runs(workspace)[0].error or ""
    )


@pytest.mark.slow
def test_steps_take_a_script_run_config(workspace: Workspace, project: Path) -> None:
    src = ScriptRunConfig(
        str(project), command=["python", "-c", "open('outputs/x.txt','w').write('1')"]
    )
    from_script = ScriptRunConfig(
        str(project), "train.py", max_run_duration_seconds=120
    )

    steps = [
        CommandStep(name="cmd", runconfig=src),
        PythonScriptStep(
            "train.py",
            name="py",
            source_directory=str(project),
            arguments=_config(workspace, project).arguments,
            runconfig=from_script.run_config,
        ),
    ]
    run = Experiment(workspace, "steps").submit(Pipeline(workspace, steps=steps))
    run.wait_for_completion(show_output=False, raise_on_error=False)

    assert {s.name: s.get_status() for s in run.get_steps()} == {
        "cmd": "Finished",
        "py": "Finished",
    }
