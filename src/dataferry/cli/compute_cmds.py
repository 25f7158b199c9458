"""``dataferry compute``: list, show, create and delete the workspace's compute targets."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import render
from dataferry.cli.context import current_workspace

if TYPE_CHECKING:
    from dataferry.data.compute import ComputeTarget


@click.group("compute")
def compute() -> None:
    """List, inspect, create and delete compute targets (where steps run)."""


@compute.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one list.")
def list_targets(as_json: bool) -> None:
    """List the compute targets."""
    from dataferry.data.compute import ComputeTarget

    targets = ComputeTarget.list(current_workspace())
    if as_json:
        click.echo(json.dumps([_summary(t) for t in targets], indent=2, default=str))
        return
    if not targets:
        render.say("No compute targets; create one with `dataferry compute create`.")
        return
    render.print_table(
        ["name", "type", "runs on", "max nodes", "vm size", "state"],
        [
            (
                s["name"],
                s["type"],
                s["runs_on"],
                s["max_nodes"],
                s["vm_size"],
                s["state"],
            )
            for s in map(_summary, targets)
        ],
        title="Compute targets",
    )


@compute.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(name: str, as_json: bool) -> None:
    """Show one compute target and its settings."""
    from dataferry.data.compute import ComputeTarget

    target = ComputeTarget(current_workspace(), name)
    if as_json:
        click.echo(json.dumps(_summary(target), indent=2, default=str))
        return
    render.print_key_values(
        {k: v for k, v in _summary(target).items() if k != "settings"},
        title=f"Compute target {name}",
    )
    render.print_json(_summary(target)["settings"], title="Settings")


@compute.command("create")
@click.argument("name")
@click.option(
    "--max-nodes", type=int, required=True, help="Steps on it that run at once."
)
@click.option("--min-nodes", type=int, default=0, show_default=True)
@click.option("--vm-size", default="", help="Recorded; no effect locally.")
@click.option(
    "--vm-priority",
    type=click.Choice(["dedicated", "lowpriority"]),
    default="dedicated",
    show_default=True,
)
@click.option("--idle-seconds", type=int, default=1800, show_default=True)
def create(
    name: str,
    max_nodes: int,
    min_nodes: int,
    vm_size: str,
    vm_priority: str,
    idle_seconds: int,
) -> None:
    """Create an AmlCompute target NAME whose steps run on this machine."""
    from dataferry.data.compute import AmlCompute, ComputeTarget

    config = AmlCompute.provisioning_configuration(
        vm_size=vm_size,
        vm_priority=vm_priority,
        min_nodes=min_nodes,
        max_nodes=max_nodes,
        idle_seconds_before_scaledown=idle_seconds,
    )
    target = ComputeTarget.create(current_workspace(), name, config)
    render.say(
        f"Compute target '{target.name}' ({target.type}): steps run {target.runs_on}, "
        f"at most {target.max_nodes} at once."
    )


@compute.command("delete")
@click.argument("name")
def delete(name: str) -> None:
    """Delete compute target NAME (runs that used it keep its name)."""
    from dataferry.data.compute import ComputeTarget

    ComputeTarget(current_workspace(), name).delete()
    render.say(f"Deleted compute target '{name}'.")


def _summary(target: ComputeTarget) -> dict[str, Any]:
    settings = target.serialize()["properties"]
    return {
        "name": target.name,
        "type": target.type,
        "runs_on": target.runs_on,
        "max_nodes": target.max_nodes,
        "vm_size": settings.get("vm_size", ""),
        "state": target.provisioning_state,
        "created": target.created_at,
        "settings": settings,
    }
