"""A v1 step script that uses the whole run API with no edit, checked from the
submitting side; ``RunDetails`` on a finished run (a running one: ``test_run_details_pipe``)."""

from __future__ import annotations

import io
import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from execution.pipe_kit import untimed
from pipeline.kit import run_pipeline, step, write_script

from dataferry import DataPath, Dataset

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore, Workspace

STEP = """\
import json, os, sys
from azureml.core import Run
from azureml.exceptions import UserErrorException


class Plot:
    # what v1 code passes is matplotlib.pyplot; it is not installed for the tests
    def savefig(self, stream, format):
        stream.write(b"\\x89PNG-plot")


run = Run.get_context()
errors = []
run.tag("stage")
run.tag("stage", "train")
run.set_tags({"epochs": 3, "team": "ml"})
run.remove_tags(["team"])
run.add_properties({"algo": "svm"})
try:
    run.add_properties({"algo": "tree"})
except UserErrorException as exc:
    errors.append(type(exc).__name__)

os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pkl", "wb") as fh:
    fh.write(b"weights")
os.makedirs("charts/sub", exist_ok=True)
for name in ("charts/a.txt", "charts/sub/b.txt"):
    with open(name, "w") as fh:
        fh.write(name)
with open("roc.png", "wb") as fh:
    fh.write(b"\\x89PNG-file")
run.upload_file("outputs/model.pkl", "outputs/model.pkl")
run.upload_folder("charts", "charts")
run.upload_files(["extra/1.txt"], ["charts/a.txt"])
try:
    run.upload_file("outputs/model.pkl", "outputs/model.pkl")
except FileExistsError as exc:
    errors.append(type(exc).__name__)
run.log_image("roc", path="roc.png")
run.log_image("plot", plot=Plot(), description="a plot")
run.log_confusion_matrix("cm", {
    "schema_type": "confusion_matrix", "schema_version": "1.0.0",
    "data": {"class_labels": ["a", "b"], "matrix": [[2, 0], [1, 3]]},
})
run.log_accuracy_table("acc", {"schema_type": "accuracy_table", "data": {"x": [1]}})
run.log_residuals("res", {"schema_type": "residuals", "data": {"bins": [1]}})
run.log_predictions("pred", {"schema_type": "predictions", "data": {"bins": [2]}})
run.log("accuracy", 0.9)

details = run.get_details()
seen = {
    "errors": errors,
    "parent": run.parent.id,
    "tags": run.get_tags(),
    "properties": run.get_properties(),
    "files": run.get_file_names(),
    "inputDatasets": [
        [type(d["dataset"]).__name__, d["dataset"].id, d["consumptionDetails"]]
        for d in details["inputDatasets"]
    ],
}
run.complete()
run.fail("ignored: the exit code decides")
with open(sys.argv[1], "w") as fh:
    json.dump(seen, fh)
"""


@pytest.fixture
def finished(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    compat_path: str,
) -> dict[str, Any]:
    from azureml.pipeline.core import Pipeline
    from azureml.pipeline.steps import PythonScriptStep

    (store_root / "iris.csv").write_text("a,b\n1,2\n")
    table = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "iris.csv"))
    table = table.register(workspace, "iris")
    files = Dataset.File.from_files(DataPath(blobstore, "iris.csv"))
    code = write_script(tmp_path / "code", "train.py", STEP)
    train = PythonScriptStep(
        "train.py",
        name="train",
        source_directory=str(code),
        arguments=[str(tmp_path / "seen.json")],
        inputs=[
            table.as_named_input("iris"),
            files.as_named_input("raw").as_mount(),
        ],
    )
    run = run_pipeline(Pipeline(workspace, [train]), experiment="runapi")
    inside = step(run, "train")
    assert run.get_status() == "Finished", inside.get_job_log()
    seen = json.loads((tmp_path / "seen.json").read_text())
    return {"run": run, "step": inside, "seen": seen, "table": table, "files": files}


FILES = [
    "charts/a.txt",
    "charts/sub/b.txt",
    "extra/1.txt",
    "outputs/model.pkl",
    "roc.png",
]


