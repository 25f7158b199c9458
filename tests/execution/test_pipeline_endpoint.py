"""PipelineEndpoint from Python: publish, versions, default, get/list, status, submit."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from execution.test_published import echo_pipeline

from dataferry import Experiment
from dataferry.errors import (
    PipelineTypeError,
    PipelineValidationError,
    PublishedPipelineNotFoundError,
    PublishedPipelineStateError,
)
from dataferry.execution.pipeline_endpoint import PipelineEndpoint
from dataferry.execution.published import PublishedPipeline

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``):
    endpoint versions are numbered in the catalog, under its lock."""
    return catalog_workspace


def test_publish_adds_versions_and_moves_the_default(
    workspace: Workspace, tmp_path: Path
) -> None:
    first = echo_pipeline(workspace, tmp_path).publish("echo", version="a")
    second = echo_pipeline(workspace, tmp_path).publish("echo", version="b")

    endpoint = PipelineEndpoint.publish(workspace, "ep", "desc", first)

    assert (endpoint.name, endpoint.description, endpoint.status) == (
        "ep",
        "desc",
        "Active",
    )
    assert endpoint.get_default_version() == "0"
    assert endpoint.add(second) == "1"
    assert endpoint.default_version == "0"
    assert endpoint.add_default(first) == "2"
    assert endpoint.get_default_version() == "2"
    assert endpoint.list_versions() == [
        {"Version": "0", "PipelineId": first.id},
        {"Version": "1", "PipelineId": second.id},
        {"Version": "2", "PipelineId": first.id},
    ]
    endpoint.set_default_version("1")
    assert endpoint.get_pipeline().id == second.id
    assert endpoint.get_pipeline("0").id == first.id
    endpoint.set_default(first)
    assert endpoint.default_version == "0"
    assert endpoint.endpoint == (
        "http://127.0.0.1:8765/pipelines/v1.0/PipelineRuns/PipelineEndpointSubmit/Id/"
        + endpoint.id
    )


def test_a_pipeline_is_published_first_under_a_dated_name(
    workspace: Workspace, tmp_path: Path
) -> None:
    endpoint = PipelineEndpoint.publish(
        workspace, "dated", "d", echo_pipeline(workspace, tmp_path)
    )

    published = endpoint.get_pipeline()
    assert re.fullmatch(r"dated-\d\d-\d\d-\d{4}-\d\d-\d\d-Pipeline", published.name)
    version = endpoint.add(echo_pipeline(workspace, tmp_path))
    assert endpoint.get_pipeline(version).name.startswith("dated-")
    assert len(PublishedPipeline.list(workspace)) == 2


def test_get_list_enable_disable(workspace: Workspace, tmp_path: Path) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo")
    one = PipelineEndpoint.publish(workspace, "one", "d", published)
    two = PipelineEndpoint.publish(workspace, "two", "d", published)

    assert PipelineEndpoint.get(workspace, id=one.id).name == "one"
    assert PipelineEndpoint.get(workspace, name="two").id == two.id
    two.disable()
    assert [e.name for e in PipelineEndpoint.list(workspace)] == ["one"]
    assert [e.name for e in PipelineEndpoint.list(workspace, active_only=False)] == [
        "one",
        "two",
    ]
    assert [e.name for e in PipelineEndpoint.list(workspace, False, 1)] == ["one"]
    with pytest.raises(
        PublishedPipelineStateError, match="Status must be Active, its Disabled"
    ):
        two.submit("exp")
    two.enable()
    assert PipelineEndpoint.get(workspace, name="two").status == "Active"
    assert [p.id for p in two.list_pipelines()] == [published.id]


def test_refusals_write_nothing(workspace: Workspace, tmp_path: Path) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo")
    endpoint = PipelineEndpoint.publish(workspace, "ep", "d", published)

    with pytest.raises(
        PublishedPipelineStateError, match="PipelineEndpoint already exists"
    ):
        PipelineEndpoint.publish(
            workspace, "ep", "d", echo_pipeline(workspace, tmp_path)
        )
    assert len(PublishedPipeline.list(workspace)) == 1  # nothing published
    with pytest.raises(PipelineTypeError, match="must be a Pipeline or Published"):
        PipelineEndpoint.publish(workspace, "other", "d", "not a pipeline")
    with pytest.raises(PipelineTypeError, match="must be a Pipeline or Published"):
        endpoint.add(42)
    with pytest.raises(PipelineTypeError, match="either id or name"):
        PipelineEndpoint.get(workspace)
    with pytest.raises(PublishedPipelineNotFoundError, match="no PipelineEndpoint"):
        PipelineEndpoint.get(workspace, name="missing")
    with pytest.raises(PublishedPipelineStateError, match="has no version '7'"):
        endpoint.set_default_version("7")
    with pytest.raises(PublishedPipelineStateError, match="has no version '3'"):
        endpoint.submit("exp", pipeline_version="3")
    with pytest.raises(PipelineValidationError, match="name nope does not exist"):
        endpoint.submit("exp", pipeline_parameters={"nope": 1})
    other = echo_pipeline(workspace, tmp_path).publish("other")
    with pytest.raises(PublishedPipelineStateError, match="is not a version"):
        endpoint.set_default(other)
    assert endpoint.default_version == "0"
    assert list(Experiment(workspace, "exp").get_runs()) == []


@pytest.mark.slow
def test_submit_runs_the_default_or_the_named_version(
    workspace: Workspace, tmp_path: Path
) -> None:
    pipeline = echo_pipeline(workspace, tmp_path)
    endpoint = PipelineEndpoint.publish(workspace, "ep", "d", pipeline.publish("p"))
    endpoint.add(pipeline.publish("p2"))

    run = endpoint.submit("exp", pipeline_parameters={"count": 5})
    run.wait_for_completion(show_output=False)
    assert json.loads((tmp_path / "out.json").read_text()) == ["5", "base"]
    again = Experiment(workspace, "exp").submit(
        endpoint, pipeline_parameters={"label": "v1"}, pipeline_version="1"
    )
    again.wait_for_completion(show_output=False)
    assert again.get_status() == "Finished"
    assert json.loads((tmp_path / "out.json").read_text()) == ["3", "v1"]
