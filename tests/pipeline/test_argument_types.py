"""Programmer mistakes: an argument of the wrong type is a TypeError naming it, at once.

Every public pipeline class checks its arguments when it is built (submit checks its
own), raising ``PipelineTypeError`` (a ``TypeError``, and a ``StepDefinitionError`` as
the original SDK's ``ValueError``) with the argument, the types it takes and the value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from pipeline.kit import nothing_written

from dataferry import (
    CommandStep,
    DataPath,
    DataPathComputeBinding,
    Environment,
    EstimatorStep,
    Experiment,
    InputPortBinding,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PythonScriptStep,
    StepSequence,
)
from dataferry.errors import PipelineTypeError, StepDefinitionError
from dataferry.pipeline.bindings import ArgRef
from dataferry.pipeline.checks import is_instance_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry import Datastore, FileDataset, Workspace

WORKSPACE = r"a Workspace \(Workspace.from_config\(\) or Workspace.get\(name\)\)"


def refused(match: str) -> Any:
    """``pytest.raises`` for a PipelineTypeError whose whole message matches."""
    return pytest.raises(PipelineTypeError, match=f"^{match}$")


def script(src: Path, **kwargs: Any) -> PythonScriptStep:
    return PythonScriptStep(
        "step.py", **{"name": "train", "source_directory": str(src), **kwargs}
    )


class TestTheErrorClass:
    def test_it_is_a_type_error_and_what_the_sdk_raised(self) -> None:
        assert issubclass(PipelineTypeError, TypeError)
        assert issubclass(PipelineTypeError, StepDefinitionError)
        assert issubclass(PipelineTypeError, ValueError)
        assert PipelineTypeError.exit_code == 2


class TestWorkspace:
    @pytest.mark.parametrize(
        ("value", "shown"),
        [
            ("ws", r"str \('ws'\)"),
            (None, r"NoneType \(None\)"),
            ({"name": "ws"}, r"dict \(\{'name': 'ws'\}\)"),
            (Path("ws"), r"PosixPath \(PosixPath\('ws'\)\)"),
        ],
    )
    def test_pipeline_and_experiment_need_a_workspace(
        self, workspace: Workspace, src: Path, value: object, shown: str
    ) -> None:
        with refused(rf"Pipeline\(\): workspace must be {WORKSPACE}, not {shown}"):
            Pipeline(value, [script(src)])  # type: ignore[arg-type]
        with refused(rf"Experiment\(\): workspace must be {WORKSPACE}, not {shown}"):
            Experiment(value, "exp")  # type: ignore[arg-type]

    def test_a_datastore_is_not_a_workspace(
        self, blobstore: Datastore, src: Path
    ) -> None:
        with refused(
            rf"Pipeline\(\): workspace must be {WORKSPACE}, not \w*Datastore .*"
        ):
            Pipeline(blobstore, [script(src)])  # type: ignore[arg-type]

    def test_the_check_needs_no_import(self, workspace: Workspace) -> None:
        # a class never imported has no instances: nothing is imported to find out
        assert is_instance_of(workspace, "dataferry.data.workspace", "Workspace")
        assert not is_instance_of(workspace, "not.imported.module", "Workspace")
        assert not is_instance_of("ws", "dataferry.data.workspace", "Workspace")


class TestPipelineArguments:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            (
                {"description": 5},
                r"Pipeline\(\): description must be a str, not int \(5\)",
            ),
            (
                {"default_datastore": "workspaceblobstore"},
                r"Pipeline\(\): default_datastore must be a Datastore \(Datastore.get"
                r"\(ws, name\)\), not str \('workspaceblobstore'\)",
            ),
            (
                {"default_source_directory": 5},
                r"Pipeline\(\): default_source_directory must be a str or a path, "
                r"not int \(5\)",
            ),
            (
                {"resolve_closure": "yes"},
                r"Pipeline\(\): resolve_closure must be True or False, not str \('yes'\)",
            ),
            (
                {"enable_email_notification": "yes"},
                r"Pipeline\(\): enable_email_notification must be True or False, "
                r"not str \('yes'\)",
            ),
            (
                {"colour": "blue"},
                r"Pipeline\(\) got unexpected keyword arguments \['colour'\]; "
                r"only \['enable_email_notification'\]",
            ),
        ],
    )
    def test_wrong_types(
        self, workspace: Workspace, src: Path, kwargs: dict[str, Any], message: str
    ) -> None:
        with refused(message):
            Pipeline(workspace, [script(src)], **kwargs)

    @pytest.mark.parametrize(
        ("steps", "shown"),
        [
            (42, r"int \(42\)"),
            (None, r"NoneType \(None\)"),
            (["a.py"], r"str \('a.py'\)"),
        ],
    )
    def test_steps_of_a_wrong_type(
        self, workspace: Workspace, steps: object, shown: str
    ) -> None:
        with refused(
            r"Pipeline\(\): steps must be steps, a list of steps, a StepSequence or a "
            rf"PipelineData, not {shown}"
        ):
            Pipeline(workspace, steps)

    def test_sdk_values_still_work(
        self, workspace: Workspace, blobstore: Datastore, src: Path
    ) -> None:
        pipeline = Pipeline(
            workspace=workspace,
            steps=(script(src),),
            description="d",
            default_datastore=blobstore,
            default_source_directory=src,
            resolve_closure=False,
            enable_email_notification=True,
        )

        assert (pipeline.default_source_directory, pipeline.validate()) == (
            str(src),
            [],
        )


class TestStepArguments:
    @pytest.mark.parametrize(
        ("value", "shown"),
        [
            (object(), r"object \(<object object at 0x\w+>\)"),
            ({"lr": 0.1}, r"dict \(\{'lr': 0.1\}\)"),
            (None, r"NoneType \(None\)"),
            ([1, 2], r"list \(\[1, 2\]\)"),
            ({"a"}, r"set \(\{'a'\}\)"),
            (b"raw", r"bytes \(b'raw'\)"),
            (Environment("e"), r"Environment \(.*\)"),
        ],
    )
    def test_objects_that_are_not_arguments(
        self, src: Path, value: object, shown: str
    ) -> None:
        with refused(
            r"step 'train': arguments\[1\] must be a str, int, float, bool, path, "
            r"PipelineParameter, or data: a dataset's as_named_input\(...\), an "
            r"OutputFileDatasetConfig or its as_input\(...\), a PipelineData or its "
            r"as_input\(...\)/as_dataset\(\), a DataReference or a \(DataPath, "
            rf"DataPathComputeBinding\) tuple, not {shown}"
        ):
            script(src, arguments=["--x", value])

    def test_a_datastore_or_bare_data_path_is_not_an_argument(
        self, src: Path, blobstore: Datastore
    ) -> None:
        for value in (blobstore, DataPath(blobstore, "docs")):
            with pytest.raises(
                PipelineTypeError, match=r"arguments\[0\] must be a str"
            ):
                script(src, arguments=[value])

    def test_a_command_names_its_words(self) -> None:
        with refused(r"step 'cmd': command\[1\] must be a str, .*, not object \(.*\)"):
            CommandStep(["python", object()], name="cmd")

    def test_what_is_accepted(self, src: Path) -> None:
        lr = PipelineParameter("lr", default_value=0.1)

        step = script(
            src,
            arguments=(
                "--x",
                3,
                2.5,
                True,
                Path("a/b"),
                np.int64(7),
                np.float32(0.5),
                lr,
            ),
        )

        assert step.ports.arguments == [
            "--x",
            "3",
            "2.5",
            "True",
            "a/b",
            "7",
            "0.5",
            ArgRef("param", "lr"),
        ]

    @pytest.mark.parametrize("argument", ["arguments", "inputs", "outputs"])
    @pytest.mark.parametrize(
        ("value", "shown"),
        [("--flag", r"str \('--flag'\)"), (7, r"int \(7\)")],
    )
    def test_lists_that_are_not_lists(
        self, src: Path, argument: str, value: object, shown: str
    ) -> None:
        with refused(rf"step 'train': {argument} must be a list, not {shown}"):
            script(src, **{argument: value})

    def test_one_input_instead_of_a_list(self, src: Path) -> None:
        with refused(r"step 'train': inputs must be a list, not PipelineData \(.*\)"):
            script(src, inputs=PipelineData("d"))


class TestPorts:
    def test_inputs_that_are_not_data(self, src: Path) -> None:
        with refused(
            r"step 'train': inputs\[1\] must be data: a dataset's as_named_input\(...\), "
            r".*, not str \('data.csv'\)"
        ):
            script(src, inputs=[PipelineData("d").as_input("d"), "data.csv"])

    def test_outputs_that_are_not_outputs(self, src: Path, files: FileDataset) -> None:
        with refused(
            r"step 'train': outputs\[0\] must be an OutputFileDatasetConfig, a "
            r"PipelineData or a PipelineData's as_dataset\(\), not "
            r"DatasetConsumptionConfig \(.*\)"
        ):
            script(src, outputs=[files.as_named_input("x")])
        with refused(r"step 'train': outputs\[1\] must be .*, not str \('out'\)"):
            script(src, outputs=[OutputFileDatasetConfig("o"), "out"])

    def test_a_binding_of_something_that_is_not_data(self, src: Path) -> None:
        with refused(
            r"step 'train': inputs\[0\]: input binding 'x' binds str \('a.csv'\); it "
            r"must be a PipelineData, a DataReference or a DataPath, not str \('a.csv'\)"
        ):
            script(src, inputs=[InputPortBinding("x", bind_object="a.csv")])

    def test_a_compute_binding_of_a_path_string(self, src: Path) -> None:
        with refused(
            r"step 'train': inputs\[0\]: the path of a \(path, DataPathComputeBinding\) "
            r"pair must be a DataPath or a PipelineParameter with a DataPath default, "
            r"not str \('docs'\)"
        ):
            script(src, inputs=[("docs", DataPathComputeBinding())])


class TestStepOptions:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"name": 5}, r"PythonScriptStep: name must be a str, not int \(5\)"),
            (
                {"runconfig": "local"},
                r"step 'train': runconfig must be a RunConfiguration, not str \('local'\)",
            ),
            (
                {"compute_target": 5},
                r"step 'train': compute_target must be a name, a \(name, type\) tuple or "
                r"a compute object with a name, not int \(5\)",
            ),
            (
                {"compute_target": (5, "AmlCompute")},
                r"step 'train': compute_target must be .*, not tuple \(\(5, 'AmlCompute'\)\)",
            ),
            (
                {"allow_reuse": "no"},
                r"step 'train': allow_reuse must be True or False, not str \('no'\)",
            ),
            (
                {"version": 1.5},
                r"step 'train': version must be a str, not float \(1.5\)",
            ),
            (
                {"source_directory": 5},
                r"step 'train': source_directory must be a str or a path, not int \(5\)",
            ),
            (
                {"params": ["a"]},
                r"step 'train': params must be a dict, not list \(\['a'\]\)",
            ),
            (
                {"params": {"a": [1]}},
                r"step 'train': params\['a'\] must be a str, int, float, bool or "
                r"PipelineParameter, not list \(\[1\]\)",
            ),
            (
                {"params": {1: "a"}},
                r"step 'train': params: each key must be a str, not int \(1\)",
            ),
            (
                {"runconfig_pipeline_params": {"NodeCount": "2"}},
                r"step 'train': runconfig_pipeline_params\['NodeCount'\] must be an int "
                r"or a PipelineParameter, not str \('2'\)",
            ),
        ],
    )
    def test_wrong_types(self, src: Path, kwargs: dict[str, Any], message: str) -> None:
        with refused(message):
            script(src, **kwargs)

    def test_script_name_of_a_wrong_type(self, src: Path) -> None:
        with refused(
            r"PythonScriptStep: script_name must be a str, not NoneType \(None\)"
        ):
            PythonScriptStep(None, source_directory=str(src))  # type: ignore[arg-type]

    def test_sdk_values_still_work(self, src: Path) -> None:
        step = script(
            src,
            source_directory=src,
            compute_target=("cpu-cluster", "AmlCompute"),
            version=2,
            runconfig_pipeline_params={
                "NodeCount": PipelineParameter("nodes", default_value=2)
            },
            params={"epochs": 3, "rate": 0.1, "flag": False},
        )

        assert (step.source_directory, step.compute_target, step.version) == (
            str(src),
            "cpu-cluster",
            "2",
        )

    def test_run_after_something_that_is_not_a_step(self, src: Path) -> None:
        with refused(
            r"step 'train': run_after\(step\) must be a step, not str \('prep'\)"
        ):
            script(src).run_after("prep")  # type: ignore[arg-type]

    def test_step_sequence_of_something_that_is_not_a_step(self, src: Path) -> None:
        first = script(src)

        with refused(r"StepSequence: steps\[1\] must be a step, not str \('b.py'\)"):
            StepSequence(steps=[first, "b.py"])  # type: ignore[list-item]
        with refused(
            r"StepSequence: steps must be a list, not PythonScriptStep \(.*\)"
        ):
            StepSequence(steps=first)  # type: ignore[arg-type]
        assert first._run_after == []

    def test_estimator_step_of_something_that_is_not_an_estimator(self) -> None:
        with (
            pytest.warns(DeprecationWarning),
            refused(
                r"EstimatorStep: estimator must be an Estimator \(or an object with an "
                r"entry_script\), not str \('train.py'\)"
            ),
        ):
            EstimatorStep(
                estimator="train.py",  # type: ignore[arg-type]
                estimator_entry_script_arguments=[],
                compute_target="local",
            )


class TestOtherConstructors:
    @pytest.mark.parametrize(
        ("build", "message"),
        [
            (
                lambda: PipelineParameter(5, 1),  # type: ignore[arg-type]
                r"PipelineParameter: name must be a str, not int \(5\)",
            ),
            (
                lambda: PipelineParameter("p", default_value=None),
                r"PipelineParameter 'p': the default must be an int, float, bool, str, "
                r"DataPath or dataset, not NoneType \(None\)",
            ),
            (
                lambda: PipelineData("d", datastore="workspaceblobstore"),  # type: ignore[arg-type]
                r"PipelineData 'd': datastore must be a Datastore \(Datastore.get\(ws, "
                r"name\)\) or None for the pipeline's default, not str "
                r"\('workspaceblobstore'\)",
            ),
            (
                lambda: Environment(5),  # type: ignore[arg-type]
                r"Environment name must be a str, not int",
            ),
        ],
    )
    def test_wrong_types(self, build: Callable[[], object], message: str) -> None:
        with pytest.raises(TypeError, match=f"^{message}$"):
            build()


class TestExperiment:
    def test_name_of_a_wrong_type(self, workspace: Workspace) -> None:
        with refused(r"Experiment\(\): name must be a str, not int \(5\)"):
            Experiment(workspace, 5)  # type: ignore[arg-type]

    def test_submit_of_something_that_is_not_a_pipeline(
        self, workspace: Workspace
    ) -> None:
        with refused(
            r"Experiment.submit\(\): config must be a Pipeline, PublishedPipeline, "
            r"PipelineEndpoint or "
            r"ScriptRunConfig, not str \('p'\)"
        ):
            Experiment(workspace, "exp").submit("p")
        assert nothing_written(workspace)

    def test_tags_that_are_not_a_dict(self, workspace: Workspace, src: Path) -> None:
        pipeline = Pipeline(workspace, [script(src)])

        with refused(
            r"Experiment.submit\(\): tags must be a dict, not list \(\['a'\]\)"
        ):
            Experiment(workspace, "exp").submit(pipeline, tags=["a"])
        assert nothing_written(workspace)


class TestSubmitArguments:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            (
                {"pipeline_parameters": [("p", 1)]},
                r"submit\(\): pipeline_parameters must be a dict, not list \(\[\('p', 1\)\]\)",
            ),
            (
                {"continue_on_step_failure": "no"},
                r"submit\(\): continue_on_step_failure must be True or False, not str "
                r"\('no'\)",
            ),
            (
                {"regenerate_outputs": 1},
                r"submit\(\): regenerate_outputs must be True or False, not int \(1\)",
            ),
            (
                {"delete_intermediate_outputs": None},
                r"submit\(\): delete_intermediate_outputs must be True or False, not "
                r"NoneType \(None\)",
            ),
            (
                {"parent_run_id": 5},
                r"submit\(\): parent_run_id must be a str, not int \(5\)",
            ),
            (
                {"credential_passthrough": "yes"},
                r"submit\(\): credential_passthrough must be True or False, not str "
                r"\('yes'\)",
            ),
            (
                {"colour": "blue"},
                re.escape("submit() got unexpected keyword arguments ['colour']"),
            ),
        ],
    )
    def test_wrong_types(
        self, workspace: Workspace, src: Path, kwargs: dict[str, Any], message: str
    ) -> None:
        pipeline = Pipeline(workspace, [script(src)])

        with refused(message):
            pipeline.submit("exp", **kwargs)
        with refused(message):
            Experiment(workspace, "exp").submit(pipeline, **kwargs)
        assert nothing_written(workspace)

    def test_experiment_name_of_a_wrong_type(
        self, workspace: Workspace, src: Path
    ) -> None:
        with refused(
            r"submit\(\): experiment_name must be a str, not NoneType \(None\)"
        ):
            Pipeline(workspace, [script(src)]).submit(None)  # type: ignore[arg-type]
        assert nothing_written(workspace)
