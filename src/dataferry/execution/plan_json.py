"""The stored form of a plan's nodes: each field only where it differs from its default.

A node's full JSON (``PlanNode.to_json``, what fingerprints hash) repeats per-run facts
(the snapshot folder and hash, the script, the environment) and default values on
every node; a 10,000-step plan was 10 MB of them. Plan version 3 stores:

- ``node_defaults``: the per-run fields (``SHARED_FIELDS``), each with the value most
  nodes have; a node stores such a field only where its value differs;
- in each node, input and output, no field whose value is its fixed default
  (``NODE_DEFAULTS``, ``INPUT_DEFAULTS``, ``OUTPUT_DEFAULTS``; an output's datastore
  defaults to the plan's ``default_datastore``, its path template to its type's).

``full_nodes`` restores the full JSON. A version 2 node holds every field: it is a
version 3 node that omits nothing, so older plans read through the same function.
Pure: plan nodes or dicts in, dicts out.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from dataferry.execution.plan_values import argument_to_json, encode_param

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.execution.plan_model import PlanNode

# fields whose value is usually the same on every node of a run
SHARED_FIELDS = (
    "kind",
    "script",
    "snapshot",
    "snapshot_hash",
    "interpreter",
    "environment",
    "environment_variables",
)
NODE_DEFAULTS: Mapping[str, Any] = {
    "shell": False,
    "arguments": [],
    "inputs": [],
    "outputs": [],
    "params": {},
    "upstream": [],
    "allow_reuse": True,
    "version": None,
    "compute_target": None,
    "runconfig_params": {},
    "max_run_duration_seconds": None,
}
INPUT_DEFAULTS: Mapping[str, Any] = {
    "auto_name": False,
    "path_on_compute": None,
}
VIEW_DEFAULT: Mapping[str, Any] = {"tabular": None, "transforms": []}
OUTPUT_DEFAULTS: Mapping[str, Any] = {
    "auto_name": False,
    "overwrite": False,
    "source_globs": None,
    "source": None,
    "register": None,
}
# the path an output of each type is written to unless its step says otherwise
PATH_TEMPLATES: Mapping[str, str] = {
    "dataset_output": "dataset/{run-id}/{output-name}",
    "pipeline_data": "azureml/{run-id}/{output-name}",
}


def shared_defaults(nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """For each of ``SHARED_FIELDS`` the value most nodes have (the first node's on a tie)."""
    defaults: dict[str, Any] = {}
    for key in SHARED_FIELDS:
        values = [node[key] for node in nodes if key in node]
        if not values:
            continue
        # repr: environment variables are a dict, which cannot be counted
        tokens = [v if isinstance(v, str) else repr(v) for v in values]
        # most_common keeps first-seen order among equal counts: the first node's wins
        (winner, _), *_ = Counter(tokens).most_common(1)
        defaults[key] = values[tokens.index(winner)]
    return defaults


def compact_plan_nodes(
    nodes: Sequence[PlanNode], datastore: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``node_defaults`` and each node's JSON without what ``full_nodes`` restores.

    The short form is written directly, field by field: building each node's full
    JSON first and then dropping most of it cost twice as much.

    Args:
        nodes: the plan's nodes.
        datastore: the plan's default datastore.
    """
    per_run = [_per_run_fields(node) for node in nodes]
    shared = shared_defaults(per_run)
    defaults = {**NODE_DEFAULTS, **shared}
    return shared, [
        _short_node(node, fields, defaults, datastore)
        for node, fields in zip(nodes, per_run, strict=True)
    ]


def _per_run_fields(node: PlanNode) -> dict[str, Any]:
    """The node's ``SHARED_FIELDS`` (its kind's fields, in its kind's order, first)."""
    env = node.environment
    return {
        **node.kind.to_json(),
        "snapshot": node.snapshot,
        "snapshot_hash": node.snapshot_hash,
        "interpreter": env.interpreter,
        "environment": env.name,
        "environment_variables": env.variables,
    }


def _short_node(
    node: PlanNode,
    per_run: Mapping[str, Any],
    defaults: Mapping[str, Any],
    datastore: str,
) -> dict[str, Any]:
    """``PlanNode.to_json`` without the fields at their defaults, in the same order."""
    out: dict[str, Any] = {"node_id": node.node_id, "name": node.name}
    kind_fields = [k for k in per_run if k not in _ENVIRONMENT_FIELDS]
    for key in kind_fields:
        _put(out, key, per_run[key], defaults)
    if node.arguments:
        out["arguments"] = [argument_to_json(a) for a in node.arguments]
    if node.inputs:
        out["inputs"] = [_compact_input(i.to_json()) for i in node.inputs]
    if node.outputs:
        out["outputs"] = [_compact_output(o.to_json(), datastore) for o in node.outputs]
    if node.params:
        out["params"] = {k: encode_param(v) for k, v in node.params.items()}
    if node.upstream:
        out["upstream"] = list(node.upstream)
    _put(out, "allow_reuse", node.allow_reuse, defaults)
    _put(out, "version", node.version, defaults)
    _put(out, "compute_target", node.compute_target, defaults)
    for key in _ENVIRONMENT_FIELDS:
        _put(out, key, per_run[key], defaults)
    if node.environment.request:
        out["environment_request"] = node.environment.request
    if node.runconfig_params:
        out["runconfig_params"] = {
            k: encode_param(v) for k, v in node.runconfig_params.items()
        }
    _put(out, "max_run_duration_seconds", node.max_run_duration_seconds, defaults)
    return out


_ENVIRONMENT_FIELDS = ("interpreter", "environment", "environment_variables")


def _put(
    out: dict[str, Any], key: str, value: Any, defaults: Mapping[str, Any]
) -> None:
    if value != defaults.get(key, _NONE):
        out[key] = value


def full_nodes(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The full JSON of every node of a stored plan (version 3, or upgraded to it).

    Raises:
        KeyError, TypeError, AttributeError: a malformed plan (``Plan.from_json``
            says which plan).
    """
    shared = {**NODE_DEFAULTS, **(data.get("node_defaults") or {})}
    datastore = data["default_datastore"]
    return [
        {
            **shared,
            **node,
            "inputs": [_full_input(i) for i in node.get("inputs", ())],
            "outputs": [_full_output(o, datastore) for o in node.get("outputs", ())],
        }
        for node in data["nodes"]
    ]


class _Missing:
    """Marks a field with no default: always stored."""


_NONE = _Missing()


def _compact_input(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in spec.items()
        if not (
            (k in INPUT_DEFAULTS and v == INPUT_DEFAULTS[k])
            or (k == "view" and v == VIEW_DEFAULT)
        )
    }


def _full_input(spec: Mapping[str, Any]) -> dict[str, Any]:
    full = {**INPUT_DEFAULTS, **spec}
    if full["kind"] == "output" and "view" not in full:
        full["view"] = dict(VIEW_DEFAULT, transforms=[])
    return full


def _compact_output(spec: Mapping[str, Any], datastore: str) -> dict[str, Any]:
    template = PATH_TEMPLATES.get(spec["type"])
    return {
        k: v
        for k, v in spec.items()
        if not (
            (k in OUTPUT_DEFAULTS and v == OUTPUT_DEFAULTS[k])
            or (k == "datastore" and v == datastore)
            or (k == "path_template" and v == template)
            or (k == "pipeline_output_name" and v is None)
        )
    }


def _full_output(spec: Mapping[str, Any], datastore: str) -> dict[str, Any]:
    return {
        **OUTPUT_DEFAULTS,
        "datastore": datastore,
        "path_template": PATH_TEMPLATES.get(spec["type"]),
        **spec,
    }
