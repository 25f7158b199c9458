"""Submit-time check that a ParallelRunStep's workers fit its compute target.

Locally every node of a recorded target is this machine, so a target offers
``max_nodes`` nodes of ``os.cpu_count()`` processes each. A step asking for more
nodes, or more processes per node, than that is refused before the run is recorded;
a step on no recorded target (None, ``local``, an unknown name) runs as asked.

The targets' sizes come from the recorder's workspace facts (``WorkspaceFacts``), read
where the catalog is open: this module is imported by the submitting script, which
loads no catalog code when the local agent records its run.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from dataferry.errors import ParallelRunSizeError
from dataferry.pipeline.parallel_step import ParallelRunStep
from dataferry.pipeline.parameters import PipelineParameter

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.pipeline.graph import PipelineGraph


def check_parallel_sizes(
    graph: PipelineGraph, max_nodes: Mapping[str, int], parameters: Mapping[str, Any]
) -> None:
    """Every ParallelRunStep's ``node_count`` and ``process_count_per_node`` fit its
    recorded compute target.

    Args:
        graph: the pipeline being submitted.
        max_nodes: each recorded compute target's ``max_nodes``, by name
            (``WorkspaceFacts.compute_nodes``).
        parameters: the run's parameter values (a size may be a PipelineParameter).

    Raises:
        ParallelRunSizeError: a step asks for more nodes than ``max_nodes`` or more
            processes per node than the machine has cores; names both numbers.
    """
    steps = [s for s in graph.steps if isinstance(s, ParallelRunStep)]
    if not steps:
        return
    cores = os.cpu_count() or 1
    for step in steps:
        config = step.parallel_run_config
        target = _target_name(config.compute_target)
        if target is None or target not in max_nodes:
            continue
        nodes = int(_value(config.node_count, parameters))
        per_node = int(_value(config.process_count_per_node or 1, parameters))
        _check(step.name, target, nodes, per_node, max_nodes[target], cores)


def _check(
    step: str, target: str, nodes: int, per_node: int, max_nodes: int, cores: int
) -> None:
    asked = (
        f"ParallelRunStep '{step}' asks for node_count {nodes} x "
        f"process_count_per_node {per_node} = {nodes * per_node} workers"
    )
    if nodes > max_nodes:
        raise ParallelRunSizeError(
            f"{asked}, but compute target '{target}' has max_nodes {max_nodes}; "
            f"lower node_count to at most {max_nodes} or raise the target's max_nodes"
        )
    if per_node > cores:
        raise ParallelRunSizeError(
            f"{asked}, but a node of compute target '{target}' is this machine, which "
            f"has {cores} cores; lower process_count_per_node to at most {cores}"
        )


def _target_name(target: Any) -> str | None:
    """The name of a step's target: a str, a ``(name, kind)`` tuple or an object."""
    if isinstance(target, tuple):
        target = target[0]
    if target is None or isinstance(target, str):
        return target
    return str(getattr(target, "name", "")) or None


def _value(value: Any, parameters: Mapping[str, Any]) -> Any:
    """A size, or the run's value of the PipelineParameter it is."""
    if isinstance(value, PipelineParameter):
        return parameters.get(value.name, value.default_value)
    return value