@pytest.mark.slow
class TestRunApiInAStep:
    def test_inside_the_step(self, finished: dict[str, Any]) -> None:
        seen, inside = finished["seen"], finished["step"]

        assert seen["errors"] == ["RunPropertyError", "RunFileExistsError"]
        assert seen["parent"] == finished["run"].id
        assert seen["tags"] == {"epochs": "3", "stage": "train"}
        assert seen["properties"] == {"algo": "svm"}
        assert [f for f in seen["files"] if "_" not in f] == FILES
        assert seen["inputDatasets"] == [
            [
                "TabularDataset",
                finished["table"].id,
                {"type": "RunInput", "inputName": "iris", "mechanism": "Direct"},
            ],
            [
                "FileDataset",
                finished["files"].id,
                {"type": "RunInput", "inputName": "raw", "mechanism": "Mount"},
            ],
        ]
        assert inside.get_status() == "Finished"  # complete/fail changed nothing

    def test_from_the_submitting_side(
        self, finished: dict[str, Any], tmp_path: Path
    ) -> None:
        inside = finished["step"]

        assert inside.get_tags() == {"epochs": "3", "stage": "train"}
        assert inside.get_properties() == {"algo": "svm"}
        names = inside.get_file_names()
        assert names == finished["seen"]["files"]
        inside.download_file("outputs/model.pkl", str(tmp_path / "model.pkl"))
        assert (tmp_path / "model.pkl").read_bytes() == b"weights"
        details = inside.get_details()
        assert [
            (d["dataset"].id, d["consumptionDetails"]["mechanism"])
            for d in details["inputDatasets"]
        ] == [(finished["table"].id, "Direct"), (finished["files"].id, "Mount")]
        assert (details["tags"], details["properties"]) == (
            {"epochs": "3", "stage": "train"},
            {"algo": "svm"},
        )

    def test_artifact_metrics(self, finished: dict[str, Any], tmp_path: Path) -> None:
        inside = finished["step"]
        metrics = inside.get_metrics()
        uri = f"aml://artifactId/ExperimentRun/dcid.{inside.id}/"

        assert metrics["accuracy"] == 0.9
        assert metrics["roc"] == f"{uri}roc.png"
        for name in ("plot", "cm", "acc", "res", "pred"):
            assert metrics[name].startswith(f"{uri}{name}_")
        plot = metrics["plot"].removeprefix(uri)
        assert plot.endswith(".png")
        inside.download_file(plot, str(tmp_path / "plot.png"))
        assert (tmp_path / "plot.png").read_bytes() == b"\x89PNG-plot"
        cm = metrics["cm"].removeprefix(uri)
        inside.download_file(cm, str(tmp_path / "cm.json"))
        cm_json = json.loads((tmp_path / "cm.json").read_text())
        assert cm_json["data"]["matrix"] == [[2, 0], [1, 3]]

    def test_run_details_of_a_finished_run(
        self, finished: dict[str, Any], capsys: pytest.CaptureFixture[str]
    ) -> None:
        from azureml.widgets import RunDetails

        run, inside = finished["run"], finished["step"]
        data = RunDetails(run).get_widget_data()

        assert set(data) == {
            "status",
            "workbench_run_details_uri",
            "run_id",
            "run_properties",
            "child_runs",
            "children_metrics",
            "run_metrics",
            "run_logs",
            "graph",
            "widget_settings",
        }
        assert (data["status"], data["run_id"]) == ("Finished", run.id)
        assert [(c["name"], c["status"]) for c in data["child_runs"]] == [
            ("train", "Finished")
        ]
        assert data["children_metrics"] == {inside.id: inside.get_metrics()}
        assert data["run_metrics"] == {}
        assert data["run_properties"]["status"] == "Finished"
        [node] = data["graph"]["module_nodes"].values()
        assert (node["name"], node["status"]) == ("train", "Finished")
        assert RunDetails(inside).get_widget_data()["run_metrics"]["accuracy"] == 0.9

        capsys.readouterr()
        assert RunDetails(run).show() is None
        shown = untimed(capsys.readouterr().out.splitlines())
        assert "[train] Finished" in shown
        assert shown[-1].startswith(f"[run] runapi / {run.id}: Finished · 1 of 1 steps")

        assert RunDetails(inside).show() is None  # a step run: only itself
        shown = untimed(capsys.readouterr().out.splitlines())
        assert shown[-2:][0] == "[train] Finished"
        assert shown[-1].startswith(f"[run] step train / {inside.id}: Finished · ")

    def test_on_a_terminal_the_table_is_drawn(
        self, finished: dict[str, Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import rich
        from azureml.widgets import RunDetails
        from rich.console import Console

        screen = io.StringIO()
        terminal = Console(file=screen, force_terminal=True, width=160)
        monkeypatch.setattr(rich, "_console", terminal)  # what get_console() returns
        RunDetails(finished["run"]).show()

        out = screen.getvalue()
        assert "\x1b[" in out  # drawn for a terminal, not written as plain lines
        out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
        header = next(line for line in out.splitlines() if " note " in line)
        cells = [c for c in header.split() if c not in "┃│"]
        assert cells == ["step", "status", "time", "step", "run", "note"]
        assert "train" in out
