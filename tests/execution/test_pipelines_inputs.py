"""Step inputs as a running step sees them: datasets, data paths and references."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import report, run_pipeline, step, write_script

from dataferry import (
    DataPath,
    DataPathComputeBinding,
    Dataset,
    DatasetConsumptionConfig,
    Datastore,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
    Workspace,
)

if TYPE_CHECKING:
    from pathlib import Path

# every test runs real pipelines: a driver process and step processes each
pytestmark = pytest.mark.slow

# Records, for every input: what run.input_datasets holds, the env variables of its
# name, and what the path holds.
SEE_INPUTS = """
import json, os, sys
from dataferry import Run

def describe(path):
    if os.path.isfile(path):
        return {"file": open(path).read()}
    found = [os.path.join(d, n) for d, _, ns in os.walk(path) for n in ns]
    # which file's bytes each entry is (a link to it, or it on a read-only bind mount)
    data = {os.path.relpath(f, path): "%d:%d" % (os.stat(f).st_dev, os.stat(f).st_ino) for f in found}
    return {"files": sorted(os.path.relpath(f, path) for f in found), "data": data}

run = Run.get_context()
seen = {"argv": sys.argv[2:], "cwd": os.getcwd(), "inputs": {}, "refs": {}}
for name, value in run.input_datasets.items():
    entry = {"env": os.environ.get(name)}
    if isinstance(value, str):
        entry.update(path=value, real=os.path.realpath(value), **describe(value))
    else:
        entry.update(type=type(value).__name__, id=value.id)
        if hasattr(value, "to_path"):
            entry["paths"] = value.to_path()
    seen["inputs"][name] = entry
for key, value in os.environ.items():
    if key.startswith("AZUREML_DATAREFERENCE_"):
        name = key[len("AZUREML_DATAREFERENCE_"):]
        seen["refs"][name] = {"path": value, **describe(value)}
with open(sys.argv[1], "w") as fh:
    json.dump(seen, fh)
"""


@pytest.fixture
def docs(store_root: Path, blobstore: Datastore) -> Path:
    """``docs/`` on the default datastore: a.txt, b.txt, sub/c.csv."""
    folder = store_root / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "b.txt").write_text("B")
    (folder / "sub" / "c.csv").write_text("x\n1\n")
    return folder


@pytest.fixture
def code(tmp_path: Path) -> Path:
    return write_script(tmp_path / "code", "see.py", SEE_INPUTS)


def inputs_folder(run: Any, name: str = "see.py") -> str:
    """Where a step's inputs without a path_on_compute are: ``<step folder>/inputs``."""
    stdout = step(run, name).get_details()["logFiles"]["stdout.txt"]
    return os.path.join(os.path.dirname(stdout), "inputs")


def same_data(folder: Path, names: list[str]) -> dict[str, str]:
    """What ``SEE_INPUTS`` reports for entries showing these files themselves."""
    ids = {}
    for name in names:
        st = os.stat(folder / name)
        ids[name] = f"{st.st_dev}:{st.st_ino}"
    return ids


def see_step(
    code: Path,
    out: Path,
    *,
    arguments: list[Any] | None = None,
    inputs: list[Any] | None = None,
) -> PythonScriptStep:
    """A step running ``see.py``, which reports to ``out``."""
    return PythonScriptStep(
        "see.py",
        source_directory=str(code),
        arguments=[str(out), *(arguments or [])],
        inputs=inputs,
    )


