"""Overriding a scalar pipeline parameter at submit: read as its type, or refused.

As in the original SDK, which sends a scalar as its text for the service to parse as
the parameter's type: ``'3'`` for an int parameter is 3; ``'three'`` is refused with
ParameterTypeError (a TypeError) before anything is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from pipeline.kit import (
    ARGV_REPORT,
    nothing_written,
    report,
    run_pipeline,
    write_script,
)

from dataferry import (
    DataPath,
    DataPathComputeBinding,
    Experiment,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
)
from dataferry.errors import ParameterTypeError
from dataferry.execution.plan import PlanCompiler

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


INT = r"has an int default \(3\); it cannot be overridden with "


@pytest.fixture
def code(tmp_path: Path) -> Path:
    return write_script(tmp_path / "code", "argv.py", ARGV_REPORT)


def pipeline_with(workspace: Workspace, code: Path, default: Any) -> Pipeline:
    """A one-step pipeline whose argument is parameter ``p`` with ``default``."""
    param = PipelineParameter("p", default_value=default)
    step = PythonScriptStep(
        "argv.py", source_directory=str(code), arguments=["report.json", param]
    )
    return Pipeline(workspace, [step])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("default", "override", "value"),
    [
        (3, "3", 3),
        (3, " -7 ", -7),
        (3, "+12", 12),
        (3, 5, 5),
        (3, np.int64(4), 4),
        (0.5, "0.25", 0.25),
        (0.5, ".5", 0.5),
        (0.5, "1e-3", 0.001),
        (0.5, 2, 2.0),
        (0.5, np.float32(0.75), 0.75),
        (True, "false", False),
        (False, " TRUE ", True),
        (False, True, True),
        ("base", "other", "other"),
        ("base", 5, "5"),
        ("base", 0.5, "0.5"),
        ("base", True, "True"),
    ],
)
def test_an_override_is_read_as_the_parameter_type(
    workspace: Workspace, code: Path, default: Any, override: Any, value: Any
) -> None:
    compiler = PlanCompiler(pipeline_with(workspace, code, default), workspace)

    read = compiler.parameters({"p": override})["p"]

    assert (read, type(read)) == (value, type(value))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("default", "override", "message"),
    [
        (
            3,
            "three",
            INT + r"'three' \(str\). "
            r"Pass an int, or a string of digits such as '3'.",
        ),
        (
            3,
            "3.0",
            INT + r"'3.0' \(str\)",
        ),
        (
            3,
            3.5,
            INT + r"3.5 \(float\). Pass an int",
        ),
        (
            3,
            True,
            INT + r"True \(bool\). Pass an int",
        ),
        (
            3,
            None,
            INT + r"None \(NoneType\). Pass an int",
        ),
        (
            3,
            [3],
            INT + r"\[3\] \(list\). Pass an int",
        ),
        (
            3,
            "",
            INT + r"'' \(str\). Pass an int",
        ),
        (
            0.5,
            "half",
            r"has a float default \(0.5\); it cannot be overridden with 'half' \(str\). "
            r"Pass a float or an int, or a number as text such as '0.5'.",
        ),
        (0.5, False, r"has a float default \(0.5\); .* False \(bool\)"),
        (
            True,
            "yes",
            r"has a bool default \(True\); it cannot be overridden with 'yes' \(str\). "
            r"Pass True or False \(or the text 'true' or 'false'\).",
        ),
        (
            True,
            1,
            r"has a bool default \(True\); it cannot be overridden with 1 \(int\)",
        ),
        (
            "base",
            None,
            r"has a str default \('base'\); it cannot be overridden with None "
            r"\(NoneType\). Pass a str \(or an int, float or bool, passed as its text\).",
        ),
        ("base", {"a": 1}, r"has a str default \('base'\); .* \{'a': 1\} \(dict\)"),
        # digits of other scripts are not digits to the service ('١٢' read as 12)
        (3, "\u0661\u0662", INT + r"'\u0661\u0662' \(str\). Pass an int"),
    ],
)
def test_an_override_that_is_not_of_the_parameter_type_is_refused(
    workspace: Workspace, code: Path, default: Any, override: Any, message: str
) -> None:
    pipeline = pipeline_with(workspace, code, default)

    with pytest.raises(
        ParameterTypeError, match=rf"^pipeline parameter 'p' {message}"
    ) as caught:
        pipeline.submit("exp", pipeline_parameters={"p": override})

    assert isinstance(caught.value, TypeError)
    assert nothing_written(workspace)


DATAPATH = (
    r"^pipeline parameter 'p' has a DataPath default \(DataPath\(datastore="
    r"'workspaceblobstore', path_on_datastore='in'\)\); it cannot be overridden with "
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "given"),
    [
        ("other/path", r"'other/path' \(str\)"),
        (5, r"5 \(int\)"),
        (("workspaceblobstore", "x"), r"\('workspaceblobstore', 'x'\) \(tuple\)"),
    ],
)
def test_a_datapath_parameter_takes_only_a_datapath(
    workspace: Workspace, code: Path, override: Any, given: str
) -> None:
    # was "has a DataPath default; it cannot be overridden with a str": no value,
    # nothing to pass
    store = workspace.get_default_datastore()
    param = PipelineParameter("p", default_value=DataPath(store, "in"))
    bound = (param, DataPathComputeBinding(mode="mount"))
    step = PythonScriptStep(
        "argv.py", source_directory=str(code), arguments=[bound], inputs=[bound]
    )

    with pytest.raises(
        ParameterTypeError,
        match=DATAPATH + given + r"\. Pass a DataPath, e\.g\. "
        r"DataPath\(datastore, 'path/on/it'\)\.$",
    ):
        Pipeline(workspace, [step]).submit("exp", pipeline_parameters={"p": override})
    assert nothing_written(workspace)


def test_a_scalar_parameter_does_not_take_a_datapath(
    workspace: Workspace, code: Path
) -> None:
    pipeline = pipeline_with(workspace, code, 3)
    path = DataPath(workspace.get_default_datastore(), "x")

    with pytest.raises(
        ParameterTypeError,
        match=r"^pipeline parameter 'p' has an int default \(3\); it cannot be "
        r"overridden with DataPath\(datastore='workspaceblobstore', "
        r"path_on_datastore='x'\) \(DataPath\)\. Pass an int, or a string of digits "
        r"such as '3'\.$",
    ):
        pipeline.submit("exp", pipeline_parameters={"p": path})
    assert nothing_written(workspace)


def test_the_reported_case_through_experiment_submit(
    workspace: Workspace, code: Path
) -> None:
    pipeline = pipeline_with(workspace, code, 3)

    with pytest.raises(TypeError, match="cannot be overridden with 'three'"):
        Experiment(workspace, "exp").submit(pipeline, pipeline_params={"p": "three"})
    assert nothing_written(workspace)


def test_every_bad_override_is_named_at_once(workspace: Workspace, code: Path) -> None:
    step = PythonScriptStep(
        "argv.py",
        source_directory=str(code),
        arguments=[
            PipelineParameter("epochs", default_value=3),
            PipelineParameter("rate", default_value=0.1),
        ],
    )

    with pytest.raises(ParameterTypeError) as caught:
        Pipeline(workspace, [step]).submit(
            "exp", pipeline_parameters={"epochs": "three", "rate": "fast"}
        )

    assert [line.split(";")[0] for line in str(caught.value).splitlines()] == [
        "pipeline parameter 'epochs' has an int default (3)",
        "pipeline parameter 'rate' has a float default (0.1)",
    ]
    assert nothing_written(workspace)


@pytest.mark.slow
def test_a_numeric_string_runs_as_the_number(
    workspace: Workspace, code: Path, tmp_path: Path
) -> None:
    out = tmp_path / "argv.json"
    step = PythonScriptStep(
        "argv.py",
        source_directory=str(code),
        arguments=[str(out), PipelineParameter("epochs", default_value=3)],
    )

    run = run_pipeline(
        Pipeline(workspace, [step]), pipeline_parameters={"epochs": "12"}
    )

    assert run.get_status() == "Finished"
    assert report(out)["argv"] == ["12"]
    assert run.get_details()["parameters"] == {"epochs": 12}
