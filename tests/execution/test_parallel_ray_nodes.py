"""Which node each ParallelRunStep actor is pinned to: ``process_count_per_node`` on each
of ``node_count`` live nodes with the target's labels, workers before the head."""

from __future__ import annotations

from typing import Any

from dataferry.execution.parallel.ray_nodes import chosen_nodes, node_of

HEAD: dict[str, Any] = {
    "NodeID": "aa",
    "Alive": True,
    "Labels": {"node": "head"},
    "Resources": {"CPU": 2.0, "node:__internal_head__": 1.0},
}
WORKER = {"NodeID": "cc", "Alive": True, "Labels": {"node": "worker"}, "Resources": {}}
OTHER = {"NodeID": "bb", "Alive": True, "Labels": {"node": "worker"}, "Resources": {}}
DEAD = {"NodeID": "00", "Alive": False, "Labels": {"node": "worker"}, "Resources": {}}


def test_workers_first_then_the_head_dead_nodes_never() -> None:
    nodes = [HEAD, WORKER, DEAD, OTHER]

    assert chosen_nodes(nodes, 2, {}) == ["bb", "cc"]
    assert chosen_nodes(nodes, 3, {}) == ["bb", "cc", "aa"]
    assert chosen_nodes(nodes, 9, {}) == ["bb", "cc", "aa"]
    assert chosen_nodes(nodes, 1, {"node": "head"}) == ["aa"]
    assert chosen_nodes(nodes, 2, {"node": "gpu"}) == []


def test_slots_fill_each_node_in_turn_and_a_replacement_keeps_its_node() -> None:
    ids = ["bb", "aa"]

    assert [node_of(slot, 2, ids) for slot in range(4)] == ["bb", "bb", "aa", "aa"]
    assert [node_of(slot, 1, ids) for slot in range(3)] == ["bb", "aa", "bb"]
    assert node_of(3, 2, ids) == node_of(3, 2, ids) == "aa"
    assert node_of(0, 0, ids) == "bb"  # no process count given: one per node
    assert node_of(0, 2, []) is None
