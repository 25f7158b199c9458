"""Whether any live node of a Ray cluster can run a step: its labels and resources.

Ray keeps a task whose ``label_selector`` or custom resources no live node has pending
forever; the executor asks this before submitting and while the task waits, so a step
pinned to a node that is gone fails with a typed error instead. Pure: it reads the
node list ``ray.nodes()`` returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.errors import ComputeNodeUnavailableError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# what a step asks of a node's "Resources" under Ray's own names
_BUILTIN = {"num_cpus": "CPU", "num_gpus": "GPU", "memory": "memory"}


def wanted_resources(options: Mapping[str, Any]) -> dict[str, float]:
    """The node resources Ray task ``options`` ask for, under the names nodes list."""
    wanted = {_BUILTIN[k]: float(v) for k, v in options.items() if k in _BUILTIN}
    wanted.update({k: float(v) for k, v in (options.get("resources") or {}).items()})
    return {name: amount for name, amount in wanted.items() if amount > 0}


def check_fits(
    nodes: Iterable[Mapping[str, Any]], options: Mapping[str, Any], where: str
) -> None:
    """Check that some live node has the labels and total resources ``options`` ask.

    Args:
        nodes: ``ray.nodes()``: dicts with ``Alive``, ``Labels`` and ``Resources``.
        options: the step's Ray task options (``label_selector``, ``num_cpus``,
            ``num_gpus``, ``memory``, ``resources``).
        where: the step and cluster, for the message.

    Raises:
        ComputeNodeUnavailableError: no live node has them; the message names the
            labels and resources asked for and what the live nodes have.
    """
    labels = dict(options.get("label_selector") or {})
    wanted = wanted_resources(options)
    alive = [n for n in nodes if n.get("Alive")]
    if any(_fits(n, labels, wanted) for n in alive):
        return
    asked = [f"label {k}={v}" for k, v in sorted(labels.items())]
    asked += [f"{k}={v:g}" for k, v in sorted(wanted.items())]
    have = "; ".join(sorted(_describe(n) for n in alive)) or "no live node"
    raise ComputeNodeUnavailableError(
        f"{where}: no live node of the Ray cluster has {', '.join(asked)} "
        f"(live nodes: {have}). The node it needs is gone or never joined: "
        "start a node with those labels and resources, or change the step's "
        "compute target, then rerun the run from this step."
    )


def _fits(
    node: Mapping[str, Any], labels: Mapping[str, str], wanted: Mapping[str, float]
) -> bool:
    have_labels = node.get("Labels") or {}
    have = node.get("Resources") or {}
    return all(have_labels.get(k) == v for k, v in labels.items()) and all(
        float(have.get(k, 0.0)) >= amount for k, amount in wanted.items()
    )


def _describe(node: Mapping[str, Any]) -> str:
    labels = node.get("Labels") or {}
    shown = ",".join(
        f"{k}={v}" for k, v in sorted(labels.items()) if not k.startswith("ray.io/")
    )
    return f"{node.get('NodeManagerAddress', '?')} [{shown}]"
