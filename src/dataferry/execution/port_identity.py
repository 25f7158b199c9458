"""Stable identities for a step's ports: generated names never reach a fingerprint.

An unnamed ``OutputFileDatasetConfig()``, ``.as_input()``, ``ds.as_mount()``, DataPath or
DataReference gets a random name when it is built, so the same pipeline built twice has
other names. A fingerprint sees such a port by its place instead: ``<input 1>`` is the
step's second input, ``<prep output 0>`` the first output of step ``prep``. A name the
user gave stays as it is: the step sees it (an environment variable, a key of
``run.input_datasets``), so changing it is a real change.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dataferry._lazy import LazyPattern

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from dataferry.catalog.run_store import StepRunRecord
    from dataferry.execution.plan_model import PlanNode

# in a port's JSON, to say which names were generated: never hashed, so a pipeline whose
# ports all have names keeps the fingerprint it had before the flag existed
AUTO_NAME = "auto_name"


# what ``OutputFileDatasetConfig()`` names an unnamed output (``pipeline.outputs``)
_GENERATED_OUTPUT = LazyPattern(r"output_[0-9a-f]{8}")


class NameTokens:
    """The generated names of a plan's ports and the tokens that stand for them, each
    node's worked out when it is first asked for: a run fingerprints its steps one by
    one, and the agent stops at the first step that cannot be reused, so working out
    every node's up front cost a 10,000-step submit a quarter of a second.

    Built from ``{generated output name: "<node output i>"}`` over every node of the
    plan (``of_nodes``, or ``output_tokens`` over a stored plan's full JSON).
    """

    def __init__(self, outputs: Mapping[str, str]) -> None:
        self.outputs = dict(outputs)
        # a name of another shape (from an older plan) is offered to every node
        self.everywhere = {
            k: v for k, v in self.outputs.items() if not _GENERATED_OUTPUT.fullmatch(k)
        }

    @classmethod
    def of_nodes(cls, nodes: Iterable[PlanNode]) -> NameTokens:
        """The tokens of the plan whose nodes are ``nodes``."""
        return cls(
            {
                out.name: output_token(node.node_id, i)
                for node in nodes
                for i, out in enumerate(node.outputs)
                if out.auto_name
            }
        )

    def of(self, node: PlanNode) -> dict[str, str]:
        """{generated name: token} for ``node``: its own inputs (``<input i>``) and the
        outputs of any step (``<node output i>``) whose generated names occur in the
        node, in its arguments or elsewhere. A name that does not occur in a node
        cannot be replaced there, so leaving it out changes no fingerprint; giving
        every node every output's name made this quadratic in the number of steps."""
        found = {
            name: self.outputs[name]
            for name in _GENERATED_OUTPUT.findall(repr(node))
            if name in self.outputs
        }
        own = {
            spec.name: f"<input {i}>"
            for i, spec in enumerate(node.inputs)
            if spec.auto_name
        }
        return {**self.everywhere, **found, **own}


def output_token(node_id: str, index: int) -> str:
    """The token that stands for output ``index`` of node ``node_id``."""
    return f"<{node_id} output {index}>"


def output_tokens(generated: Iterable[tuple[str, int, str]]) -> dict[str, str]:
    """``NameTokens``' outputs from ``(node id, index, generated name)`` of each output
    whose name was generated (``StoredNodes.generated_outputs`` of a stored plan)."""
    return {name: output_token(node_id, i) for node_id, i, name in generated}


def name_tokens(nodes: Sequence[PlanNode]) -> dict[str, dict[str, str]]:
    """Every node's tokens at once (``NameTokens.of``), by node id."""
    tokens = NameTokens.of_nodes(nodes)
    return {node.node_id: tokens.of(node) for node in nodes}


def canonical_node(node: PlanNode, tokens: dict[str, str]) -> dict[str, Any]:
    """The JSON of a plan node with every generated name replaced by its token.

    Names are replaced wherever they occur, also inside strings: an argument such as
    ``"--out=$AZUREML_DATAREFERENCE_<generated>"`` would carry the random name too.
    Port dicts keep their ``auto_name`` flag; ``hashable_port`` drops it.
    """
    canon: dict[str, Any] = _replace(node.to_json(), _swapper(tokens))
    return canon


def hashable_port(
    spec: dict[str, Any], *, drop: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A canonical port dict as it enters the fingerprint (without the plan-only flag)."""
    return {k: v for k, v in spec.items() if k != AUTO_NAME and k not in drop}


def positional_arguments(canon: dict[str, Any]) -> list[Any]:
    """A canonical node's arguments with each port reference as the port's position.

    Explanations compare these, so renaming a port is not also reported as an
    argument change.
    """
    where = {("input", spec["name"]): i for i, spec in enumerate(canon["inputs"])} | {
        ("output", spec["name"]): i for i, spec in enumerate(canon["outputs"])
    }
    out: list[Any] = []
    for arg in canon["arguments"]:
        if isinstance(arg, dict) and len(arg) == 1:
            ((kind, name),) = arg.items()
            arg = {kind: where.get((kind, name), name)}
        out.append(arg)
    return out


def port_names(node: PlanNode) -> dict[str, list[str]]:
    """The names a step's ports have in this run, in order (inputs, outputs)."""
    return {
        "inputs": [spec.name for spec in node.inputs],
        "outputs": [out.name for out in node.outputs],
    }


def reused_output_names(node: PlanNode, original: StepRunRecord) -> dict[str, str]:
    """Outputs a reused step names otherwise than the run that wrote them.

    Args:
        node: the plan node of the step that reuses.
        original: the step run whose committed outputs it takes; both have the same
            fingerprint, so their outputs correspond one to one, in order.

    Returns:
        {name in this run: name the outputs were committed under}, only where they differ.
    """
    recorded = original.details.get("fingerprint", {}).get("port_names", {})
    earlier: list[str] = recorded.get("outputs") or []
    return {
        out.name: name
        for out, name in zip(node.outputs, earlier, strict=False)
        if out.name != name
    }


def reused_names(record: StepRunRecord) -> dict[str, str]:
    """For a step run that reused outputs: {name committed under: name in its run}."""
    renamed: dict[str, str] = record.details.get("reused_output_names") or {}
    return {committed: name for name, committed in renamed.items()}


def _swapper(tokens: dict[str, str]) -> Callable[[str], str]:
    if not tokens:
        return lambda text: text
    # longest first: a view's name (``<name>_1``) starts with its base's generated name
    pattern = re.compile(
        "|".join(re.escape(name) for name in sorted(tokens, key=len, reverse=True))
    )
    return lambda text: pattern.sub(lambda m: tokens[m.group(0)], text)


def _replace(value: Any, swap: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return swap(value)
    if isinstance(value, dict):
        return {
            (swap(k) if isinstance(k, str) else k): _replace(v, swap)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_replace(v, swap) for v in value]
    return value
