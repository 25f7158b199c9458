"""Pipeline and step validation: every mistake is refused before anything runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry import (
    DataPath,
    DatasetConsumptionConfig,
    Datastore,
    Environment,
    Estimator,
    EstimatorStep,
    FileDataset,
    OutputFileDatasetConfig,
    OutputTabularDatasetConfig,
    Pipeline,
    PipelineData,
    PythonScriptStep,
    RunConfiguration,
    TabularDataset,
    Workspace,
)
from dataferry.catalog.run_store import RunStore
from dataferry.errors import (
    DatasetError,
    InvalidNameError,
    PipelineValidationError,
    StepDefinitionError,
)
from dataferry.execution.plan import PlanCompiler

if TYPE_CHECKING:
    from pathlib import Path


def no_runs(ws: Workspace) -> bool:
    return RunStore(ws.catalog).list_runs() == []


class TestStepDefinition:
    def test_missing_script_is_refused_when_the_pipeline_is_built(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        step = PythonScriptStep("train.py", source_directory=str(tmp_path))

        with pytest.raises(
            StepDefinitionError, match=r"Step \[train.py\]: script not found at"
        ):
            Pipeline(workspace, [step])

    def test_missing_script_uses_the_default_source_directory(
        self, workspace: Workspace, src: Path, tmp_path: Path
    ) -> None:
        step = PythonScriptStep("step.py", name="s")
        empty = tmp_path / "empty"
        empty.mkdir()

        Pipeline(workspace, [step], default_source_directory=str(src))
        with pytest.raises(StepDefinitionError, match=r"script not found at: .*empty"):
            Pipeline(workspace, [step], default_source_directory=str(empty))

    @pytest.mark.parametrize("where", ["inputs", "arguments"])
    def test_raw_dataset_is_refused(
        self, files: FileDataset, src: Path, where: str
    ) -> None:
        with pytest.raises(StepDefinitionError, match="as_named_input"):
            PythonScriptStep("step.py", source_directory=str(src), **{where: [files]})

    def test_tabular_dataset_cannot_be_mounted_or_downloaded(
        self, table: TabularDataset
    ) -> None:
        with pytest.raises(DatasetError, match="Only FileDataset supports mount"):
            table.as_named_input("t").as_mount()
        with pytest.raises(DatasetError, match="Only FileDataset supports download"):
            table.as_named_input("t").as_download()

    def test_pipeline_data_in_arguments_must_be_an_input_or_output(
        self, src: Path
    ) -> None:
        data = PipelineData("prepped")

        with pytest.raises(StepDefinitionError, match="in neither inputs nor outputs"):
            PythonScriptStep(
                "step.py", source_directory=str(src), arguments=["--in", data]
            )

    def test_data_reference_in_arguments_must_be_an_input(
        self, blobstore: Datastore, src: Path
    ) -> None:
        ref = blobstore.path("docs", data_reference_name="docs")

        with pytest.raises(
            StepDefinitionError, match="input 'docs' is in arguments but not in"
        ):
            PythonScriptStep("step.py", source_directory=str(src), arguments=[ref])

    def test_two_inputs_with_one_name(self, files: FileDataset, src: Path) -> None:
        with pytest.raises(StepDefinitionError, match="two inputs are named 'x'"):
            PythonScriptStep(
                "step.py",
                source_directory=str(src),
                inputs=[
                    files.as_named_input("x"),
                    files.as_named_input("x").as_mount(),
                ],
            )

    def test_an_input_named_like_an_output_is_renamed(
        self, files: FileDataset, src: Path
    ) -> None:
        out = OutputFileDatasetConfig(name="data")
        step = PythonScriptStep(
            "step.py",
            source_directory=str(src),
            arguments=[files.as_named_input("data").as_mount(), out],
        )

        assert [i.name for i in step.ports.inputs] == ["INPUT_data"]
        assert [o.name for o in step.ports.outputs] == ["data"]

    # a trailing newline and non-ASCII letters too: the name is an environment variable
    @pytest.mark.parametrize(
        "name",
        ["bad-name", "1st", "with space", "", "name\n", "na\u00efve", "a.b", "\u0661x"],
    )
    def test_bad_port_names(self, files: FileDataset, name: str) -> None:
        with pytest.raises(InvalidNameError, match="invalid input name"):
            files.as_named_input(name)
        with pytest.raises(InvalidNameError, match="invalid output name"):
            OutputFileDatasetConfig(name=name or "-")

    @pytest.mark.parametrize("name", ["_", "_x1", "A1_b", "class", "x" * 200])
    def test_good_port_names(self, files: FileDataset, name: str) -> None:
        assert files.as_named_input(name).name == name
        assert OutputFileDatasetConfig(name=name).name == name

    @pytest.mark.parametrize("name", ["bad-name", "with space"])
    def test_bad_pipeline_data_names(self, name: str) -> None:
        with pytest.raises(InvalidNameError, match=r"PipelineData name .* must match"):
            PipelineData(name)
        with pytest.raises(
            InvalidNameError, match=r"PipelineData output_name .* must match"
        ):
            PipelineData("ok", output_name=name)

    def test_pipeline_data_output_mode(self) -> None:
        with pytest.raises(ValueError, match="output_mode must be 'mount' or 'upload'"):
            PipelineData("x", output_mode="download")

    def test_output_tabular_config_is_not_built_directly(self) -> None:
        with pytest.raises(StepDefinitionError, match="read_delimited_files"):
            OutputTabularDatasetConfig(name="x")

    def test_path_glob_is_a_regular_expression(self) -> None:
        out = OutputFileDatasetConfig(name="o")

        out.read_delimited_files(path_glob=r"\.csv$")
        with pytest.raises(StepDefinitionError, match="not a valid regular expression"):
            out.read_parquet_files(path_glob="*.parquet")

    def test_register_on_complete_needs_a_name(self) -> None:
        with pytest.raises(ValueError, match="needs a dataset name"):
            OutputFileDatasetConfig().register_on_complete("")

    def test_destination_must_be_a_tuple(self, blobstore: Datastore) -> None:
        with pytest.raises(
            StepDefinitionError, match=r"destination must be a \(datastore"
        ):
            OutputFileDatasetConfig(destination=blobstore)

    def test_arguments_must_be_a_list(self, src: Path) -> None:
        with pytest.raises(StepDefinitionError, match="arguments must be a list"):
            PythonScriptStep("step.py", source_directory=str(src), arguments="--x 1")

    def test_estimator_step_is_deprecated(self, src: Path) -> None:
        estimator = Estimator(str(src), entry_script="step.py")

        with pytest.warns(DeprecationWarning, match="EstimatorStep is deprecated"):
            EstimatorStep(
                name="e",
                estimator=estimator,
                compute_target="local",
                estimator_entry_script_arguments=[],
            )

    def test_estimator_step_needs_its_arguments(self, src: Path) -> None:
        estimator = Estimator(str(src), entry_script="step.py")

        with (
            pytest.warns(DeprecationWarning, match="deprecated"),
            pytest.raises(
                StepDefinitionError, match="estimator_entry_script_arguments"
            ),
        ):
            EstimatorStep(name="e", estimator=estimator, compute_target="local")


class TestPipelineValidation:
    def test_valid_pipeline_has_no_problems(
        self, workspace: Workspace, src: Path
    ) -> None:
        out = OutputFileDatasetConfig(name="o")
        PythonScriptStep(
            "step.py", name="a", source_directory=str(src), arguments=[out]
        )
        b = PythonScriptStep(
            "step.py",
            name="b",
            source_directory=str(src),
            arguments=[out.as_input("i")],
        )

        assert Pipeline(workspace, [b]).validate() == []

    def test_one_output_in_two_steps(self, workspace: Workspace, src: Path) -> None:
        out = OutputFileDatasetConfig(name="shared")
        a = PythonScriptStep(
            "step.py", name="a", source_directory=str(src), arguments=[out]
        )
        b = PythonScriptStep(
            "step.py", name="b", source_directory=str(src), outputs=[out]
        )
        pipeline = Pipeline(workspace, [a, b])

        expected = (
            "Step output shared can not be used as an output for step b, "
            "as it is already an output of step a."
        )
        assert pipeline.validate() == [expected]
        with pytest.raises(PipelineValidationError, match="1 problem") as info:
            pipeline.submit("exp")
        assert info.value.problems == [expected]
        assert no_runs(workspace)

    def test_one_pipeline_data_in_two_steps(
        self, workspace: Workspace, src: Path
    ) -> None:
        data = PipelineData("prepped")
        a = PythonScriptStep(
            "step.py", name="a", source_directory=str(src), outputs=[data]
        )
        b = PythonScriptStep(
            "step.py", name="b", source_directory=str(src), outputs=[data]
        )

        assert Pipeline(workspace, [a, b]).validate() == [
            "Step output prepped can not be used as an output for step b, "
            "as it is already an output of step a."
        ]

    def test_cycle_through_run_after(self, workspace: Workspace, src: Path) -> None:
        a = PythonScriptStep("step.py", name="a", source_directory=str(src))
        b = PythonScriptStep("step.py", name="b", source_directory=str(src))
        a.run_after(b)
        b.run_after(a)
        pipeline = Pipeline(workspace, [a])

        assert pipeline.validate() == ["Cycle detected including node(s) a, b"]
        with pytest.raises(PipelineValidationError, match="Cycle detected"):
            pipeline.submit("exp")
        assert no_runs(workspace)

    def test_cycle_through_data(self, workspace: Workspace, src: Path) -> None:
        x, y = OutputFileDatasetConfig(name="x"), OutputFileDatasetConfig(name="y")
        a = PythonScriptStep(
            "step.py",
            name="a",
            source_directory=str(src),
            arguments=[x, y.as_input("yi")],
        )
        b = PythonScriptStep(
            "step.py",
            name="b",
            source_directory=str(src),
            arguments=[y, x.as_input("xi")],
        )

        assert Pipeline(workspace, [a, b]).validate() == [
            "Cycle detected including node(s) a, b"
        ]

    def test_run_after_itself(self, src: Path) -> None:
        a = PythonScriptStep("step.py", name="a", source_directory=str(src))

        with pytest.raises(StepDefinitionError, match="cannot run after itself"):
            a.run_after(a)

    def test_input_without_producer(self, workspace: Workspace, src: Path) -> None:
        out = OutputFileDatasetConfig(name="o")
        PythonScriptStep(
            "step.py", name="a", source_directory=str(src), arguments=[out]
        )
        b = PythonScriptStep(
            "step.py",
            name="b",
            source_directory=str(src),
            arguments=[out.as_input("i")],
        )
        pipeline = Pipeline(workspace, [b], resolve_closure=False)

        assert [s.name for s in pipeline.steps] == ["b"]
        (problem,) = pipeline.validate()
        assert (
            "step 'b': input 'i' reads an output that no step in the pipeline produces"
            in problem
        )
        with pytest.raises(
            PipelineValidationError, match="no step in the pipeline produces"
        ):
            pipeline.submit("exp")

    def test_pipeline_data_never_produced(
        self, workspace: Workspace, src: Path
    ) -> None:
        data = PipelineData("orphan")
        b = PythonScriptStep(
            "step.py",
            name="b",
            source_directory=str(src),
            inputs=[data],
            arguments=[data],
        )

        (problem,) = Pipeline(workspace, [b]).validate()
        assert "input 'orphan' reads an output that no step" in problem

    def test_every_problem_is_reported_at_once(
        self, workspace: Workspace, src: Path
    ) -> None:
        out = OutputFileDatasetConfig(name="shared")
        a = PythonScriptStep(
            "step.py", name="a", source_directory=str(src), arguments=[out]
        )
        b = PythonScriptStep(
            "step.py", name="b", source_directory=str(src), outputs=[out]
        )
        c = PythonScriptStep("step.py", name="c", source_directory=str(src))
        d = PythonScriptStep("step.py", name="d", source_directory=str(src))
        c.run_after(d)
        d.run_after(c)

        with pytest.raises(PipelineValidationError, match="2 problem") as info:
            Pipeline(workspace, [a, b, c]).submit("exp")
        assert [p.split()[0] for p in info.value.problems] == ["Step", "Cycle"]

    def test_unknown_datastore_name_in_destination(
        self, workspace: Workspace, src: Path
    ) -> None:
        out = OutputFileDatasetConfig(name="o", destination=("nowhere", "x/{run-id}"))
        a = PythonScriptStep(
            "step.py", name="a", source_directory=str(src), arguments=[out]
        )

        pipeline = Pipeline(workspace, [a])

        # validate() is pure (no catalog read): submit looks the datastore up
        assert pipeline.validate() == []
        with pytest.raises(PipelineValidationError, match="1 problem") as info:
            pipeline.submit("exp")
        (problem,) = info.value.problems
        assert problem.startswith("step 'a': output 'o':")
        assert "nowhere" in problem
        assert no_runs(workspace)

    def test_unknown_pipeline_kwarg(self, workspace: Workspace, src: Path) -> None:
        a = PythonScriptStep("step.py", source_directory=str(src))

        with pytest.raises(StepDefinitionError, match="unexpected keyword arguments"):
            Pipeline(workspace, [a], colour="blue")

    def test_no_steps(self, workspace: Workspace) -> None:
        with pytest.raises(StepDefinitionError, match="at least one step"):
            Pipeline(workspace, [])

    def test_unknown_submit_kwarg(self, workspace: Workspace, src: Path) -> None:
        pipeline = Pipeline(
            workspace, [PythonScriptStep("step.py", source_directory=str(src))]
        )

        with pytest.raises(TypeError, match="unexpected keyword arguments"):
            pipeline.submit("exp", colour="blue")
        assert no_runs(workspace)


class TestEnvironments:
    def test_user_managed_environment_runs_its_interpreter_path(
        self, workspace: Workspace, src: Path, tmp_path: Path
    ) -> None:
        requirements = tmp_path / "requirements.txt"
        requirements.write_text("numpy\n")
        env = Environment.from_pip_requirements("mine", str(requirements))
        env.python.user_managed_dependencies = True
        env.python.interpreter_path = "/opt/python3.12/bin/python"
        config = RunConfiguration()
        config.environment = env
        step = PythonScriptStep("step.py", source_directory=str(src), runconfig=config)

        (node,) = PlanCompiler(Pipeline(workspace, [step]), workspace).compile().nodes

        assert node.environment.resolve_interpreter() == "/opt/python3.12/bin/python"
        assert node.environment.request == {"unmanaged": ["pip", "numpy"]}


class TestDatasetParameters:
    def test_dataset_consumption_of_a_parameter_checks_the_mode(
        self, table: TabularDataset
    ) -> None:
        from dataferry import PipelineParameter

        param = PipelineParameter("table", default_value=table)

        assert DatasetConsumptionConfig("t", param).mode == "direct"
        with pytest.raises(DatasetError, match="Only FileDataset supports mount"):
            DatasetConsumptionConfig("t", param, "mount")

    def test_parameter_default_kind(self) -> None:
        from dataferry import PipelineParameter

        with pytest.raises(StepDefinitionError, match="the default must be an int"):
            PipelineParameter("p", default_value=[1, 2])

    def test_datapath_parameter_needs_a_datapath_default(
        self, blobstore: Datastore, src: Path
    ) -> None:
        from dataferry import DataPathComputeBinding, PipelineParameter

        bad = PipelineParameter("p", default_value="docs")
        good = PipelineParameter("p", default_value=DataPath(blobstore, "docs"))

        PythonScriptStep(
            "step.py",
            source_directory=str(src),
            inputs=[(good, DataPathComputeBinding())],
        )
        with pytest.raises(StepDefinitionError, match="must have a DataPath default"):
            PythonScriptStep(
                "step.py",
                source_directory=str(src),
                inputs=[(bad, DataPathComputeBinding())],
            )
