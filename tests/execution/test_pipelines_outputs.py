"""Step outputs: where they are committed, in which mode, how later steps read them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import report, run_pipeline, step, write_script

from dataferry import (
    Dataset,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PythonScriptStep,
    TabularDataset,
)
from dataferry.errors import RunError
from dataferry.execution.commit import STAGING_DIR

if TYPE_CHECKING:
    from dataferry import Workspace

# Writes a.csv, b.txt and sub/c.csv into every folder named after the report path, and
# into ./local_out; reports run.output_datasets and the output environment variables.
WRITER = """
import json, os, sys
from dataferry import Run

def fill(folder):
    os.makedirs(os.path.join(folder, "sub"), exist_ok=True)
    with open(os.path.join(folder, "a.csv"), "w") as fh:
        fh.write("n,label\\n1,one\\n2,two\\n")
    with open(os.path.join(folder, "b.txt"), "w") as fh:
        fh.write("not a table")
    with open(os.path.join(folder, "sub", "c.csv"), "w") as fh:
        fh.write("n,label\\n3,three\\n")

for folder in sys.argv[2:]:
    fill(folder)
if os.path.isdir("local_out"):
    fill("local_out")
outputs = dict(Run.get_context().output_datasets)
with open(sys.argv[1], "w") as fh:
    json.dump({
        "output_datasets": outputs,
        "env": {name: os.environ.get(name) for name in outputs},
        "file_outputs": os.environ.get("AZUREML_DATASET_FILE_OUTPUTS"),
    }, fh)
"""

# Reads every input of run.input_datasets: tables as records, paths as file lists.
READER = """
import json, os, sys
from dataferry import Run

seen = {}
for name, value in Run.get_context().input_datasets.items():
    if isinstance(value, str):
        found = [os.path.join(d, n) for d, _, ns in os.walk(value) for n in ns]
        seen[name] = sorted(os.path.relpath(f, value) for f in found)
    else:
        frame = value.to_pandas_dataframe()
        seen[name] = {
            "type": type(value).__name__,
            "records": frame.to_dict("records"),
        }
seen["argv"] = sys.argv[2:]
seen["argv_files"] = [
    sorted(os.path.relpath(os.path.join(d, n), a) for d, _, ns in os.walk(a) for n in ns)
    for a in sys.argv[2:] if os.path.isdir(a)
]
with open(sys.argv[1], "w") as fh:
    json.dump(seen, fh)
