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
Pure: dicts in, dicts out.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

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
        seen: Counter[str] = Counter()
        values: dict[str, Any] = {}
        for node in nodes:
            if key in node:
                value = node[key]
                # repr: environment variables are a dict, which cannot be counted
                token = value if isinstance(value, str) else repr(value)
                seen[token] += 1
                values.setdefault(token, value)
        if seen:
            defaults[key] = values[seen.most_common(1)[0][0]]
    return defaults


def compact_nodes(
    nodes: Sequence[Mapping[str, Any]], datastore: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``node_defaults`` and each node's full JSON without what ``full_nodes`` restores.

    Args:
        nodes: the full JSON of every node (``PlanNode.to_json``).
        datastore: the plan's default datastore.
    """
    shared = shared_defaults(nodes)
    defaults = {**NODE_DEFAULTS, **shared}
    compact = []
    for node in nodes:
        out = {k: v for k, v in node.items() if v != defaults.get(k, _NONE)}
        if "inputs" in out:
            out["inputs"] = [_compact_input(i) for i in out["inputs"]]
        if "outputs" in out:
            out["outputs"] = [_compact_output(o, datastore) for o in out["outputs"]]
        compact.append(out)
    return shared, compact


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
