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

from dataferry.execution.plan_inputs import UpstreamOutputInput
from dataferry.execution.plan_values import argument_to_json, encode_param

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.execution.plan_inputs import InputBinding
    from dataferry.execution.plan_model import OutputTarget, PlanNode

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
    return _weighted_defaults([(node, 1) for node in nodes])


def _weighted_defaults(
    groups: Sequence[tuple[Mapping[str, Any], int]],
) -> dict[str, Any]:
    """``shared_defaults`` of nodes given as (fields, how many nodes have them) pairs,
    in the order the first node of each group comes."""
    defaults: dict[str, Any] = {}
    for key in SHARED_FIELDS:
        counts: Counter[Any] = Counter()
        first: dict[Any, Any] = {}
        for fields, weight in groups:
            if key not in fields:
                continue
            value = fields[key]
            # repr: environment variables are a dict, which cannot be counted
            token = value if isinstance(value, str) else repr(value)
            counts[token] += weight
            first.setdefault(token, value)
        if counts:
            # most_common keeps first-seen order among equal counts: the first node's wins
            (winner, _), *_ = counts.most_common(1)
            defaults[key] = first[winner]
    return defaults


def compact_plan_nodes(
    nodes: Sequence[PlanNode], datastore: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``node_defaults`` and each node's JSON without what ``full_nodes`` restores.

    The short form is written directly, field by field: building each node's full
    JSON first and then dropping most of it cost twice as much. The per-run fields
    are worked out once per distinct (kind, snapshot, environment): nodes share them.

    Args:
        nodes: the plan's nodes.
        datastore: the plan's default datastore.
    """
    groups: dict[tuple[Any, ...], int] = {}  # a group's place in ``fields_of``
    fields_of: list[dict[str, Any]] = []  # each group's per-run fields
    positions: list[int] = []  # each node's group
    for node in nodes:
        # by identity: a compiled plan shares one kind and one environment object
        # among its nodes, and hashing a frozen kind per node cost more than the
        # lookup (equal kinds held twice make two groups of equal fields: the
        # defaults are counted by value, so the JSON is the same)
        key = (id(node.kind), node.snapshot, node.snapshot_hash, id(node.environment))
        at = groups.get(key)
        if at is None:
            at = groups[key] = len(fields_of)
            fields_of.append(_per_run_fields(node))
        positions.append(at)
    counts = Counter(positions)
    shared = _weighted_defaults([(f, counts[i]) for i, f in enumerate(fields_of)])
    defaults = {**NODE_DEFAULTS, **shared}
    differing = [_differing(fields, defaults) for fields in fields_of]
    return shared, [
        _short_node(node, *differing[at], defaults, datastore)
        for node, at in zip(nodes, positions, strict=True)
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


def _differing(
    per_run: Mapping[str, Any], defaults: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The per-run fields not at their defaults: the kind's (first in a node), and
    the environment's (after ``compute_target``)."""
    kind: dict[str, Any] = {}
    environment: dict[str, Any] = {}
    for key, value in per_run.items():
        if value != defaults.get(key, _NONE):
            target = environment if key in _ENVIRONMENT_FIELDS else kind
            target[key] = value
    return kind, environment


def _short_node(
    node: PlanNode,
    kind_fields: Mapping[str, Any],
    environment_fields: Mapping[str, Any],
    defaults: Mapping[str, Any],
    datastore: str,
) -> dict[str, Any]:
    """``PlanNode.to_json`` without the fields at their defaults, in the same order."""
    out: dict[str, Any] = {"node_id": node.node_id, "name": node.name, **kind_fields}
    if node.arguments:
        out["arguments"] = [argument_to_json(a) for a in node.arguments]
    if node.inputs:
        out["inputs"] = [_short_input(i) for i in node.inputs]
    if node.outputs:
        out["outputs"] = [_short_output(o, datastore) for o in node.outputs]
    if node.params:
        out["params"] = {k: encode_param(v) for k, v in node.params.items()}
    if node.upstream:
        out["upstream"] = list(node.upstream)
    # NODE_DEFAULTS holds these three: compared in line, as they are on every node
    if node.allow_reuse != defaults["allow_reuse"]:
        out["allow_reuse"] = node.allow_reuse
    if node.version != defaults["version"]:
        out["version"] = node.version
    if node.compute_target != defaults["compute_target"]:
        out["compute_target"] = node.compute_target
    if environment_fields:
        out.update(environment_fields)
    if node.environment.request:
        out["environment_request"] = node.environment.request
    if node.runconfig_params:
        out["runconfig_params"] = {
            k: encode_param(v) for k, v in node.runconfig_params.items()
        }
    _put(out, "max_run_duration_seconds", node.max_run_duration_seconds, defaults)
    if node.step_resources:
        out["step_resources"] = node.step_resources
    return out


_ENVIRONMENT_FIELDS = ("interpreter", "environment", "environment_variables")


def _put(
    out: dict[str, Any], key: str, value: Any, defaults: Mapping[str, Any]
) -> None:
    if value != defaults.get(key, _NONE):
        out[key] = value


def _short_input(binding: InputBinding) -> dict[str, Any]:
    """The input's JSON without the fields at their defaults, in the same order.

    An upstream output (most inputs of a big pipeline) is written directly; the
    other kinds are compacted from their full JSON.
    """
    if not isinstance(binding, UpstreamOutputInput):
        return _compact_input(binding.to_json())
    out: dict[str, Any] = {"name": binding.name}
    if binding.auto_name:
        out["auto_name"] = True
    out["kind"] = binding.kind
    out["mode"] = binding.mode
    out["style"] = binding.style
    if binding.path_on_compute is not None:
        out["path_on_compute"] = binding.path_on_compute
    out["producer"] = binding.producer
    out["output"] = binding.output
    view = binding.view
    if view.tabular is not None or view.transforms != []:
        out["view"] = view.to_json()
    return out


def _short_output(target: OutputTarget, datastore: str) -> dict[str, Any]:
    """``OutputTarget.to_json`` without the fields at their defaults, in its order."""
    out: dict[str, Any] = {"name": target.name}
    if target.auto_name:
        out["auto_name"] = True
    out["type"] = target.type
    if target.type == "pipeline_data" and target.pipeline_output_name is not None:
        out["pipeline_output_name"] = target.pipeline_output_name
    out["mode"] = target.mode
    if target.datastore != datastore:
        out["datastore"] = target.datastore
    if target.path_template != PATH_TEMPLATES.get(target.type):
        out["path_template"] = target.path_template
    if target.overwrite:
        out["overwrite"] = target.overwrite
    if target.source_globs is not None:
        out["source_globs"] = target.source_globs
    if target.source is not None:
        out["source"] = target.source
    if target.register:
        out["register"] = target.register.to_json()
    return out


def full_nodes(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The full JSON of every node of a stored plan (version 3, or upgraded to it).

    Raises:
        KeyError, TypeError, AttributeError: a malformed plan (``Plan.from_json``
            says which plan).
    """
    stored = StoredNodes(data)
    return [stored.full(node) for node in stored.nodes]


class StoredNodes:
    """The nodes of a stored plan (version 3, or upgraded to it), each restored to its
    full JSON only when asked for (``full``): the agent deciding whether a submitted
    run is wholly reused stops at the first step that is not, and restoring all of a
    10,000-step plan's nodes first was most of its time.

    Raises (on construction):
        KeyError, TypeError, AttributeError: a malformed plan.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.shared: dict[str, Any] = {
            **NODE_DEFAULTS,
            **(data.get("node_defaults") or {}),
        }
        self.datastore: str = data["default_datastore"]
        self.nodes: list[Mapping[str, Any]] = list(data["nodes"])

    def full(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """The full JSON of ``node``, one of ``nodes``.

        Raises:
            KeyError, TypeError, AttributeError: a malformed node.
        """
        datastore = self.datastore
        return {
            **self.shared,
            **node,
            "inputs": [_full_input(i) for i in node.get("inputs", ())],
            "outputs": [_full_output(o, datastore) for o in node.get("outputs", ())],
        }

    def field(self, node: Mapping[str, Any], name: str) -> Any:
        """The value of the node-level field ``name`` of ``node``, without restoring
        the rest of it (``name`` one of ``NODE_DEFAULTS`` or ``SHARED_FIELDS``)."""
        return node[name] if name in node else self.shared[name]

    def generated_outputs(self) -> list[tuple[str, int, str]]:
        """``(node id, index, name)`` of every output whose name was generated
        (``auto_name``), in plan order.

        Raises:
            KeyError, TypeError, AttributeError: a malformed node.
        """
        return [
            (node["node_id"], i, out["name"])
            for node in self.nodes
            for i, out in enumerate(node.get("outputs", ()))
            if out.get("auto_name", OUTPUT_DEFAULTS["auto_name"])
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


def _full_output(spec: Mapping[str, Any], datastore: str) -> dict[str, Any]:
    return {
        **OUTPUT_DEFAULTS,
        "datastore": datastore,
        "path_template": PATH_TEMPLATES.get(spec["type"]),
        **spec,
    }