class TestDatasetInputs:
    def test_each_mode(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        docs: Path,
        code: Path,
        tmp_path: Path,
    ) -> None:
        folder = Dataset.File.from_files(DataPath(blobstore, "docs"))
        single = Dataset.File.from_files(DataPath(blobstore, "docs/a.txt"))
        subset = Dataset.File.from_files(DataPath(blobstore, "docs/*.txt"))
        one_file_folder = Dataset.File.from_files(DataPath(blobstore, "docs/sub"))
        out = tmp_path / "seen.json"
        s = see_step(
            code,
            out,
            inputs=[
                folder.as_named_input("mounted").as_mount(),
                single.as_named_input("single").as_mount(),
                subset.as_named_input("subset").as_mount(),
                folder.as_named_input("copied").as_download(),
                single.as_named_input("single_copy").as_download(),
                folder.as_named_input("direct"),
                folder.as_named_input("placed").as_mount(path_on_compute="data/placed"),
                folder.as_named_input("placed_copy").as_download(
                    path_on_compute="data/copy"
                ),
                one_file_folder.as_named_input("sub").as_mount(),
                one_file_folder.as_named_input("sub_copy").as_download(),
            ],
        )
        run = run_pipeline(Pipeline(workspace, [s]))

        assert run.get_status() == "Finished", step(run, "see.py").get_job_log()
        seen = report(out)["inputs"]
        cwd = report(out)["cwd"]
        all_files = ["a.txt", "b.txt", "sub/c.csv"]
        links = same_data(docs, all_files)
        inputs = inputs_folder(run)
        # a mount of local data shows the files themselves (no copy: a whole folder
        # bound read-only, or links) in the step's own folder; of one file, a link to
        # the file under its own name
        assert seen["mounted"] == {
            "env": f"{inputs}/mounted",
            "path": f"{inputs}/mounted",
            "real": f"{inputs}/mounted",
            "files": all_files,
            "data": links,
        }
        assert seen["single"] == {
            "env": f"{inputs}/single/a.txt",
            "path": f"{inputs}/single/a.txt",
            "real": str(docs / "a.txt"),
            "file": "A",
        }
        assert seen["subset"]["files"] == ["a.txt", "b.txt"]
        assert seen["subset"]["data"] == same_data(docs, ["a.txt", "b.txt"])
        # download copies (a single file comes as the file)
        assert seen["copied"]["files"] == all_files
        assert not set(seen["copied"]["data"].values()) & set(links.values())
        assert not seen["copied"]["real"].startswith(str(docs))
        assert seen["single_copy"]["file"] == "A"
        assert not seen["single_copy"]["real"].startswith(str(docs))
        # a folder holding one file is still a folder
        assert (seen["sub"]["path"], seen["sub"]["files"]) == (
            f"{inputs}/sub",
            ["c.csv"],
        )
        assert seen["sub_copy"]["files"] == ["c.csv"]
        # direct: the dataset object in input_datasets, its id in the environment
        assert seen["direct"]["type"] == "FileDataset"
        assert seen["direct"]["env"] == seen["direct"]["id"] == folder.id
        assert seen["direct"]["paths"] == ["/a.txt", "/b.txt", "/sub/c.csv"]
        # path_on_compute is relative to the working directory
        assert seen["placed"]["path"] == os.path.join(cwd, "data/placed")
        assert seen["placed"]["data"] == links
        assert seen["placed_copy"]["path"] == os.path.join(cwd, "data/copy")
        assert seen["placed_copy"]["files"] == all_files
        assert not seen["placed_copy"]["real"].startswith(str(docs))
        # the step's details say what each input was bound to
        details = step(run, "see.py").get_details()["inputs"]
        assert details["mounted"]["mode"] == "mount"
        assert details["direct"] == {
            "mode": "direct",
            "value": folder.id,
            "dataset_id": folder.id,
        }

    def test_dataset_input_in_arguments_is_the_path(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        docs: Path,
        code: Path,
        tmp_path: Path,
    ) -> None:
        folder = Dataset.File.from_files(DataPath(blobstore, "docs"))
        table = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "docs/sub/c.csv")
        )
        out = tmp_path / "seen.json"
        s = see_step(
            code,
            out,
            arguments=[
                "--m",
                folder.as_named_input("m").as_mount(),
                "--t",
                table.as_named_input("t"),
            ],
        )
        run = run_pipeline(Pipeline(workspace, [s]))

        assert run.get_status() == "Finished", step(run, "see.py").get_job_log()
        seen = report(out)
        # mount: the path; direct: the dataset id (as the original SDK documents)
        assert seen["argv"] == ["--m", f"{inputs_folder(run)}/m", "--t", table.id]
        assert (
            seen["inputs"]["m"]["data"]["a.txt"] == same_data(docs, ["a.txt"])["a.txt"]
        )
        assert seen["inputs"]["t"]["type"] == "TabularDataset"

    def test_dataset_parameter(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        docs: Path,
        code: Path,
        tmp_path: Path,
    ) -> None:
        default = Dataset.File.from_files(DataPath(blobstore, "docs/a.txt"))
        other = Dataset.File.from_files(DataPath(blobstore, "docs/b.txt"))
        param = PipelineParameter("file_param", default_value=default)
        out = tmp_path / "seen.json"
        s = see_step(
            code, out, inputs=[DatasetConsumptionConfig("doc", param).as_download()]
        )
        pipeline = Pipeline(workspace, [s])

        run_pipeline(pipeline)
        assert report(out)["inputs"]["doc"]["file"] == "A"
        run = run_pipeline(pipeline, pipeline_parameters={"file_param": other})
        assert run.get_status() == "Finished"
        assert report(out)["inputs"]["doc"]["file"] == "B"
        assert "file_param" in run.get_details()["parameters"]


