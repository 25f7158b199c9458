"""``dataferry pipeline``: list, show, enable and disable published pipelines and
pipeline endpoints (read through the read model's ``PublishedView``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import json_out, render
from dataferry.cli.context import current_workspace

if TYPE_CHECKING:
    from dataferry.execution.views import PublishedView


def document(v: PublishedView) -> dict[str, Any]:
    """One published pipeline or endpoint as ``--json`` prints it."""
    return {
        "kind": v.kind,
        "id": v.id,
        "name": v.name,
        "status": v.status,
        "description": v.description,
        "endpoint": v.endpoint,
        "created_at": v.created_at,
        "version": v.version,
        "steps": list(v.steps),
        "parameters": dict(v.parameters),
        "default_version": v.default_version,
        "versions": dict(v.versions),
    }


@click.group("pipeline")
def pipeline() -> None:
    """Published pipelines and pipeline endpoints: list, show, enable, disable."""


@pipeline.command("list")
@click.option("--all", "include_disabled", is_flag=True, help="Include disabled ones.")
@json_out.json_option
def list_cmd(include_disabled: bool, as_json: bool) -> None:
    """List the published pipelines and endpoints (Active ones unless --all)."""
    from dataferry.execution import views

    found = views.list_published(current_workspace(), include_disabled=include_disabled)
    if as_json:
        json_out.emit([document(v) for v in found])
        return
    if not found:
        render.say("No published pipelines; publish one with pipeline.publish(...).")
        return
    render.print_table(
        ["kind", "name", "id", "status", "version", "created"],
        [
            (
                v.kind,
                v.name,
                v.id,
                v.status,
                v.version if v.kind == "pipeline" else f"default {v.default_version}",
                v.created_at,
            )
            for v in found
        ],
        title="Published pipelines",
    )


@pipeline.command("show")
@click.argument("ref")
@json_out.json_option
def show(ref: str, as_json: bool) -> None:
    """Show a published pipeline (by id) or an endpoint (by id or name)."""
    from dataferry.execution import views

    view = views.get_published(current_workspace(), ref)
    shown = document(view)
    if as_json:
        json_out.emit(shown)
        return
    render.print_key_values(
        {k: v for k, v in shown.items() if v not in (None, [], {})},
        title=f"Published {view.kind} {view.name}",
    )


@pipeline.command("enable")
@click.argument("ref")
def enable(ref: str) -> None:
    """Let a published pipeline or endpoint be submitted again."""
    _set_active(ref, active=True)


@pipeline.command("disable")
@click.argument("ref")
def disable(ref: str) -> None:
    """Refuse submits of a published pipeline or endpoint until it is enabled."""
    _set_active(ref, active=False)


def _set_active(ref: str, *, active: bool) -> None:
    from dataferry.execution import views
    from dataferry.execution.pipeline_endpoint import PipelineEndpoint
    from dataferry.execution.published import PublishedPipeline

    workspace = current_workspace()
    view = views.get_published(workspace, ref)
    target: PublishedPipeline | PipelineEndpoint = (
        PublishedPipeline.get(workspace, view.id)
        if view.kind == "pipeline"
        else PipelineEndpoint.get(workspace, id=view.id)
    )
    if active:
        target.enable()
    else:
        target.disable()
    render.say(f"{view.kind} {view.name} ({view.id}) is now {target.status}")
