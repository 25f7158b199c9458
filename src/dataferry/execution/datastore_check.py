"""Submit-time check that every datastore an output names is registered.

It needs the workspace's registered datastores (``WorkspaceFacts``, read from the catalog
by whoever records the run), so it is not part of the pure ``PipelineGraph.validate()``;
``Pipeline.submit`` lists its problems with the graph's, before anything is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.errors import DatastoreNotFoundError
from dataferry.pipeline.outputs import PipelineData

if TYPE_CHECKING:
    from collections.abc import Collection

    from dataferry.pipeline.graph import PipelineGraph


def datastore_problems(graph: PipelineGraph, registered: Collection[str]) -> list[str]:
    """One problem per output whose datastore, given by name, is not registered.

    ``registered``: the workspace's datastore names, lower case (names are
    case-insensitive). A Datastore object needs no lookup: it was found when it was made.

    Returns:
        ``"step 'a': output 'o': <why>"`` lines, in step and output order; ``[]`` if none.
    """
    problems: list[str] = []
    for step in graph.steps:
        for out in step.ports.outputs:
            obj = getattr(out.obj, "pipeline_data", out.obj)
            store = (
                obj.datastore
                if isinstance(obj, PipelineData)
                else (obj.destination[0] if obj.destination else None)
            )
            if isinstance(store, str) and store.lower() not in registered:
                problem = DatastoreNotFoundError.named(store, registered)
                problems.append(f"step '{step.name}': output '{out.name}': {problem}")
    return problems