class TestDataPathInputs:
    def test_references_and_datapath_bindings(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        docs: Path,
        code: Path,
        tmp_path: Path,
    ) -> None:
        mounted = blobstore.path("docs", data_reference_name="docs_ref")
        copied = blobstore.path("docs", data_reference_name="docs_copy").as_download()
        binding = (
            DataPath(blobstore, "docs/sub", name="sub_path"),
            DataPathComputeBinding(mode="download"),
        )
        out = tmp_path / "seen.json"
        s = see_step(
            code,
            out,
            inputs=[mounted, copied, binding],
            arguments=["--m", mounted, "--d", copied, "--b", binding],
        )
        run = run_pipeline(Pipeline(workspace, [s]))

        assert run.get_status() == "Finished", step(run, "see.py").get_job_log()
        seen = report(out)
        refs = seen["refs"]
        assert refs["docs_ref"]["path"] == f"{inputs_folder(run)}/docs_ref"
        assert (
            refs["docs_ref"]["data"]["sub/c.csv"]
            == same_data(docs, ["sub/c.csv"])["sub/c.csv"]
        )
        assert refs["docs_copy"]["files"] == ["a.txt", "b.txt", "sub/c.csv"]
        assert not refs["docs_copy"]["path"].startswith(str(docs))
        assert refs["sub_path"]["files"] == ["c.csv"]
        # data references are not datasets: not in run.input_datasets
        assert seen["inputs"] == {}
        assert seen["argv"] == [
            "--m",
            refs["docs_ref"]["path"],
            "--d",
            refs["docs_copy"]["path"],
            "--b",
            refs["sub_path"]["path"],
        ]

    def test_datapath_parameter(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        docs: Path,
        code: Path,
        tmp_path: Path,
    ) -> None:
        param = PipelineParameter(
            "input_path", default_value=DataPath(blobstore, "docs")
        )
        binding = (param, DataPathComputeBinding(mode="mount"))
        out = tmp_path / "seen.json"
        s = see_step(code, out, inputs=[binding], arguments=["--in", binding])
        pipeline = Pipeline(workspace, [s])

        run = run_pipeline(
            pipeline,
            pipeline_parameters={"input_path": DataPath(blobstore, "docs/sub")},
        )

        assert run.get_status() == "Finished", step(run, "see.py").get_job_log()
        seen = report(out)
        assert seen["refs"]["input_path"] == {
            "path": f"{inputs_folder(run)}/input_path",
            "files": ["c.csv"],
            "data": {"c.csv": same_data(docs, ["sub/c.csv"])["sub/c.csv"]},
        }
        assert seen["argv"] == ["--in", f"{inputs_folder(run)}/input_path"]

    def test_missing_datapath_fails_a_download(
        self, workspace: Workspace, blobstore: Datastore, code: Path, tmp_path: Path
    ) -> None:
        ref = blobstore.path("nothing/here", data_reference_name="gone").as_download()
        s = see_step(code, tmp_path / "seen.json", inputs=[ref])

        run = run_pipeline(Pipeline(workspace, [s]))

        assert run.get_status() == "Failed"
        details = step(run, "see.py").get_details()
        assert details["error"] == (
            "path 'nothing/here' matches no file on datastore 'workspaceblobstore' "
            f"(looked in {blobstore.location.full_path('nothing/here')}); check the "
            "path, or list it with `dataferry datastore show workspaceblobstore`."
        )
        assert details["error_type"] == "PathNotFoundError"
        assert not (tmp_path / "seen.json").exists()
