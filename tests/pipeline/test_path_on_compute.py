"""``path_on_compute``: refused where it enters if it leaves its root; clashes at submit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from dataferry import (
    DataPath,
    DataPathComputeBinding,
    DatasetConsumptionConfig,
    Datastore,
    FileDataset,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog.run_store import RunStore
from dataferry.data.datapath import DataReference
from dataferry.errors import PathOnComputeError, PipelineValidationError
from dataferry.execution.plan import PlanCompiler

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

ESCAPING = ["../x", "a/../../x", "..", "./../x", "a/b/../../../etc", "data/../../"]
ROOTS = {
    ".": "the working folder",
    "./": "the working folder",
    "a/..": "the working folder",
    "/": "the root folder '/'",
    "//": "the root folder '/'",
    "/x/..": "the root folder '/'",
}
FINE = ["data", "./data/x", "a/../b", "/mnt/data", "/mnt/../data", "~/x", "data/"]


def sites(files: FileDataset, blobstore: Datastore) -> dict[str, Callable[[str], Any]]:
    """Every way a path_on_compute enters, by name."""
    pd = PipelineData("pd", datastore=blobstore)
    return {
        "dataset.as_mount": lambda p: files.as_named_input("x").as_mount(p),
        "dataset.as_download": lambda p: files.as_named_input("x").as_download(p),
        "file_dataset.as_mount": files.as_mount,
        "consumption": lambda p: DatasetConsumptionConfig("x", files, "mount", p),
        "binding": lambda p: DataPathComputeBinding("mount", p),
        "reference": lambda p: DataReference(blobstore, "x", "docs", "mount", p),
        "reference.as_download": lambda p: blobstore.path("docs").as_download(p),
        "pipeline_data.as_download": lambda p: pd.as_download("x", p),
        "pipeline_data.binding": lambda p: pd.create_input_binding("x", None, p),
        "pipeline_data.as_dataset": lambda p: pd.as_dataset().as_mount(p),
        "pipeline_data.output": lambda p: PipelineData(
            "o", output_mode="upload", output_path_on_compute=p
        ),
    }


class TestConstruction:
    @pytest.mark.parametrize("path", ESCAPING)
    def test_a_path_out_of_the_working_folder_is_refused_everywhere(
        self, files: FileDataset, blobstore: Datastore, path: str
    ) -> None:
        for site, make in sites(files, blobstore).items():
            with pytest.raises(
                PathOnComputeError,
                match=rf"path_on_compute '{path.replace('.', '[.]')}'.* resolves to "
                r"'\.\.(/[^']*)?', outside the step's working folder: a relative "
                r"path_on_compute is taken from the working folder and must stay "
                r"inside it\. Give a path such as 'data/input', or an absolute path\.",
            ):
                make(path)
                pytest.fail(f"{site} accepted {path!r}")

    @pytest.mark.parametrize(("path", "root"), ROOTS.items())
    def test_the_root_itself_is_refused(
        self, files: FileDataset, blobstore: Datastore, path: str, root: str
    ) -> None:
        for make in sites(files, blobstore).values():
            with pytest.raises(PathOnComputeError, match=f"names {root} itself"):
                make(path)

    @pytest.mark.parametrize("path", FINE)
    def test_paths_inside_their_root_are_kept_as_written(
        self, files: FileDataset, path: str
    ) -> None:
        assert files.as_named_input("x").as_mount(path).path_on_compute == path
        assert DataPathComputeBinding("download", path).path_on_compute == path

    def test_the_message_names_the_input(self, files: FileDataset) -> None:
        with pytest.raises(
            PathOnComputeError,
            match=r"^path_on_compute '\.\./x' of input 'train' resolves to '\.\./x'",
        ):
            files.as_named_input("train").as_download("../x")

    def test_not_a_string_is_a_type_error(self, files: FileDataset) -> None:
        with pytest.raises(TypeError, match=r"path_on_compute must be a str, not int"):
            files.as_named_input("x").as_mount(3)  # type: ignore[arg-type]

    def test_nul_is_refused(self, files: FileDataset) -> None:
        with pytest.raises(PathOnComputeError, match="holds a NUL character"):
            files.as_named_input("x").as_mount("a\0b")

    def test_error_is_a_value_error_with_exit_code_2(self) -> None:
        assert issubclass(PathOnComputeError, ValueError)
        assert PathOnComputeError.exit_code == 2


def no_runs(ws: Workspace) -> bool:
    return RunStore(ws.catalog).list_runs() == []


class TestClashInOneStep:
    @pytest.mark.parametrize(
        ("first", "second", "relation"),
        [
            ("/data", "/data", "is the same place as"),
            ("/data", "/data/", "is the same place as"),
            ("/data", "//data/./", "is the same place as"),
            ("data", "./data", "is the same place as"),
            ("/mnt/in", "/mnt/in/sub", "overlaps"),
            ("data/sub", "data", "overlaps"),
        ],
    )
    def test_two_inputs_at_one_place_are_refused_at_submit(
        self,
        workspace: Workspace,
        files: FileDataset,
        src: Path,
        first: str,
        second: str,
        relation: str,
    ) -> None:
        step = PythonScriptStep(
            "step.py",
            name="train",
            source_directory=str(src),
            inputs=[
                files.as_named_input("a").as_download(first),
                files.as_named_input("b").as_mount(second),
            ],
        )
        pipeline = Pipeline(workspace, [step])

        problem = (
            f"step 'train': input 'b' (path_on_compute '{second}') {relation} input "
            f"'a' (path_on_compute '{first}'); give each input a path_on_compute of "
            "its own, not inside another port's"
        )
        assert pipeline.validate() == [problem]
        with pytest.raises(
            PipelineValidationError, match=r"1 problem\(s\) in pipeline"
        ):
            pipeline.submit("x")
        assert no_runs(workspace)

    def test_relative_and_absolute_of_the_same_name_do_not_clash(
        self, workspace: Workspace, files: FileDataset, src: Path
    ) -> None:
        step = PythonScriptStep(
            "step.py",
            source_directory=str(src),
            inputs=[
                files.as_named_input("a").as_download("data"),
                files.as_named_input("b").as_download("/data"),
            ],
        )
        assert Pipeline(workspace, [step]).validate() == []

    def test_same_place_in_two_steps_is_fine(
        self, workspace: Workspace, files: FileDataset, src: Path
    ) -> None:
        steps = [
            PythonScriptStep(
                "step.py",
                name=name,
                source_directory=str(src),
                inputs=[files.as_named_input("a").as_download("/data")],
            )
            for name in ("one", "two")
        ]
        assert Pipeline(workspace, steps).validate() == []

    def test_input_inside_an_output_source_is_refused(
        self, workspace: Workspace, files: FileDataset, src: Path
    ) -> None:
        out = OutputFileDatasetConfig(name="out", source="results").as_upload()
        step = PythonScriptStep(
            "step.py",
            name="s",
            source_directory=str(src),
            inputs=[files.as_named_input("a").as_download("results/in")],
            outputs=[out],
        )

        assert Pipeline(workspace, [step]).validate() == [
            "step 's': input 'a' (path_on_compute 'results/in') overlaps output 'out' "
            "(source 'results'); give each input a path_on_compute of its own, not "
            "inside another port's"
        ]

    @pytest.mark.parametrize(
        ("place", "covered"),
        [
            ("step.py", "step.py"),
            ("./step.py", "step.py"),
            ("conf", "conf/settings.json"),
            ("conf/settings.json/x", "conf/settings.json"),
            ("outputs", "outputs"),
            ("logs", "logs"),
        ],
    )
    def test_input_over_the_steps_own_files_is_refused_at_submit(
        self,
        workspace: Workspace,
        files: FileDataset,
        src: Path,
        place: str,
        covered: str,
    ) -> None:
        (src / "conf").mkdir()
        (src / "conf" / "settings.json").write_text("{}")
        step = PythonScriptStep(
            "step.py",
            name="s",
            source_directory=str(src),
            inputs=[files.as_named_input("a").as_mount(place)],
        )

        with pytest.raises(
            PipelineValidationError,
            match=rf"step 's': input 'a' \(path_on_compute '{place}'\) would cover "
            rf"'{covered}' in the step's working folder \(a copy of {src}\); choose a "
            r"path_on_compute that is not in the source folder",
        ):
            Pipeline(workspace, [step]).submit("x")
        assert no_runs(workspace)
        assert not (workspace.path / "snapshots").exists() or not any(
            (workspace.path / "snapshots").iterdir()
        )

    def test_input_beside_the_steps_files_is_fine(
        self, workspace: Workspace, blobstore: Datastore, src: Path
    ) -> None:
        (src / "conf").mkdir()
        (src / "conf" / "settings.json").write_text("{}")
        bound = (
            DataPath(blobstore, "docs"),
            DataPathComputeBinding("mount", "conf/in"),
        )
        step = PythonScriptStep(
            "step.py", name="s", source_directory=str(src), inputs=[bound]
        )

        plan = PlanCompiler(Pipeline(workspace, [step]), workspace).compile()

        assert plan.nodes[0].inputs[0].path_on_compute == "conf/in"
