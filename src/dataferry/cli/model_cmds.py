"""``dataferry model``: list, show and download the workspace's registered models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import render
from dataferry.cli.context import current_workspace

if TYPE_CHECKING:
    from dataferry.execution.model import Model


@click.group("model")
def model() -> None:
    """List, inspect and download registered models (Model.register, run.register_model)."""


def _tag_filter(values: tuple[str, ...]) -> list[Any] | None:
    """``key`` or ``key=value`` options as the SDK's filter list."""
    if not values:
        return None
    return [v.split("=", 1) if "=" in v else v for v in values]


@model.command("list")
@click.option("--name", help="Only versions of this model.")
@click.option(
    "--tag", "tags", multiple=True, help="KEY or KEY=VALUE the model is tagged with."
)
@click.option(
    "--property", "properties", multiple=True, help="KEY or KEY=VALUE it has."
)
@click.option("--run-id", help="Only models registered from this step run.")
@click.option("--latest", is_flag=True, help="Only the newest version of each name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one list.")
def list_models(
    name: str | None,
    tags: tuple[str, ...],
    properties: tuple[str, ...],
    run_id: str | None,
    latest: bool,
    as_json: bool,
) -> None:
    """List the registered models, by name then version."""
    from dataferry.execution.model import Model

    found = Model.list(
        current_workspace(),
        name=name,
        tags=_tag_filter(tags),
        properties=_tag_filter(properties),
        run_id=run_id,
        latest=latest,
    )
    if as_json:
        click.echo(json.dumps([m.serialize() for m in found], indent=2, default=str))
        return
    if not found:
        render.say("No models; register one with Model.register(ws, path, name).")
        return
    render.print_table(
        ["name", "version", "files", "bytes", "run", "tags", "created"],
        [
            (
                m.name,
                m.version,
                m.serialize()["fileCount"],
                m.serialize()["sizeBytes"],
                m.run_id or "",
                ", ".join(f"{k}={v}" for k, v in m.tags.items()),
                m.created_time,
            )
            for m in found
        ],
        title="Models",
    )


@model.command("show")
@click.argument("name")
@click.option("--version", type=int, help="Default: the latest.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(name: str, version: int | None, as_json: bool) -> None:
    """Show one model version: its fields, tags, properties, run and files."""
    found = _model(name, version)
    fields = found.serialize()
    if as_json:
        click.echo(json.dumps(fields, indent=2, default=str))
        return
    plain = {k: v for k, v in fields.items() if not isinstance(v, dict)}
    render.print_key_values(plain, title=f"Model {found.id}")
    for key in ("tags", "properties", "datasets"):
        if fields[key]:
            render.print_json(fields[key], title=key.capitalize())


@model.command("download")
@click.argument("name")
@click.option("--version", type=int, help="Default: the latest.")
@click.option(
    "--target",
    "target_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to copy the model's file or folder into.",
)
@click.option("--overwrite", is_flag=True, help="Replace files that are there.")
def download(name: str, version: int | None, target_dir: Path, overwrite: bool) -> None:
    """Copy a model's files into a folder (as model.download does)."""
    found = _model(name, version)
    path = found.download(target_dir, exist_ok=overwrite)
    render.say(f"Downloaded model {found.id} to {path}")


def _model(name: str, version: int | None) -> Model:
    from dataferry.execution.model import Model

    return Model(current_workspace(), name, version=version)
