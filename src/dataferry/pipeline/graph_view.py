"""A drawable view of a pipeline: steps and the data between them, as nodes and edges.

``dataferry graph FILE.py`` draws a pipeline before it runs (``of_pipeline``), and
``dataferry runs graph RUN`` a run with each step's status, duration and reuse (the
execution layer builds the same view from the run's plan). Pure: nothing is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataferry.pipeline.bindings import InputSpec
    from dataferry.pipeline.graph import Node, PipelineGraph

__all__ = ["DataNode", "GraphView", "StepNode", "of_pipeline"]

STEP, OUTPUT, EXTERNAL = "step", "output", "external"


@dataclass(frozen=True, slots=True)
class StepNode:
    """A step: its node id and name; in a run, its status, duration and reuse.

    ``reused_from`` is the step run whose outputs a reused step serves (None when it
    ran, or before a run).
    """

    key: str
    name: str
    status: str | None = None
    duration_s: float | None = None
    reused_from: str | None = None


@dataclass(frozen=True, slots=True)
class DataNode:
    """Data between steps: a step's output (``kind='output'``) or what a step reads
    from outside the pipeline (``'external'``: a dataset or a datastore path). In a
    run, a committed output carries its size (None before it is committed)."""

    key: str
    label: str
    kind: str
    detail: str = ""  # ``dataset``, ``datapath``, or the output's producer step
    size_bytes: int | None = None  # in a run: a committed output's size


@dataclass(frozen=True, slots=True)
class GraphView:
    """Steps in run order (producers first), data nodes, and ``(from key, to key)``
    edges: step -> output -> reading step, external data -> step, and step -> step
    for an order without data (``run_after``)."""

    steps: tuple[StepNode, ...]
    data: tuple[DataNode, ...]
    edges: tuple[tuple[str, str], ...] = field(default=())

    def with_steps(self, steps: tuple[StepNode, ...]) -> GraphView:
        """The same graph with other step nodes (a run's statuses filled in)."""
        return replace(self, steps=steps)


def step_key(node_id: str) -> str:
    """The key of a step's node."""
    return f"{STEP}:{node_id}"


def output_key(node_id: str, output: str) -> str:
    """The key of a step's output node."""
    return f"{OUTPUT}:{node_id}/{output}"


def external_key(node_id: str, input_name: str) -> str:
    """The key of an outside input of one step (each reading is its own node)."""
    return f"{EXTERNAL}:{node_id}/{input_name}"


def of_pipeline(graph: PipelineGraph) -> GraphView:
    """The view of a pipeline graph, its steps in topological order.

    Args:
        graph: a pipeline (validated or not: an input nobody produces shows as data
            from outside).

    Returns:
        The ``GraphView``; steps carry no status.
    """
    order = graph.topological_order()
    data: dict[str, DataNode] = {}
    edges: list[tuple[str, str]] = []
    for node in order:
        me = step_key(node.node_id)
        for out in node.step.ports.outputs:
            key = output_key(node.node_id, out.name)
            data[key] = DataNode(key, out.name, OUTPUT, node.step.name)
            edges.append((me, key))
        fed: set[str] = set()  # producers this step reads data of
        for spec in node.step.ports.inputs:
            source, producer = _input_source(graph, node, spec)
            if producer is not None:
                fed.add(producer)
            data.setdefault(source.key, source)
            edges.append((source.key, me))
        edges += [(step_key(u), me) for u in node.upstream if u not in fed]
    steps = tuple(StepNode(step_key(n.node_id), n.step.name) for n in order)
    return GraphView(steps, tuple(data.values()), tuple(dict.fromkeys(edges)))


def _input_source(
    graph: PipelineGraph, node: Node, spec: InputSpec
) -> tuple[DataNode, str | None]:
    """The data node an input reads and its producer's node id: an upstream output,
    or data from outside (no producer)."""
    producer = graph.producer_of(spec.origin) if spec.origin is not None else None
    if producer is not None and producer is not node:
        name = next(
            (o.name for o in producer.step.ports.outputs if o.origin is spec.origin),
            spec.name,
        )
        key = output_key(producer.node_id, name)
        return DataNode(key, name, OUTPUT, producer.step.name), producer.node_id
    kind = "dataset" if spec.kind == "dataset" else "datapath"
    key = external_key(node.node_id, spec.name)
    return DataNode(key, spec.name, EXTERNAL, kind), None
