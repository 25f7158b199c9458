"""Pipeline parameters, step order (run_after, StepSequence) and CommandStep."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from pipeline.kit import ARGV_REPORT, report, run_pipeline, step, write_script

from dataferry import (
    CommandStep,
    DataPath,
    Dataset,
    DatasetConsumptionConfig,
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
    StepSequence,
)
from dataferry.catalog.run_store import RunStore
from dataferry.errors import PipelineValidationError

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore, Workspace

# Appends "<name> start <t>" and "<name> end <t>" around a short sleep.
TIMED = """
import sys, time
name, log, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(log, "a") as fh:
    fh.write(f"{name} start {time.time()}\\n")
time.sleep(seconds)
with open(log, "a") as fh:
    fh.write(f"{name} end {time.time()}\\n")
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = write_script(tmp_path / "code", "argv.py", ARGV_REPORT)
    return write_script(folder, "timed.py", TIMED)


def times(log: Path) -> dict[str, tuple[float, float]]:
    """``{step: (start, end)}`` from a TIMED log."""
    marks: dict[str, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        name, what, stamp = line.split()
        marks.setdefault(name, {})[what] = float(stamp)
    return {name: (m["start"], m["end"]) for name, m in marks.items()}


class TestParameters:
    @pytest.mark.slow
    def test_defaults_overrides_and_params(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        lr = PipelineParameter("learning rate", default_value=0.1)
        label = PipelineParameter("label", default_value="base")
        mode = PipelineParameter("mode", default_value="fast")
        out = tmp_path / "argv.json"
        s = PythonScriptStep(
            "argv.py",
            source_directory=str(code),
            arguments=[
                str(out),
                "--lr",
                lr,
                "--label",
                label,
                "--epochs",
                "parameter:epochs",
            ],
            params={"epochs": 3, "mode": mode},
        )
        pipeline = Pipeline(workspace, [s])

        first = run_pipeline(pipeline)
        defaults = report(out)
        second = run_pipeline(
            pipeline, pipeline_parameters={"learning rate": 0.5, "mode": "slow"}
        )
        overridden = report(out)

        assert (first.get_status(), second.get_status()) == ("Finished", "Finished")
        assert defaults["argv"] == ["--lr", "0.1", "--label", "base", "--epochs", "3"]
        assert overridden["argv"] == ["--lr", "0.5", "--label", "base", "--epochs", "3"]
        # params are env variables; argument parameters too, as $AML_PARAMETER_<name>
        assert defaults["env"] == {
            "AML_PARAMETER_epochs": "3",
            "AML_PARAMETER_mode": "fast",
            "AML_PARAMETER_learning_rate": "0.1",
            "AML_PARAMETER_label": "base",
        }
        assert overridden["env"]["AML_PARAMETER_mode"] == "slow"
        assert second.get_details()["parameters"] == {
            "learning rate": 0.5,
            "label": "base",
            "mode": "slow",
        }

    def test_unknown_parameter(self, workspace: Workspace, code: Path) -> None:
        s = PythonScriptStep(
            "argv.py",
            source_directory=str(code),
            arguments=["x", PipelineParameter("lr", default_value=0.1)],
        )

        with pytest.raises(
            PipelineValidationError,
            match=r"Pipeline parameter with name lrr does not exist \(parameters: ",
        ):
            Pipeline(workspace, [s]).submit("exp", pipeline_parameters={"lrr": 1})
        assert RunStore(workspace.catalog).list_runs() == []

    def test_override_of_another_kind(
        self, workspace: Workspace, blobstore: Datastore, store_root: Path, code: Path
    ) -> None:
        (store_root / "a.csv").write_text("x\n1\n")
        files = Dataset.File.from_files(DataPath(blobstore, "a.csv"))
        table = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "a.csv"))
        data = PipelineParameter("data", default_value=files)
        where = PipelineParameter("where", default_value=DataPath(blobstore, "a.csv"))
        s = PythonScriptStep(
            "argv.py",
            source_directory=str(code),
            inputs=[DatasetConsumptionConfig("data", data)],
            arguments=["x", where],
        )
        pipeline = Pipeline(workspace, [s])

        with pytest.raises(
            TypeError,
            match=r"'data' has a FileDataset default; it cannot be overridden with "
            r"'a\.csv' \(str\)\. Pass a FileDataset\.$",
        ):
            pipeline.submit("exp", pipeline_parameters={"data": "a.csv"})
        with pytest.raises(
            TypeError, match="'data' needs a FileDataset, not a TabularDataset"
        ):
            pipeline.submit("exp", pipeline_parameters={"data": table})
        with pytest.raises(TypeError, match="'where' has a DataPath default"):
            pipeline.submit("exp", pipeline_parameters={"where": "a.csv"})
        assert RunStore(workspace.catalog).list_runs() == []

    @pytest.mark.slow
    def test_experiment_submit_with_legacy_alias_and_tags(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "argv.json"
        s = PythonScriptStep(
            "argv.py",
            source_directory=str(code),
            arguments=[str(out), PipelineParameter("n", default_value=1)],
        )
        experiment = Experiment(workspace, "legacy")

        run = experiment.submit(
            Pipeline(workspace, [s]), tags={"team": "data"}, pipeline_params={"n": 7}
        )
        status = run.wait_for_completion(show_output=False)

        assert status == "Finished"
        assert report(out)["argv"] == ["7"]
        assert run.tags == {"team": "data"}
        assert [r.id for r in experiment.get_runs()] == [run.id]


@pytest.mark.slow
class TestOrder:
    def test_step_sequence_and_run_after(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        log = tmp_path / "times.log"

        def timed(name: str) -> PythonScriptStep:
            return PythonScriptStep(
                "timed.py",
                name=name,
                source_directory=str(code),
                arguments=[name, str(log), 0.2],
            )

        a, b, c, d = timed("a"), timed("b"), timed("c"), timed("d")
        d.run_after(a)  # d waits for a only; b and c follow each other
        pipeline = Pipeline(workspace, [StepSequence(steps=[a, b, c]), d])

        run = run_pipeline(pipeline)

        assert run.get_status() == "Finished"
        t = times(log)
        assert t["a"][1] <= t["b"][0]
        assert t["b"][1] <= t["c"][0]
        assert t["a"][1] <= t["d"][0]


@pytest.mark.slow
class TestCommandStep:
    def test_shell_string(self, workspace: Workspace, tmp_path: Path) -> None:
        out = OutputFileDatasetConfig(name="greeting").as_upload()
        s = CommandStep(
            "echo hello from $AML_PARAMETER_who > $greeting/hello.txt && echo done",
            name="shell",
            outputs=[out],
            params={"who": "bash"},
            source_directory=str(tmp_path),
        )

        run = run_pipeline(Pipeline(workspace, [s]))

        shell = step(run, "shell")
        assert run.get_status() == "Finished", shell.get_job_log()
        assert shell.get_stdout_log() == "done\n"
        folder = tmp_path / "dl"
        shell.get_output_data("greeting").download(str(folder))
        written = folder / shell.get_output_data("greeting").path_on_datastore
        assert (written / "hello.txt").read_text() == "hello from bash\n"

    def test_list_with_data_objects(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
        tmp_path: Path,
    ) -> None:
        (store_root / "in.txt").write_text("payload")
        source = Dataset.File.from_files(DataPath(blobstore, "in.txt"))
        out = OutputFileDatasetConfig(name="copied")
        code = "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2] + '/out.txt')"
        s = CommandStep(
            ["python", "-c", code, source.as_named_input("src").as_mount(), out],
            name="copy",
            source_directory=str(tmp_path),
        )

        run = run_pipeline(Pipeline(workspace, [s]))

        copy = step(run, "copy")
        assert run.get_status() == "Finished", copy.get_job_log()
        written = store_root / copy.get_output_data("copied").path_on_datastore
        assert (written / "out.txt").read_text() == "payload"

    def test_failing_command(self, workspace: Workspace, tmp_path: Path) -> None:
        s = CommandStep(
            "echo broken >&2; exit 4", name="bad", source_directory=str(tmp_path)
        )

        run = run_pipeline(Pipeline(workspace, [s]))

        bad = step(run, "bad")
        assert bad.get_status() == "Failed"
        details = bad.get_details()
        assert details["exitCode"] == 4
        assert details["error"] == "step 'bad' failed (exit code 4):\nbroken"
