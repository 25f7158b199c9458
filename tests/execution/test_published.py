"""Published pipelines from Python: publish, get/list, enable/disable, submit."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import write_script

from dataferry import Experiment, Pipeline, PipelineParameter, PythonScriptStep
from dataferry.errors import (
    ParameterTypeError,
    PipelineValidationError,
    PublishedPipelineNotFoundError,
    PublishedPipelineStateError,
)
from dataferry.execution.published import PublishedPipeline

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

ECHO = """
import json, sys
json.dump(sys.argv[2:], open(sys.argv[1], "w"))
"""


def echo_pipeline(workspace: Workspace, tmp_path: Path) -> Pipeline:
    """One step that writes its two parameters' values to ``tmp_path/out.json``."""
    code = write_script(tmp_path / "code", "echo.py", ECHO)
    count = PipelineParameter("count", default_value=3)
    label = PipelineParameter("label", default_value="base")
    step = PythonScriptStep(
        "echo.py",
        source_directory=str(code),
        arguments=[str(tmp_path / "out.json"), count, label],
    )
    return Pipeline(workspace, [step])


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``):
    published pipelines and their runs are catalog rows."""
    return catalog_workspace


@pytest.mark.slow
def test_a_published_pipeline_runs_with_its_parameters(
    workspace: Workspace, tmp_path: Path
) -> None:
    published = echo_pipeline(workspace, tmp_path).publish(
        "echo", description="d", version="1.0"
    )

    run = published.submit(workspace, "pub", pipeline_parameters={"count": "7"})
    run.wait_for_completion(show_output=False)

    assert run.get_status() == "Finished"
    assert json.loads((tmp_path / "out.json").read_text()) == ["7", "base"]
    again = Experiment(workspace, "pub").submit(
        PublishedPipeline.get(workspace, published.id),
        pipeline_parameters={"label": "other"},
    )
    again.wait_for_completion(show_output=False)
    assert json.loads((tmp_path / "out.json").read_text()) == ["3", "other"]


def test_published_pipeline_properties_list_and_status(
    workspace: Workspace, tmp_path: Path
) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo", "d", "2")

    assert (published.name, published.description, published.version) == (
        "echo",
        "d",
        "2",
    )
    assert published.status == "Active"
    assert published.get_step_names() == ["echo.py"]
    assert published.endpoint == (
        "http://127.0.0.1:8765/pipelines/v1.0/PipelineRuns/PipelineSubmit/"
        + published.id
    )
    published.disable()
    assert published.status == "Disabled"
    assert PublishedPipeline.list(workspace) == []
    assert [p.id for p in PublishedPipeline.list(workspace, active_only=False)] == [
        published.id
    ]
    with pytest.raises(
        PublishedPipelineStateError, match="Status must be Active, its Disabled"
    ):
        published.submit(workspace, "pub")
    published.enable()
    assert [p.id for p in PublishedPipeline.list(workspace)] == [published.id]


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (
            {"nope": 1},
            PipelineValidationError,
            "Pipeline parameter with name nope does not exist",
        ),
        ({"count": "three"}, ParameterTypeError, r"'count' has an int default \(3\)"),
        (
            {"count": 1, "zz": 2, "aa": 3},
            PipelineValidationError,
            r"2 problem\(s\)(.|\n)*name aa(.|\n)*name zz",
        ),
        (
            [("count", 1)],
            ParameterTypeError,
            r"pipeline_parameters must be a dict of name: value, not list",
        ),
        ("count=1", ParameterTypeError, "must be a dict of name: value, not str"),
        ({1: 2}, ParameterTypeError, "parameter names are strings, not int 1"),
    ],
)
def test_bad_parameters_are_refused_before_a_run_is_recorded(
    workspace: Workspace,
    tmp_path: Path,
    overrides: object,
    error: type[Exception],
    message: str,
) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo")

    with pytest.raises(error, match=message):
        published.submit(workspace, "pub", pipeline_parameters=overrides)

    assert Experiment(workspace, "pub").get_runs() == [] or not list(
        Experiment(workspace, "pub").get_runs()
    )


def test_an_unknown_id_is_named(workspace: Workspace) -> None:
    with pytest.raises(
        PublishedPipelineNotFoundError, match="no published pipeline has id 'x'"
    ):
        PublishedPipeline.get(workspace, "x")
