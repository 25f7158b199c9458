"""Which node each of a ParallelRunStep's Ray actors runs on: ``node_count`` nodes,
``process_count_per_node`` actors each, as the reference runs them.

Ray's ``SPREAD`` is best effort: zero-CPU actors were all put on the head of a two-node
cluster. So the step picks ``node_count`` live nodes (those with the target's labels,
in a fixed order: nodes other than the head first, then by id) and pins each actor to
its node with a *soft* node affinity: an actor replaced after its node was lost goes to
any node that is left instead of waiting for the dead one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


def chosen_nodes(
    nodes: list[Mapping[str, Any]], node_count: int, labels: Mapping[str, str]
) -> list[str]:
    """Ids of at most ``node_count`` live nodes having ``labels`` (fewer if the
    cluster has fewer: their actors then share the nodes there are).

    Args:
        nodes: ``ray.nodes()``: dicts with ``Alive``, ``NodeID``, ``Labels`` and
            ``Resources`` (the head's has ``node:__internal_head__``).
        node_count: the step's ``node_count``.
        labels: the target's ``label_selector`` (empty: any node).
    """
    fit = [
        n
        for n in nodes
        if n.get("Alive")
        and all((n.get("Labels") or {}).get(k) == v for k, v in labels.items())
    ]
    fit.sort(key=lambda n: (_is_head(n), str(n.get("NodeID"))))
    return [str(n["NodeID"]) for n in fit[:node_count]]


def node_of(slot: int, per_node: int, node_ids: list[str]) -> str | None:
    """The node of the actor in ``slot`` (0, 1, ...; a replacement takes its slot, so
    its node): ``per_node`` slots in a row per node. None when no node was chosen
    (Ray then places the actor)."""
    if not node_ids:
        return None
    return node_ids[(slot // max(per_node, 1)) % len(node_ids)]


def _is_head(node: Mapping[str, Any]) -> bool:
    return "node:__internal_head__" in (node.get("Resources") or {})
