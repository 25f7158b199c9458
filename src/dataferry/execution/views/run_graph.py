"""A run as a graph: its plan's steps and data, each step with its status, duration
and reuse, each committed output with its size (``dataferry runs graph RUN``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from dataferry.execution.plan_inputs import UpstreamOutputInput
from dataferry.pipeline.graph_view import (
    EXTERNAL,
    OUTPUT,
    DataNode,
    GraphView,
    StepNode,
    external_key,
    output_key,
    step_key,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dataferry.data.workspace import Workspace
    from dataferry.execution.plan_model import Plan, PlanNode
    from dataferry.execution.views.model import StepView

__all__ = ["plan_graph", "run_graph"]


def run_graph(workspace: Workspace, run_id: str) -> GraphView:
    """The graph of run ``run_id`` with each step's status, duration and reuse, and
    each committed output's size.

    Raises:
        RunNotFoundError: no run has that id.
        PlanFormatError, PlanVersionError: the run's stored plan cannot be read.
    """
    from dataferry.catalog.run_store import RunStore
    from dataferry.execution.plan_model import plan_of
    from dataferry.execution.views.runs import run_detail

    store = RunStore(workspace.catalog)
    detail = run_detail(workspace, run_id)
    graph = plan_graph(plan_of(store.get_run(run_id)), detail.steps)
    # a reused step shows the outputs of the step run it reused
    node_of = {s.source_id: s.node_id for s in detail.steps}
    sizes = {
        output_key(node_of[o.step_run_id], o.name): o.size_bytes
        for o in store.outputs_of_many(list(node_of))
        if o.deleted_at is None
    }
    data = tuple(
        replace(d, size_bytes=sizes[d.key]) if d.key in sizes else d for d in graph.data
    )
    return replace(graph, data=data)


def plan_graph(plan: Plan, steps: Iterable[StepView] = ()) -> GraphView:
    """The graph of a plan; ``steps`` (a run's step runs) fill in the statuses."""
    by_node = {s.node_id: s for s in steps}
    data: dict[str, DataNode] = {}
    edges: list[tuple[str, str]] = []
    names = {n.node_id: n.name for n in plan.nodes}
    for node in plan.nodes:
        edges += _node_edges(node, names, data)
    return GraphView(
        tuple(_step_node(n, by_node.get(n.node_id)) for n in plan.nodes),
        tuple(data.values()),
        tuple(dict.fromkeys(edges)),
    )


def _node_edges(
    node: PlanNode, names: dict[str, str], data: dict[str, DataNode]
) -> list[tuple[str, str]]:
    """The edges into and out of one node; its data nodes are added to ``data``."""
    me = step_key(node.node_id)
    edges: list[tuple[str, str]] = []
    for out in node.outputs:
        key = output_key(node.node_id, out.name)
        data[key] = DataNode(key, out.name, OUTPUT, node.name)
        edges.append((me, key))
    fed: set[str] = set()
    for binding in node.inputs:
        if isinstance(binding, UpstreamOutputInput):
            key = output_key(binding.producer, binding.output)
            producer = names.get(binding.producer, binding.producer)
            data.setdefault(key, DataNode(key, binding.output, OUTPUT, producer))
            fed.add(binding.producer)
        else:
            key = external_key(node.node_id, binding.name)
            data[key] = DataNode(key, binding.name, EXTERNAL, binding.kind)
        edges.append((key, me))
    edges += [(step_key(u), me) for u in node.upstream if u not in fed]
    return edges


def _step_node(node: PlanNode, step: StepView | None) -> StepNode:
    if step is None:  # a plan without step runs: drawn before it runs
        return StepNode(step_key(node.node_id), node.name)
    return StepNode(
        step_key(node.node_id),
        node.name,
        status=step.status,
        duration_s=step.duration_s,
        reused_from=step.reused_from,
    )
