"""The pipeline graph: steps, the edges their data bindings and ``run_after`` imply, checks.

Pure: building and validating a graph reads no data and writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataferry.data.compute_path import normalise_path_on_compute, places_overlap
from dataferry.errors import StepDefinitionError
from dataferry.pipeline.bindings import ArgRef
from dataferry.pipeline.outputs import PipelineData, _Origin
from dataferry.pipeline.steps import PipelineStep, StepSequence, parameter_objects

if TYPE_CHECKING:
    from dataferry.data.datastore import Datastore
    from dataferry.data.workspace import Workspace
    from dataferry.pipeline.parameters import PipelineParameter

_ALLOWED_KWARGS = {"enable_email_notification"}


@dataclass
class Node:
    """A step in the graph, with its id and the ids it must wait for."""

    node_id: str
    step: PipelineStep
    upstream: list[str] = field(default_factory=list)


def _flatten(steps: Any) -> list[PipelineStep]:
    if isinstance(steps, PipelineStep):
        return [steps]
    if isinstance(steps, StepSequence):
        return list(steps.steps)
    if isinstance(steps, PipelineData):
        producers = steps._origin.producers
        if not producers:
            raise StepDefinitionError(f"{steps!r} is produced by no step")
        return list(producers)
    if isinstance(steps, Iterable) and not isinstance(steps, str | bytes):
        out: list[PipelineStep] = []
        for item in steps:
            out.extend(_flatten(item))
        return out
    raise StepDefinitionError(
        f"steps must be steps, a list of steps or a StepSequence, not {type(steps).__name__}"
    )


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_").lower() or "step"


class PipelineGraph:
    """Steps and the order their data implies. ``Pipeline`` adds submitting on top."""

    def __init__(
        self,
        workspace: Workspace,
        steps: Any,
        description: str | None = None,
        default_datastore: Datastore | None = None,
        default_source_directory: str | None = None,
        resolve_closure: bool = True,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        **kwargs: Any,
    ) -> None:
        unknown = sorted(set(kwargs) - _ALLOWED_KWARGS)
        if unknown:
            raise StepDefinitionError(
                f"Pipeline() got unexpected keyword arguments {unknown}; only {sorted(_ALLOWED_KWARGS)}"
            )
        self.workspace = workspace
        self.description = description
        self._default_datastore = default_datastore
        self.default_source_directory = default_source_directory
        self.resolve_closure = resolve_closure
        listed = _flatten(steps)
        if not listed:
            raise StepDefinitionError("a pipeline needs at least one step")
        self.steps = self._closure(listed) if resolve_closure else _unique(listed)
        for step in self.steps:
            step.check_files(default_source_directory)
        self.nodes = self._nodes()

    @property
    def default_datastore(self) -> Datastore:
        """Where outputs without a datastore go (the workspace default unless given)."""
        return self._default_datastore or self.workspace.get_default_datastore()

    @staticmethod
    def _closure(listed: list[PipelineStep]) -> list[PipelineStep]:
        """The listed steps plus every producer and run-after step they depend on."""
        found = _unique(listed)
        queue = list(found)
        while queue:
            step = queue.pop(0)
            needed = list(step._run_after)
            for spec in step.ports.inputs:
                if spec.origin is not None:
                    needed.extend(spec.origin.producers)
            for dep in needed:
                if dep not in found:
                    found.append(dep)
                    queue.append(dep)
        return found

    def _nodes(self) -> list[Node]:
        ids: dict[int, str] = {}
        used: set[str] = set()
        for step in self.steps:
            base = _slug(step.name)
            node_id, n = base, 1
            while node_id in used:
                n += 1
                node_id = f"{base}_{n}"
            used.add(node_id)
            ids[id(step)] = node_id
        nodes = []
        for step in self.steps:
            upstream = [ids[id(s)] for s in step._run_after if id(s) in ids]
            for spec in step.ports.inputs:
                if spec.origin is not None:
                    upstream += [
                        ids[id(p)]
                        for p in spec.origin.producers
                        if id(p) in ids and p is not step
                    ]
            nodes.append(Node(ids[id(step)], step, sorted(set(upstream))))
        return nodes

    def producer_of(self, origin: _Origin) -> Node | None:
        """The node that writes an output (the first one, if the graph is invalid)."""
        for node in self.nodes:
            if node.step in origin.producers:
                return node
        return None

    def parameters(self) -> dict[str, PipelineParameter]:
        """Every pipeline parameter by name."""
        params: dict[str, PipelineParameter] = {}
        for step in self.steps:
            for p in parameter_objects(step):
                params.setdefault(p.name, p)
        return params

    def validate(self) -> list[str]:
        """Every problem that would stop the pipeline from running; ``[]`` if none."""
        problems: list[str] = []
        problems += self._producer_problems()
        problems += self._parameter_problems()
        problems += self._cycle_problems()
        problems += self._datastore_problems()
        problems += [p for step in self.steps for p in _place_problems(step)]
        return problems

    def _producer_problems(self) -> list[str]:
        problems = []
        in_graph = set(map(id, self.steps))
        seen: set[int] = set()
        for step in self.steps:
            for out in step.ports.outputs:
                producers = [p for p in out.origin.producers if id(p) in in_graph]
                if len(producers) > 1 and id(out.origin) not in seen:
                    seen.add(id(out.origin))
                    problems.append(
                        f"Step output {out.name} can not be used as an output for step "
                        f"{producers[1].name}, as it is already an output of step {producers[0].name}."
                    )
            for spec in step.ports.inputs:
                if spec.origin is not None and not any(
                    id(p) in in_graph for p in spec.origin.producers
                ):
                    problems.append(
                        f"step '{step.name}': input '{spec.name}' reads an output that no step "
                        "in the pipeline produces; add its producer to steps (or keep "
                        "resolve_closure=True)"
                    )
        return problems

    def _parameter_problems(self) -> list[str]:
        problems = []
        by_name: dict[str, PipelineParameter] = {}
        for step in self.steps:
            for p in parameter_objects(step):
                first = by_name.setdefault(p.name, p)
                if first is not p and repr(first.default_value) != repr(
                    p.default_value
                ):
                    problems.append(
                        f"pipeline parameter '{p.name}' is defined twice with different defaults"
                    )
            for ref in step.ports.arguments:
                if (
                    isinstance(ref, ArgRef)
                    and ref.kind == "step_param"
                    and ref.name not in step.ports.params
                ):
                    problems.append(
                        f"step '{step.name}': argument 'parameter:{ref.name}' names no entry of params"
                    )
        return problems

    def _cycle_problems(self) -> list[str]:
        upstream = {n.node_id: n.upstream for n in self.nodes}
        state: dict[str, int] = {}
        cycle: list[str] = []

        def visit(node: str, path: list[str]) -> bool:
            state[node] = 1
            for up in upstream[node]:
                if state.get(up) == 1:
                    cycle.extend(path[path.index(up) :] if up in path else [up])
                    return True
                if state.get(up) is None and visit(up, [*path, up]):
                    return True
            state[node] = 2
            return False

        for node in upstream:
            if state.get(node) is None and visit(node, [node]):
                return [
                    f"Cycle detected including node(s) {', '.join(sorted(set(cycle)))}"
                ]
        return []

    def _datastore_problems(self) -> list[str]:
        problems = []
        for step in self.steps:
            for out in step.ports.outputs:
                obj = getattr(out.obj, "pipeline_data", out.obj)
                store = (
                    obj.datastore
                    if isinstance(obj, PipelineData)
                    else (obj.destination[0] if obj.destination else None)
                )
                if isinstance(store, str):
                    try:
                        self.workspace.catalog.get_datastore(store)
                    except LookupError as exc:
                        problems.append(
                            f"step '{step.name}': output '{out.name}': {exc}"
                        )
        return problems

    def topological_order(self) -> list[Node]:
        """The nodes, each after everything it waits for (the graph must be valid)."""
        done: set[str] = set()
        order: list[Node] = []
        pending = list(self.nodes)
        while pending:
            ready = [n for n in pending if set(n.upstream) <= done]
            if not ready:
                raise StepDefinitionError("the pipeline has a cycle; see validate()")
            for n in ready:
                order.append(n)
                done.add(n.node_id)
                pending.remove(n)
        return order


def _place_problems(step: PipelineStep) -> list[str]:
    """Inputs of one step whose ``path_on_compute`` clash with another input's, or (if
    relative) with a relative output ``source``: the same place, or one inside another
    would mix two ports' files, so the step could not tell them apart."""
    inputs = [
        (
            f"input '{spec.name}' (path_on_compute {spec.path_on_compute!r})",
            normalise_path_on_compute(spec.path_on_compute),
        )
        for spec in step.ports.inputs
        if spec.path_on_compute
    ]
    sources = []
    for out in step.ports.outputs:
        obj = getattr(out.obj, "pipeline_data", out.obj)
        source = getattr(obj, "source", None) or getattr(
            obj, "_output_path_on_compute", None
        )
        if isinstance(source, str) and source and not source.startswith("/"):
            place = normalise_path_on_compute(source)
            sources.append((f"output '{out.name}' (source {source!r})", place))
    problems = []
    for i, (what, place) in enumerate(inputs):
        for other, other_place in inputs[:i] + sources:
            if places_overlap(place, other_place):
                relation = (
                    "is the same place as" if place == other_place else "overlaps"
                )
                problems.append(
                    f"step '{step.name}': {what} {relation} {other}; give each input "
                    "a path_on_compute of its own, not inside another port's"
                )
    return problems


def _unique(steps: Sequence[PipelineStep]) -> list[PipelineStep]:
    out: list[PipelineStep] = []
    for s in steps:
        if s not in out:
            out.append(s)
    return out
