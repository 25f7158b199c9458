"""The seeds' pipeline snippets, with only their imports changed, run end to end.

Seed 000 ("Moving data into and between ML pipeline steps") and seed 002 ("Pass data
between pipeline steps"). The step scripts are small ones written here; where a seed
shows the script's code, the script uses that code. Every test runs twice: with the
seeds' datastores as local folders, and as containers on Azurite (the ``blob`` kind,
``server`` marker), where the workspace's default datastore is a blob one too.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from execution.blob_kit import register_blob
from pipeline.kit import report, run_pipeline, step, write_script
from servers.azurite import ACCOUNT

from dataferry import (
    DataPath,
    Dataset,
    Datastore,
    Estimator,
    EstimatorStep,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PythonScriptStep,
    RunConfiguration,
    Workspace,
)
from dataferry.errors import DatasetError

IRIS_ROWS = 150
IMAGES = 80
cluster = "cpu-cluster"  # a compute name this workspace does not know: runs locally


@pytest.fixture(params=["local", pytest.param("blob", marks=pytest.mark.server)])
def kind(request: pytest.FixtureRequest) -> str:
    """Where the seeds' datastores live: local folders, or blob containers."""
    return str(request.param)


def register(
    request: pytest.FixtureRequest, workspace: Workspace, kind: str, name: str
) -> Datastore:
    """A new empty datastore ``name``: a folder, or a new container on Azurite."""
    if kind == "local":
        path = Path(str(request.getfixturevalue("tmp_path"))) / name
        return Datastore.register_local(workspace, name, path)
    return register_blob(
        workspace, request.getfixturevalue("azurite"), f"c{uuid.uuid4().hex[:12]}", name
    )


def upload(store: Datastore, folder: Path, target: str = "") -> None:
    """The files of a local ``folder`` onto ``store`` under ``target``."""
    store.upload(str(folder), target_path=target or None, show_progress=False)


def read(store: Datastore, path: str) -> dict[str, str]:
    """``{file name under path: text}`` of what ``store`` holds at ``path``."""
    location = store.location
    base = location.full_path(path).rstrip("/")
    found = {}
    for full in location.resolve(path):
        with location.open(full) as fh:
            found[full[len(base) :].lstrip("/")] = fh.read().decode()
    return found


@pytest.fixture
def default_store(
    request: pytest.FixtureRequest, workspace: Workspace, kind: str
) -> Datastore:
    """The workspace's default datastore: the built-in folder, or a blob container
    set as the default."""
    if kind == "local":
        return workspace.get_default_datastore()
    store = register(request, workspace, kind, "blob_default")
    store.set_as_default()
    return workspace.get_default_datastore()


@pytest.fixture
def datastore(
    request: pytest.FixtureRequest,
    workspace: Workspace,
    default_store: Datastore,
    tmp_path: Path,
    kind: str,
) -> Datastore:
    """``Datastore.get(workspace, 'training_data')``: iris.csv and an images folder."""
    folder = tmp_path / "training"
    folder.mkdir()
    lines = ["sepal_length,sepal_width,species"]
    lines += [f"{i * 0.1:.1f},{i % 7},{'abc'[i % 3]}" for i in range(IRIS_ROWS)]
    (folder / "iris.csv").write_text("\n".join(lines) + "\n")
    for i in range(IMAGES):
        image = folder / "images" / ("cat" if i % 2 else "dog") / f"{i}.jpg"
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_text(f"pixels {i}")
    if kind == "local":
        Datastore.register_local(workspace, "training_data", folder)
    else:
        upload(register(request, workspace, kind, "training_data"), folder)
    return Datastore.get(workspace, "training_data")


@pytest.fixture
def scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder the seeds' relative ``script_name``s are found in (the cwd)."""
    folder = tmp_path / "code"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


LIST_INPUTS = """
import json, os, sys
from dataferry import Run

def files(path):
    if os.path.isfile(path):
        return [os.path.basename(path)]
    return sorted(
        os.path.relpath(os.path.join(d, n), path) for d, _, ns in os.walk(path) for n in ns
    )

run = Run.get_context()
found = {}
for name, value in run.input_datasets.items():
    if isinstance(value, str):
        found[name] = {"path": value, "files": files(value)}
    else:
        df = value.to_pandas_dataframe()
        found[name] = {"type": type(value).__name__, "rows": df["sepal_length"].tolist()}
with open(sys.argv[1], "w") as fh:
    json.dump(found, fh)
"""


