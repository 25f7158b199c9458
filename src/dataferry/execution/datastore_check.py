"""Submit-time check that every datastore an output names is registered.

It reads the catalog, so it is not part of the pure ``PipelineGraph.validate()``;
``Pipeline.submit`` lists its problems with the graph's, before anything is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.pipeline.outputs import PipelineData

if TYPE_CHECKING:
    from dataferry.catalog import SqlCatalog
    from dataferry.pipeline.graph import PipelineGraph


def datastore_problems(graph: PipelineGraph, catalog: SqlCatalog) -> list[str]:
    """One problem per output whose datastore, given by name, is not registered.

    Each name is looked up once, however many outputs name it (a big graph repeats
    them). A Datastore object needs no lookup: it was found when it was made.

    Returns:
        ``"step 'a': output 'o': <why>"`` lines, in step and output order; ``[]`` if none.
    """
    problems: list[str] = []
    unknown: dict[str, str] = {}
    known: set[str] = set()
    for step in graph.steps:
        for out in step.ports.outputs:
            obj = getattr(out.obj, "pipeline_data", out.obj)
            store = (
                obj.datastore
                if isinstance(obj, PipelineData)
                else (obj.destination[0] if obj.destination else None)
            )
            if not isinstance(store, str) or store in known:
                continue
            if store not in unknown:
                try:
                    catalog.get_datastore(store)
                    known.add(store)
                    continue
                except LookupError as exc:
                    unknown[store] = str(exc)
            problems.append(
                f"step '{step.name}': output '{out.name}': {unknown[store]}"
            )
    return problems
