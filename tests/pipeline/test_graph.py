"""Building the graph: closure, edges from data and run_after, node ids, parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry import (
    CommandStep,
    FileDataset,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PythonScriptStep,
    StepSequence,
    Workspace,
)
from dataferry.errors import StepDefinitionError

if TYPE_CHECKING:
    from pathlib import Path


def upstream(pipeline: Pipeline) -> dict[str, list[str]]:
    return {n.node_id: n.upstream for n in pipeline.nodes}


class TestClosure:
    def test_last_step_pulls_in_its_producers(
        self, workspace: Workspace, src: Path
    ) -> None:
        data = PipelineData("prepped")
        out = OutputFileDatasetConfig(name="o")
        PythonScriptStep(
            "step.py",
            name="a",
            source_directory=str(src),
            outputs=[data],
            arguments=[data],
        )
        PythonScriptStep(
            "step.py",
            name="b",
            source_directory=str(src),
            inputs=[data],
            arguments=[data, out],
        )
        c = PythonScriptStep(
            "step.py",
            name="c",
            source_directory=str(src),
            arguments=[out.as_input("x")],
        )

        pipeline = Pipeline(workspace, steps=[c])

        assert [s.name for s in pipeline.steps] == ["c", "b", "a"]
        assert upstream(pipeline) == {"a": [], "b": ["a"], "c": ["b"]}
        assert [n.node_id for n in pipeline.topological_order()] == ["a", "b", "c"]

    def test_copies_of_an_output_keep_their_producer(
        self, workspace: Workspace, src: Path
    ) -> None:
        out = OutputFileDatasetConfig(name="o").as_upload().register_on_complete("reg")
        PythonScriptStep(
            "step.py", name="a", source_directory=str(src), arguments=[out]
        )
        tabular = out.read_delimited_files().as_input("rows")
        b = PythonScriptStep(
            "step.py", name="b", source_directory=str(src), inputs=[tabular]
        )

        assert upstream(Pipeline(workspace, [b])) == {"b": ["a"], "a": []}

    def test_run_after_predecessors_are_pulled_in(
        self, workspace: Workspace, src: Path
    ) -> None:
        a = PythonScriptStep("step.py", name="a", source_directory=str(src))
        b = PythonScriptStep("step.py", name="b", source_directory=str(src))
        b.run_after(a)

        assert upstream(Pipeline(workspace, b)) == {"b": ["a"], "a": []}

    def test_a_pipeline_data_stands_for_its_producer(
        self, workspace: Workspace, src: Path
    ) -> None:
        data = PipelineData("d")
        a = PythonScriptStep(
            "step.py", name="a", source_directory=str(src), outputs=[data]
        )

        assert Pipeline(workspace, data).steps == [a]

    def test_plain_list_adds_no_order(self, workspace: Workspace, src: Path) -> None:
        steps = [
            PythonScriptStep("step.py", name=n, source_directory=str(src))
            for n in "abc"
        ]

        assert upstream(Pipeline(workspace, steps)) == {"a": [], "b": [], "c": []}

    def test_step_sequence_chains_in_list_order(
        self, workspace: Workspace, src: Path
    ) -> None:
        steps = [
            PythonScriptStep("step.py", name=n, source_directory=str(src))
            for n in "cab"
        ]

        pipeline = Pipeline(workspace, StepSequence(steps=steps))

        assert upstream(pipeline) == {"c": [], "a": ["c"], "b": ["a"]}
        assert [n.node_id for n in pipeline.topological_order()] == ["c", "a", "b"]

    def test_duplicate_names_get_distinct_node_ids(
        self, workspace: Workspace, src: Path
    ) -> None:
        steps = [
            PythonScriptStep("step.py", source_directory=str(src)) for _ in range(3)
        ]

        assert [n.node_id for n in Pipeline(workspace, steps).nodes] == [
            "step_py",
            "step_py_2",
            "step_py_3",
        ]

    def test_a_step_listed_twice_runs_once(
        self, workspace: Workspace, src: Path
    ) -> None:
        a = PythonScriptStep("step.py", name="a", source_directory=str(src))

        assert Pipeline(workspace, [a, a, [a]]).steps == [a]

    def test_steps_of_a_wrong_type(self, workspace: Workspace) -> None:
        with pytest.raises(StepDefinitionError, match="steps must be steps"):
            Pipeline(workspace, 42)


class TestStepShapes:
    def test_step_name_defaults_to_the_script(self, src: Path) -> None:
        assert PythonScriptStep("step.py", source_directory=str(src)).name == "step.py"

    def test_command_step_name_defaults_to_the_program(self) -> None:
        assert CommandStep("echo hello").name == "echo"
        assert CommandStep(["python", "-c", "pass"]).name == "python"

    def test_command_step_needs_a_command(self) -> None:
        with pytest.raises(StepDefinitionError, match="needs a command"):
            CommandStep()

    def test_dataset_config_in_arguments_becomes_an_input(
        self, files: FileDataset, src: Path
    ) -> None:
        out = OutputFileDatasetConfig(name="o")
        step = PythonScriptStep(
            "step.py",
            source_directory=str(src),
            arguments=[
                "--in",
                files.as_named_input("docs").as_mount(),
                "--out",
                out,
                3,
            ],
        )

        assert [(i.name, i.mode) for i in step.ports.inputs] == [("docs", "mount")]
        assert [o.name for o in step.ports.outputs] == ["o"]
        assert step.ports.arguments[0] == "--in"
        assert step.ports.arguments[4] == "3"

    def test_output_listed_in_inputs_is_read_through_as_input(self, src: Path) -> None:
        out = OutputFileDatasetConfig(name="o")
        step = PythonScriptStep(
            "step.py", source_directory=str(src), inputs=[out], arguments=["--in", out]
        )

        assert [(i.name, i.kind, i.mode) for i in step.ports.inputs] == [
            ("o", "output", "mount")
        ]
        assert step.ports.outputs == []

    def test_parameters_are_collected_by_name(
        self, workspace: Workspace, src: Path
    ) -> None:
        lr = PipelineParameter("lr", default_value=0.1)
        epochs = PipelineParameter("epochs", default_value=3)
        a = PythonScriptStep(
            "step.py", name="a", source_directory=str(src), arguments=["--lr", lr]
        )
        b = PythonScriptStep(
            "step.py",
            name="b",
            source_directory=str(src),
            params={"epochs": epochs, "fixed": 1},
        )

        assert sorted(Pipeline(workspace, [a, b]).parameters()) == ["epochs", "lr"]

    def test_same_parameter_name_with_two_defaults(
        self, workspace: Workspace, src: Path
    ) -> None:
        a = PythonScriptStep(
            "step.py",
            name="a",
            source_directory=str(src),
            arguments=[PipelineParameter("p", default_value=1)],
        )
        b = PythonScriptStep(
            "step.py",
            name="b",
            source_directory=str(src),
            arguments=[PipelineParameter("p", default_value=2)],
        )

        assert Pipeline(workspace, [a, b]).validate() == [
            "pipeline parameter 'p' is defined twice with different defaults"
        ]

    def test_pipeline_parameter_text(self) -> None:
        param = PipelineParameter("learning rate", default_value=0.5)

        assert str(param) == "PipelineParameter_Name:learning rate_Default:0.5"
        assert param.env_name == "AML_PARAMETER_learning_rate"

    def test_output_configs_share_their_origin(self) -> None:
        out = OutputFileDatasetConfig(name="o")
        upload = out.as_upload(overwrite=True, source_globs="*.csv")

        assert (out.mode, upload.mode) == ("mount", "upload")
        assert upload.source_globs == ["*.csv"]
        assert upload._origin is out._origin
        assert out.as_input().dataset is out
        assert out.as_input().name.startswith("input_")
        assert out.arg_val == "DatasetOutputConfig:o"
        assert OutputFileDatasetConfig().name.startswith("output_")

    def test_auto_names(self, files: FileDataset) -> None:
        out = OutputFileDatasetConfig(name="o")
        first, second = out.read_delimited_files().random_split(0.7, seed=1)

        assert (first.name, second.name) == ("o_1", "o_2")
        assert first._origin is out._origin
        assert files.as_mount().name.startswith("input__")
        assert files.as_named_input("x").as_download().name == "x"

    @pytest.mark.parametrize("percentage", [-0.1, 1.5])
    def test_split_percentage(self, percentage: float) -> None:
        out = OutputFileDatasetConfig(name="o")
        parsed = PipelineData("p").as_dataset().parse_delimited_files()

        with pytest.raises(ValueError, match="percentage must be between 0 and 1"):
            out.read_delimited_files().random_split(percentage)
        with pytest.raises(ValueError, match="percentage must be between 0 and 1"):
            parsed.random_split(percentage)

    def test_pipeline_data_text(self) -> None:
        data = PipelineData("prepped", output_name="out")

        assert str(data) == "$AZUREML_DATAREFERENCE_prepped"
        assert data.output_name == "out"
        assert data.as_download().bind_mode == "download"
        assert data.as_dataset().name == "out"
        assert data.as_dataset().as_named_input("x").name == "x"