class TestSeed000:
    def test_tabular_dataset_cannot_be_mounted(
        self, datastore: Datastore, scripts: Path
    ) -> None:
        write_script(scripts, "train.py", "print('never runs')\n")
        iris_dataset = Dataset.Tabular.from_delimited_files(
            DataPath(datastore, "iris.csv")
        )

        with pytest.raises(DatasetError, match="Only FileDataset supports mount"):
            PythonScriptStep(
                name="train_data",
                script_name="train.py",
                compute_target=cluster,
                inputs=[iris_dataset.as_named_input("iris").as_mount()],
            )

    @pytest.mark.slow
    def test_named_input_as_mount(
        self,
        workspace: Workspace,
        datastore: Datastore,
        scripts: Path,
        tmp_path: Path,
        kind: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # without FUSE, as on a machine that has none: a blob mount is a read-only copy
        # (the FUSE mount of a blob input is tests/execution/test_fuse_inputs.py's)
        monkeypatch.setenv("DATAFERRY_FUSE", "off")
        out = tmp_path / "report.json"
        write_script(scripts, "train.py", LIST_INPUTS)
        iris_dataset = Dataset.File.from_files(DataPath(datastore, "iris.csv"))

        train_step = PythonScriptStep(
            name="train_data",
            script_name="train.py",
            compute_target=cluster,
            inputs=[iris_dataset.as_named_input("iris").as_mount()],
            arguments=[str(out)],
        )
        run = run_pipeline(Pipeline(workspace, [train_step]))

        assert run.get_status() == "Finished"
        seen = report(out)["iris"]
        # a single-file dataset mounts, in a read-only folder of the step's own, as a
        # link to the file on a local datastore (no copy), downloaded from a blob one
        folder = Path(step(run, "train_data").get_details()["logFiles"]["stdout.txt"])
        assert seen == {
            "path": f"{folder.parent}/inputs/iris/iris.csv",
            "files": ["iris.csv"],
        }
        notes = step(run, "train_data").get_details()["notes"]
        assert notes[0] == (
            "compute target 'cpu-cluster' is not configured in this workspace: "
            "step runs on the local executor"
        )
        assert notes[1:] == (
            []
            if kind == "local"
            else [
                "input 'iris': its datastore is not on this machine and FUSE is turned "
                "off by DATAFERRY_FUSE=off, so the mount is a read-only downloaded copy"
            ]
        )

    @pytest.mark.slow
    def test_sampled_splits_as_download_and_as_arguments(
        self, workspace: Workspace, datastore: Datastore, scripts: Path, tmp_path: Path
    ) -> None:
        images = Dataset.File.from_files(DataPath(datastore, "images"))
        iris_dataset = Dataset.Tabular.from_delimited_files(
            DataPath(datastore, "iris.csv")
        )
        write_script(scripts, "train.py", LIST_INPUTS)
        write_script(
            scripts,
            "train_args.py",
            """
            import argparse, json, os
            from dataferry import Run

            parser = argparse.ArgumentParser()
            parser.add_argument('--training-folder', type=str, dest='train_folder', help='training data folder mounting point')
            parser.add_argument('--report')
            args = parser.parse_args()
            training_data_folder = args.train_folder
            testing_data_folder = Run.get_context().input_datasets['test']

            with open(args.report, "w") as fh:
                json.dump({"train": training_data_folder, "test": testing_data_folder,
                           "inputs": sorted(Run.get_context().input_datasets)}, fh)
            """,
        )

        seed = 42  # PRNG seed
        smaller_dataset = images.take_sample(0.1, seed=seed)  # 10%
        train, test = smaller_dataset.random_split(percentage=0.8, seed=seed)
        assert train.to_path() and test.to_path()
        with pytest.raises(DatasetError, match="Only FileDataset supports download"):
            iris_dataset.take_sample(0.5, seed=seed).as_named_input(
                "train"
            ).as_download()

        train_step = PythonScriptStep(
            name="train_data",
            script_name="train.py",
            compute_target=cluster,
            inputs=[
                train.as_named_input("train").as_download(),
                test.as_named_input("test").as_download(),
            ],
            arguments=[str(tmp_path / "inputs.json")],
        )
        # Code for demonstration only: It would be very confusing to split datasets between `arguments` and `inputs`
        args_step = PythonScriptStep(
            name="train_args",
            script_name="train_args.py",
            compute_target=cluster,
            arguments=[
                "--training-folder",
                train.as_named_input("train").as_download(),
                "--report",
                str(tmp_path / "args.json"),
            ],
            inputs=[test.as_named_input("test").as_download()],
        )
        # tabular splits are read directly, as dataset objects
        rows_train, rows_test = iris_dataset.take_sample(0.5, seed=seed).random_split(
            0.8, seed=seed
        )
        tabular_step = PythonScriptStep(
            name="train_tabular",
            script_name="train.py",
            inputs=[
                rows_train.as_named_input("train"),
                rows_test.as_named_input("test"),
            ],
            arguments=[str(tmp_path / "tabular.json")],
        )
        run = run_pipeline(Pipeline(workspace, [train_step, args_step, tabular_step]))

        assert run.get_status() == "Finished"
        seen = report(tmp_path / "inputs.json")
        for name, part in (("train", train), ("test", test)):
            assert seen[name]["files"] == sorted(p.lstrip("/") for p in part.to_path())
            assert not seen[name]["path"].startswith(
                str(tmp_path / "training")
            )  # a copy
        args = report(tmp_path / "args.json")
        assert args["inputs"] == ["test", "train"]
        assert sorted(os.listdir(args["test"])) == sorted(
            {p.split("/")[1] for p in test.to_path()}
        )
        tabular = report(tmp_path / "tabular.json")
        assert tabular["train"] == {
            "type": "TabularDataset",
            "rows": rows_train.to_pandas_dataframe()["sepal_length"].tolist(),
        }
        assert (
            tabular["test"]["rows"]
            == rows_test.to_pandas_dataframe()["sepal_length"].tolist()
        )
        assert len(tabular["train"]["rows"]) + len(tabular["test"]["rows"]) == len(
            iris_dataset.take_sample(0.5, seed=seed).to_pandas_dataframe()
        )

    @pytest.mark.slow
    def test_output_file_dataset_config_for_intermediate_data(
        self, workspace: Workspace, datastore: Datastore, scripts: Path
    ) -> None:
        Dataset.File.from_files(DataPath(datastore, "images/cat")).register(
            workspace, "raw_data"
        )
        write_script(
            scripts,
            "dataprep.py",
            """
            import os, sys
            source, target = sys.argv[1], sys.argv[2]
            for name in sorted(os.listdir(source)):
                with open(os.path.join(source, name)) as fh, open(os.path.join(target, name + ".txt"), "w") as out:
                    out.write(fh.read().upper())
            """,
        )

        dataprep_output = OutputFileDatasetConfig()
        input_dataset = Dataset.get_by_name(workspace, "raw_data")
        dataprep_step = PythonScriptStep(
            name="prep_data",
            script_name="dataprep.py",
            compute_target=cluster,
            arguments=[
                input_dataset.as_named_input("raw_data").as_mount(),
                dataprep_output,
            ],
        )
        run = run_pipeline(Pipeline(workspace, [dataprep_step]))

        assert run.get_status() == "Finished"
        prep = step(run, "prep_data")
        written = prep.get_output_data(dataprep_output.name)
        # the default destination: the default datastore, dataset/{run-id}/{output-name}
        assert written.datastore_name == workspace.get_default_datastore().name
        assert written.path_on_datastore == f"dataset/{prep.id}/{dataprep_output.name}"
        made = read(workspace.get_default_datastore(), written.path_on_datastore)
        assert len(made) == IMAGES // 2
        assert made["1.jpg.txt"] == "PIXELS 1"
        # the mounted input was a read-only view of the registered folder, in the
        # step's own folder
        mounted = prep.get_details()["inputs"]["raw_data"]
        log_dir = Path(prep.get_details()["logFiles"]["stdout.txt"]).parent
        assert mounted["value"] == f"{log_dir}/inputs/raw_data"

    @pytest.mark.slow
    def test_upload_to_a_destination_read_by_the_next_step_and_registered(
        self,
        request: pytest.FixtureRequest,
        workspace: Workspace,
        default_store: Datastore,
        tmp_path: Path,
        scripts: Path,
        kind: str,
    ) -> None:
        if kind == "local":
            Datastore.register_local(workspace, "my_adlsgen2", tmp_path / "adls")
        else:  # an ADLS Gen2 registration of a container on Azurite
            container = register(request, workspace, kind, "lake_container")
            Datastore.register_azure_data_lake_gen2(
                workspace,
                "my_adlsgen2",
                container.container_name,
                ACCOUNT,
                connection_string=request.getfixturevalue("azurite").connection_string,
            )
        write_script(
            scripts,
            "step1.py",
            """
            import argparse, os
            parser = argparse.ArgumentParser()
            parser.add_argument('--output_path', dest='output_path', required=True)
            args = parser.parse_args()
            # Make directory for file
            os.makedirs(args.output_path, exist_ok=True)
            with open(os.path.join(args.output_path, "step1.txt"), 'w') as f:
                f.write("Step 1's output")
            """,
        )
        write_script(
            scripts,
            "step2.py",
            """
            import argparse, os, sys
            from dataferry import Dataset, Run
            parser = argparse.ArgumentParser()
            parser.add_argument('--pd')
            args = parser.parse_args()
            with open(os.path.join(args.pd, "step1.txt")) as fh:
                print("step2 read:", fh.read())
            run = Run.get_context()
            ws = run.experiment.workspace
            ds = Dataset.get_by_name(workspace=ws, name='mnist_opendataset')
            print("registered files:", len(ds.to_path()))
            """,
        )
        (tmp_path / "mnist").mkdir()
        (tmp_path / "mnist" / "0.png").write_text("0")
        Dataset.File.upload_directory(
            str(tmp_path / "mnist"), (workspace.get_default_datastore(), "mnist")
        )
        Dataset.File.from_files(
            DataPath(workspace.get_default_datastore(), "mnist")
        ).register(workspace, "mnist_opendataset")

        aml_run_config = RunConfiguration()
        compute = cluster
        # get adls gen 2 datastore already registered with the workspace
        datastore = workspace.datastores["my_adlsgen2"]
        step1_output_data = OutputFileDatasetConfig(
            name="processed_data",
            destination=(datastore, "mypath/{run-id}/{output-name}"),
        ).as_upload()
        step1_output_ds = step1_output_data.register_on_complete(
            name="processed_data", description="files from step1"
        )
        step1 = PythonScriptStep(
            name="generate_data",
            script_name="step1.py",
            runconfig=aml_run_config,
            arguments=["--output_path", step1_output_ds],
        )
        step2 = PythonScriptStep(
            name="read_pipeline_data",
            script_name="step2.py",
            compute_target=compute,
            runconfig=aml_run_config,
            arguments=["--pd", step1_output_data.as_input()],
        )
        pipeline = Pipeline(workspace=workspace, steps=[step1, step2])
        run = run_pipeline(pipeline)

        assert run.get_status() == "Finished"
        producer = step(run, "generate_data")
        assert read(datastore, f"mypath/{producer.id}/processed_data") == {
            "step1.txt": "Step 1's output"
        }
        log = step(run, "read_pipeline_data").get_job_log()
        assert "step2 read: Step 1's output" in log
        assert "registered files: 1" in log

        registered = Dataset.get_by_name(workspace, "processed_data")
        assert (registered.name, registered.version) == ("processed_data", 1)
        assert registered.description == "files from step1"
        assert registered.to_path() == ["/step1.txt"]
        version = workspace.catalog.get_version("processed_data")
        assert version.producer_step_run_id == producer.id
        assert producer.get_details()["registered"] == [
            {
                "name": "processed_data",
                "version": 1,
                "id": registered.id,
                "output": "processed_data",
            }
        ]


@pytest.mark.slow
class TestSeed002:
    def test_pipeline_data_between_a_script_step_and_an_estimator_step(
        self,
        workspace: Workspace,
        default_store: Datastore,
        scripts: Path,
        tmp_path: Path,
    ) -> None:
        ws = workspace
        (tmp_path / "raw").mkdir()
        (tmp_path / "raw" / "data.csv").write_text(
            "col1,col2,col3,col4\n"
            + "".join(f"{i},{i * 2},{i * 3},x{i}\n" for i in range(10))
        )
        upload(default_store, tmp_path / "raw", "raw")
        Dataset.Tabular.from_delimited_files(
            DataPath(ws.get_default_datastore(), "raw/data.csv")
        ).register(ws, "raw_dataset")
        write_script(
            scripts / "scripts",
            "data_prep.py",
            """
            # code in data_prep.py
            from dataferry import Run
            import argparse
            import os

            # Get the experiment run context
            run = Run.get_context()

            # Get input dataset as dataframe
            raw_df = run.input_datasets['raw_data'].to_pandas_dataframe()

            # Get PipelineData argument
            parser = argparse.ArgumentParser()
            parser.add_argument('--folder', type=str, dest='folder')
            args = parser.parse_args()
            output_folder = args.folder

            # code to prep data (in this case, just select specific columns)
            prepped_df = raw_df[['col1', 'col2', 'col3']]

            # Save prepped data to the PipelineData location
            os.makedirs(output_folder, exist_ok=True)
            output_path = os.path.join(output_folder, 'prepped_data.csv')
            prepped_df.to_csv(output_path)
            """,
        )
        write_script(
            scripts / "scripts",
            "train.py",
            """
            import argparse, csv, os
            from dataferry import Run
            parser = argparse.ArgumentParser()
            parser.add_argument('--folder', type=str, dest='folder')
            args = parser.parse_args()
            with open(os.path.join(args.folder, 'prepped_data.csv')) as fh:
                rows = list(csv.DictReader(fh))
            run = Run.get_context()
            run.log('rows', len(rows))
            run.log('col3_sum', sum(int(r['col3']) for r in rows))
            """,
        )
        run_config = RunConfiguration()
        sk_estimator = Estimator(
            source_directory="scripts",
            entry_script="train.py",
            compute_target="aml-cluster",
        )

        # Get a dataset for the initial data
        raw_ds = Dataset.get_by_name(ws, "raw_dataset")

        # Define a PipelineData object to pass data between steps
        data_store = ws.get_default_datastore()
        prepped_data = PipelineData("prepped", datastore=data_store)

        # Step to run a Python script
        step1 = PythonScriptStep(
            name="prepare data",
            source_directory="scripts",
            script_name="data_prep.py",
            compute_target="aml-cluster",
            runconfig=run_config,
            # Specify dataset as initial input
            inputs=[raw_ds.as_named_input("raw_data")],
            # Specify PipelineData as output
            outputs=[prepped_data],
            # Also pass as data reference to script
            arguments=["--folder", prepped_data],
        )

        # Step to run an estimator
        with pytest.warns(DeprecationWarning, match="EstimatorStep is deprecated"):
            step2 = EstimatorStep(
                name="train model",
                estimator=sk_estimator,
                compute_target="aml-cluster",
                # Specify PipelineData as input
                inputs=[prepped_data],
                # Pass as data reference to estimator script
                estimator_entry_script_arguments=["--folder", prepped_data],
            )

        pipeline = Pipeline(
            ws, steps=[step2]
        )  # step1 comes in as the producer of prepped
        assert pipeline.steps == [step2, step1]
        run = run_pipeline(pipeline)

        assert run.get_status() == "Finished"
        prep, train = step(run, "prepare data"), step(run, "train model")
        assert train.get_metrics() == {
            "rows": 10,
            "col3_sum": sum(i * 3 for i in range(10)),
        }
        written = prep.get_output_data("prepped")
        assert written.path_on_datastore == f"azureml/{prep.id}/prepped"
        prepped = read(default_store, written.path_on_datastore)["prepped_data.csv"]
        assert prepped.splitlines()[0] == ",col1,col2,col3"
        assert prep.get_details()["inputs"]["raw_data"]["mode"] == "direct"
