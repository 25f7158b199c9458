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
    "--max-nodes",
    type=int,
    default=None,
    help="Steps on it that run at once (required without --ray; default 4 with it).",
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
@click.option(
    "--ray",
    "ray_address",
    default=None,
    help="Run its steps on Ray: ray://HOST:PORT, a GCS HOST:PORT, or 'local'.",
)
@click.option("--num-cpus", type=float, default=None, help="With --ray: per step.")
@click.option("--num-gpus", type=float, default=None, help="With --ray: per step.")
@click.option("--memory", type=int, default=None, help="With --ray: bytes per step.")
@click.option(
    "--resource", multiple=True, help="With --ray: NAME=AMOUNT per step (repeatable)."
)
@click.option("--label", multiple=True, help="With --ray: KEY=VALUE a node must have.")
@click.option(
    "--shared-folder",
    multiple=True,
    help="With --ray: an absolute folder every node sees at the same path "
    "(repeatable); local-folder datastores inside it are reachable from all nodes.",
)
@click.option(
    "--lost-node-retries",
    type=int,
    default=None,
    help="With --ray: runs of a step whose node was lost (default 2).",
)
def create(name: str, ray_address: str | None, **options: Any) -> None:
    """Create compute target NAME: an AmlCompute whose steps run on this machine, or
    with --ray a target whose steps run as Ray tasks on that cluster."""
    from dataferry.data.compute import ComputeTarget

    config = (
        _ray_config(ray_address, options)
        if ray_address is not None
        else _aml_config(options)
    )
    target = ComputeTarget.create(current_workspace(), name, config)
    render.say(
        f"Compute target '{target.name}' ({target.type}): steps run {target.runs_on}, "
        f"at most {target.max_nodes} at once."
    )


def _aml_config(options: dict[str, Any]) -> Any:
    from dataferry.data.compute import AmlCompute

    ray_only = [k for k in _RAY_ONLY if options[k] not in (None, ())]
    if ray_only:
        flags = ", ".join("--" + k.replace("_", "-") for k in ray_only)
        raise click.UsageError(f"{flags} only apply with --ray ADDRESS.")
    if options["max_nodes"] is None:
        raise click.UsageError("Missing option '--max-nodes' (needed without --ray).")
    return AmlCompute.provisioning_configuration(
        vm_size=options["vm_size"],
        vm_priority=options["vm_priority"],
        min_nodes=options["min_nodes"],
        max_nodes=options["max_nodes"],
        idle_seconds_before_scaledown=options["idle_seconds"],
    )


_RAY_ONLY = (
    "num_cpus",
    "num_gpus",
    "memory",
    "resource",
    "label",
    "shared_folder",
    "lost_node_retries",
)


def _ray_config(address: str, options: dict[str, Any]) -> Any:
    from dataferry.data.compute_ray import (
        DEFAULT_LOST_NODE_RETRIES,
        RayCompute,
    )

    retries = options["lost_node_retries"]
    return RayCompute.provisioning_configuration(
        address,
        max_nodes=4 if options["max_nodes"] is None else options["max_nodes"],
        num_cpus=options["num_cpus"],
        num_gpus=options["num_gpus"],
        memory=options["memory"],
        resources={k: float(v) for k, v in _pairs(options["resource"], "--resource")},
        node_labels=dict(_pairs(options["label"], "--label")),
        lost_node_retries=DEFAULT_LOST_NODE_RETRIES if retries is None else retries,
        shared_folders=list(options["shared_folder"]),
    )


def _pairs(items: tuple[str, ...], flag: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=flag)
        if flag == "--resource":
            try:
                float(value)
            except ValueError:
                raise click.BadParameter(
                    f"{item!r}: the amount must be a number", param_hint=flag
                ) from None
        pairs.append((key, value))
    return pairs


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
        "ray_address": settings.get("ray_address"),
        "state": target.provisioning_state,
        "created": target.created_at,
        "settings": settings,
    }