"""

ALL_FILES = ["a.csv", "b.txt", "sub/c.csv"]


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = write_script(tmp_path / "code", "writer.py", WRITER)
    write_script(folder, "reader.py", READER)
    write_script(
        folder,
        "parquet.py",
        """
        import os, sys
        import pandas as pd
        os.makedirs(sys.argv[1], exist_ok=True)
        frame = pd.DataFrame({"n": [1, 2], "score": [0.5, 1.5]})
        frame.to_parquet(os.path.join(sys.argv[1], "part.parquet"))
        """,
    )
    return folder


def files_under(folder: Path) -> list[str]:
    found = [os.path.join(d, n) for d, _, ns in os.walk(folder) for n in ns]
    return sorted(os.path.relpath(f, folder) for f in found)


@pytest.mark.slow
class TestOutputFileDatasetConfig:
    def test_modes_destinations_and_globs(
        self, workspace: Workspace, store_root: Path, code: Path, tmp_path: Path
    ) -> None:
        mounted = OutputFileDatasetConfig(name="mounted")
        uploaded = OutputFileDatasetConfig(name="uploaded").as_upload()
        globbed = OutputFileDatasetConfig(name="globbed").as_upload(
            source_globs="*.csv"
        )
        fixed = OutputFileDatasetConfig(
            name="fixed",
            destination=(workspace.get_default_datastore(), "fixed/{output-name}"),
        )
        local = OutputFileDatasetConfig(name="local", source="local_out").as_upload()
        out = tmp_path / "writer.json"
        writer = PythonScriptStep(
            "writer.py",
            source_directory=str(code),
            arguments=[str(out), mounted, uploaded, globbed, fixed],
            outputs=[local],
        )

        run = run_pipeline(Pipeline(workspace, [writer]))

        s = step(run, "writer.py")
        assert run.get_status() == "Finished", s.get_job_log()
        # the default destination: dataset/{run-id}/{output-name} on the default store
        for name in ("mounted", "uploaded", "globbed", "local"):
            written = s.get_output_data(name)
            assert written.datastore_name == "workspaceblobstore"
            assert written.path_on_datastore == f"dataset/{s.id}/{name}"
        assert s.get_output_data("fixed").path_on_datastore == "fixed/fixed"
        expected = {
            "mounted": ALL_FILES,
            "uploaded": ALL_FILES,
            "globbed": ["a.csv", "sub/c.csv"],
            "local": ALL_FILES,
            "fixed": ALL_FILES,
        }
        for name, files in expected.items():
            folder = store_root / s.get_output_data(name).path_on_datastore
            assert files_under(folder) == files, name
        # nothing is left in the staging area
        assert files_under(store_root / STAGING_DIR) == []
        # in the step: run.output_datasets and {name} hold the folder to write to
        seen = report(out)
        assert sorted(seen["output_datasets"]) == [
            "fixed",
            "globbed",
            "local",
            "mounted",
            "uploaded",
        ]
        assert seen["env"] == seen["output_datasets"]
        assert sorted(seen["file_outputs"].split(";")) == sorted(
            seen["output_datasets"]
        )
        assert seen["output_datasets"]["local"].endswith("/local_out")

    def test_upload_to_an_existing_path(
        self, workspace: Workspace, store_root: Path, code: Path, tmp_path: Path
    ) -> None:
        store = workspace.get_default_datastore()
        for folder in ("keep", "merge"):
            (store_root / folder).mkdir()
            (store_root / folder / "a.csv").write_text("old")
            (store_root / folder / "old.txt").write_text("old")
        refused = OutputFileDatasetConfig(
            name="refused", destination=(store, "keep")
        ).as_upload()
        merged = OutputFileDatasetConfig(
            name="merged", destination=(store, "merge")
        ).as_upload(overwrite=True)
        a = PythonScriptStep(
            "writer.py",
            name="a",
            source_directory=str(code),
            arguments=[str(tmp_path / "a"), refused],
        )
        b = PythonScriptStep(
            "writer.py",
            name="b",
            source_directory=str(code),
            arguments=[str(tmp_path / "b"), merged],
        )

        run = run_pipeline(Pipeline(workspace, [a, b]), continue_on_step_failure=True)

        assert run.get_status() == "Failed"
        failed = step(run, "a")
        assert failed.get_status() == "Failed"
        error = failed.get_details()["error"]
        assert error.startswith("Output path already exist: output 'refused'")
        assert "workspaceblobstore:/keep" in error
        assert not (tmp_path / "a").exists()  # the script never started
        assert files_under(store_root / "keep") == ["a.csv", "old.txt"]
        assert (store_root / "keep" / "a.csv").read_text() == "old"
        # overwrite=True merges: new files replace old ones, others stay
        assert step(run, "b").get_status() == "Finished"
        assert files_under(store_root / "merge") == [
            "a.csv",
            "b.txt",
            "old.txt",
            "sub/c.csv",
        ]
        assert (store_root / "merge" / "a.csv").read_text().startswith("n,label")

    def test_source_folders_that_are_not_the_steps_own(
        self, workspace: Workspace, store_root: Path, code: Path, tmp_path: Path
    ) -> None:
        mine = tmp_path / "mine"
        mine.mkdir()
        (mine / "precious.txt").write_text("keep me")
        fresh = tmp_path / "fresh"
        outputs = {
            "full": OutputFileDatasetConfig(name="full", source=str(mine)).as_upload(),
            "climbs": OutputFileDatasetConfig(name="climbs", source="../../x"),
            "fresh": OutputFileDatasetConfig(name="fresh", source=str(fresh)),
        }
        steps = [
            PythonScriptStep(
                "writer.py",
                name=name,
                source_directory=str(code),
                arguments=[str(tmp_path / f"{name}.json"), out],
            )
            for name, out in outputs.items()
        ]

        run = run_pipeline(Pipeline(workspace, steps), continue_on_step_failure=True)

        errors = {n: step(run, n).get_details().get("error", "") for n in outputs}
        assert errors["full"].startswith(
            f"output 'full': source {mine} exists and is not an empty folder"
        )
        assert (mine / "precious.txt").read_text() == "keep me"
        assert errors["climbs"].startswith(
            "output 'climbs': source '../../x' is outside the step's working folder"
        )
        assert errors["fresh"] == ""
        fresh_out = (
            store_root / step(run, "fresh").get_output_data("fresh").path_on_datastore
        )
        assert files_under(fresh_out) == ALL_FILES

    def test_mount_to_a_fixed_path_twice(
        self, workspace: Workspace, store_root: Path, code: Path, tmp_path: Path
    ) -> None:
        store = workspace.get_default_datastore()
        out = OutputFileDatasetConfig(
            name="sample", destination=(store, "sample/outputdataset")
        )
        (store_root / "sample" / "outputdataset").mkdir(parents=True)
        (store_root / "sample" / "outputdataset" / "earlier.txt").write_text(
            "from before"
        )
        writer = PythonScriptStep(
            "writer.py",
            source_directory=str(code),
            arguments=[str(tmp_path / "w"), out],
        )

        run = run_pipeline(Pipeline(workspace, [writer]))

        # mount mode writes in place: the same path serves every run
        assert run.get_status() == "Finished", step(run, "writer.py").get_details()
        assert files_under(store_root / "sample" / "outputdataset") == [
            "a.csv",
            "b.txt",
            "earlier.txt",
            "sub/c.csv",
        ]

    def test_tabular_views_of_an_output(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        table = OutputFileDatasetConfig(name="table")
        registered = (
            table.read_delimited_files(path_glob=".*\\.csv$")
            .keep_columns(["label"])
            .register_on_complete("table_rows", description="rows of a.csv and c.csv")
        )
        pq = OutputFileDatasetConfig(name="pq")
        writer = PythonScriptStep(
            "writer.py",
            source_directory=str(code),
            arguments=[str(tmp_path / "w"), registered],
        )
        parquet = PythonScriptStep(
            "parquet.py", source_directory=str(code), arguments=[pq]
        )
        out = tmp_path / "reader.json"
        reader = PythonScriptStep(
            "reader.py",
            source_directory=str(code),
            arguments=[str(out)],
            inputs=[
                table.read_delimited_files(path_glob=".*\\.csv$").as_input("rows"),
                table.read_delimited_files(
                    path_glob=".*\\.csv$", set_column_types={"n": "int"}
                )
                .keep_columns(["n"])
                .as_input("typed"),
                pq.read_parquet_files().as_input("pq"),
                table.as_input("files"),
                table.as_input("files_copy").as_download(),
            ],
        )

        pipeline = Pipeline(workspace, [reader])  # the producers come in
        assert set(pipeline.steps) == {reader, writer, parquet}
        run = run_pipeline(pipeline)

        assert run.get_status() == "Finished", step(run, "reader.py").get_job_log()
        seen = report(out)
        # without set_column_types every column stays a string, as in the original SDK
        assert seen["rows"] == {
            "type": "TabularDataset",
            "records": [
                {"n": "1", "label": "one"},
                {"n": "2", "label": "two"},
                {"n": "3", "label": "three"},
            ],
        }
        assert seen["typed"]["records"] == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert seen["pq"]["records"] == [{"n": 1, "score": 0.5}, {"n": 2, "score": 1.5}]
        assert seen["files"] == seen["files_copy"] == ALL_FILES
        rows = Dataset.get_by_name(workspace, "table_rows")
        assert isinstance(rows, TabularDataset)
        assert (rows.version, rows.description) == (1, "rows of a.csv and c.csv")
        # the registered view keeps its transforms; the step's own view is not affected
        assert rows.to_pandas_dataframe().to_dict("list") == {
            "label": ["one", "two", "three"]
        }

    def test_register_on_complete_adds_a_version_per_run(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        out = OutputFileDatasetConfig(name="o").register_on_complete(
            "outs", tags={"k": "v"}
        )
        writer = PythonScriptStep(
            "writer.py",
            source_directory=str(code),
            arguments=[str(tmp_path / "w"), out],
            allow_reuse=False,
        )
        pipeline = Pipeline(workspace, [writer])

        first = run_pipeline(pipeline)
        second = run_pipeline(pipeline)

        versions = [Dataset.get_by_name(workspace, "outs", version=v) for v in (1, 2)]
        assert [v.tags for v in versions] == [{"k": "v"}, {"k": "v"}]
        producers = [
            workspace.catalog.get_version("outs", v).producer_step_run_id
            for v in (1, 2)
        ]
        assert producers == [step(first, "writer.py").id, step(second, "writer.py").id]
        assert Dataset.get_by_name(workspace, "outs").version == 2


@pytest.mark.slow
class TestPipelineData:
    def test_modes_and_dataset_views(
        self, workspace: Workspace, store_root: Path, code: Path, tmp_path: Path
    ) -> None:
        prepped = PipelineData("prepped")
        renamed = PipelineData("raw", output_name="raw_out", output_mode="upload")
        writer = PythonScriptStep(
            "writer.py",
            name="write",
            source_directory=str(code),
            outputs=[prepped, renamed],
            arguments=[str(tmp_path / "w"), prepped, renamed],
        )
        copy = prepped.as_download(input_name="prepped_copy")
        out = tmp_path / "reader.json"
        reader = PythonScriptStep(
            "reader.py",
            name="read",
            source_directory=str(code),
            inputs=[
                copy,
                prepped.as_dataset(),
                prepped.as_dataset()
                .parse_delimited_files(file_extension=".csv")
                .as_named_input("prepped_rows"),
                renamed.as_dataset().as_named_input("raw_files").as_download(),
            ],
            arguments=[str(out), "--copy", copy],
        )

        pipeline = Pipeline(workspace, [reader])
        assert pipeline.steps == [reader, writer]
        run = run_pipeline(pipeline)

        assert run.get_status() == "Finished", step(run, "read").get_job_log()
        w = step(run, "write")
        # the default path: azureml/{step-run-id}/{output_name}, default datastore
        assert (
            w.get_output_data("prepped").path_on_datastore == f"azureml/{w.id}/prepped"
        )
        assert (
            w.get_output_data("raw_out").path_on_datastore == f"azureml/{w.id}/raw_out"
        )
        assert files_under(store_root / "azureml" / w.id / "raw_out") == ALL_FILES
        seen = report(out)
        # PipelineData is not in run.input_datasets; promoted with as_dataset it is
        assert sorted(seen) == [
            "argv",
            "argv_files",
            "prepped",
            "prepped_rows",
            "raw_files",
        ]
        assert seen["prepped"] == ALL_FILES
        assert seen["raw_files"] == ALL_FILES
        assert seen["prepped_rows"]["type"] == "TabularDataset"
        assert seen["prepped_rows"]["records"] == [
            {"n": 1, "label": "one"},
            {"n": 2, "label": "two"},
            {"n": 3, "label": "three"},
        ]
        # as_download copies: the argument is a folder of the read step's own
        copied = seen["argv"][1]
        assert seen["argv_files"] == [ALL_FILES]
        assert copied == (
            f"{Path(step(run, 'read').get_details()['logFiles']['stdout.txt']).parent}"
            "/inputs/prepped_copy"
        )
        assert files_under(Path(copied)) == ALL_FILES

    def test_output_data_download_registration_and_reading_it_later(
        self, workspace: Workspace, store_root: Path, code: Path, tmp_path: Path
    ) -> None:
        prepped = PipelineData("prepped")
        writer = PythonScriptStep(
            "writer.py",
            source_directory=str(code),
            outputs=[prepped.as_dataset().register("prepped_ds")],
            arguments=[str(tmp_path / "w"), prepped],
        )
        run = run_pipeline(Pipeline(workspace, [writer]))
        s = step(run, "writer.py")

        reference = s.get_output_data("prepped")
        count = reference.download(str(tmp_path / "local"))

        assert count == 3
        assert (
            files_under(tmp_path / "local" / "azureml" / s.id / "prepped") == ALL_FILES
        )
        assert sorted(s.get_outputs()) == ["prepped"]
        with pytest.raises(
            RunError, match="has no committed output 'nope'; committed: \\['prepped'\\]"
        ):
            s.get_output_data("nope")
        registered = Dataset.get_by_name(workspace, "prepped_ds")
        assert registered.to_path() == ["/a.csv", "/b.txt", "/sub/c.csv"]
        # a committed output is an input of a later pipeline
        later = reference.as_mount()
        out = tmp_path / "later.json"
        reader = PythonScriptStep(
            "reader.py",
            source_directory=str(code),
            inputs=[later],
            arguments=[str(out), later],
        )
        later_run = run_pipeline(Pipeline(workspace, [reader]))
        assert later_run.get_status() == "Finished"
        # mounted: a read-only view of links to the committed files, in the step's
        # own folder
        folder = Path(
            step(later_run, "reader.py").get_details()["logFiles"]["stdout.txt"]
        )
        assert report(out)["argv"] == [f"{folder.parent}/inputs/prepped"]
        assert report(out)["argv_files"] == [ALL_FILES]


@pytest.mark.slow
def test_get_pipeline_output_finds_the_named_pipeline_data(
    workspace: Workspace, code: Path, tmp_path: Path
) -> None:
    model = PipelineData("model", pipeline_output_name="final_model")
    writer = PythonScriptStep(
        "writer.py",
        name="write",
        source_directory=str(code),
        outputs=[model],
        arguments=[str(tmp_path / "w"), model],
    )
    run = run_pipeline(Pipeline(workspace, [writer]))

    ref = run.get_pipeline_output("final_model")
    assert (
        ref.path_on_datastore
        == step(run, "write").get_output_data("model").path_on_datastore
    )
    assert ref.download(str(tmp_path / "dl")) == len(ALL_FILES)
    # the step run's lineage names what it wrote, and where
    lineage = step(run, "write").get_details()["lineage"]
    assert {
        "role": "output",
        "name": "model",
        "datastore": ref.datastore_name,
        "path": ref.path_on_datastore,
    } in lineage
    with pytest.raises(RunError, match="no pipeline output named 'nope'"):
        run.get_pipeline_output("nope")


def test_training_output_is_refused_not_ignored() -> None:
    from dataferry.errors import StepDefinitionError

    with pytest.raises(StepDefinitionError, match="no AutoML step"):
        PipelineData("metrics", training_output=object())
