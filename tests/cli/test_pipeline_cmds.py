"""``dataferry pipeline list|show|enable|disable`` over published pipelines and
endpoints."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from execution.test_published import echo_pipeline

from dataferry.execution.pipeline_endpoint import PipelineEndpoint
from dataferry.execution.published import PublishedPipeline

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace
    from tests.cli.conftest import Invoke

BASE = "http://127.0.0.1:8765/pipelines/v1.0/PipelineRuns/"


def test_list_when_none(run: Invoke) -> None:
    result = run("pipeline", "list")

    assert result.exit_code == 0
    assert "No published pipelines" in result.output
    assert json.loads(run("pipeline", "list", "--json").output) == []


def test_list_show_disable_enable(
    run: Invoke, workspace: Workspace, tmp_path: Path
) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo", "d", "1.0")
    endpoint = PipelineEndpoint.publish(workspace, "ep", "e", published)

    listed = json.loads(run("pipeline", "list", "--json").output)
    assert [(d["kind"], d["name"], d["status"]) for d in listed] == [
        ("pipeline", "echo", "Active"),
        ("endpoint", "ep", "Active"),
    ]
    shown = json.loads(run("pipeline", "show", published.id, "--json").output)
    assert {k: shown[k] for k in ("version", "steps", "parameters", "endpoint")} == {
        "version": "1.0",
        "steps": ["echo.py"],
        "parameters": {"count": 3, "label": "base"},
        "endpoint": f"{BASE}PipelineSubmit/{published.id}",
    }
    by_name = json.loads(run("pipeline", "show", "ep", "--json").output)
    assert (by_name["id"], by_name["default_version"], by_name["versions"]) == (
        endpoint.id,
        "0",
        {"0": published.id},
    )
    assert by_name["endpoint"] == f"{BASE}PipelineEndpointSubmit/Id/{endpoint.id}"
    table = run("pipeline", "list").output
    assert "echo" in table
    assert "default 0" in table

    done = run("pipeline", "disable", "ep")
    assert done.exit_code == 0
    assert f"endpoint ep ({endpoint.id}) is now Disabled" in done.output
    run("pipeline", "disable", published.id)
    assert json.loads(run("pipeline", "list", "--json").output) == []
    assert len(json.loads(run("pipeline", "list", "--all", "--json").output)) == 2
    assert PublishedPipeline.get(workspace, published.id).status == "Disabled"
    run("pipeline", "enable", endpoint.id)
    assert endpoint.status == "Active"
    assert "Published endpoint ep" in run("pipeline", "show", "ep").output


def test_an_unknown_reference_is_a_clear_error(run: Invoke) -> None:
    for command in ("show", "enable", "disable"):
        result = run("pipeline", command, "nope")
        assert result.exit_code == 3
        assert (
            "no published pipeline or PipelineEndpoint has id or name 'nope'"
            in result.output
        )
