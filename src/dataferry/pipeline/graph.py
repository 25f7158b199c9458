"""The pipeline graph: steps, the edges their data bindings and ``run_after`` imply, checks.

Pure: building and validating a graph reads no data and writes nothing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dataferry._lazy import LazyPattern
from dataferry._record import field, record
from dataferry.data.compute_path import normalise_path_on_compute, places_overlap
from dataferry.errors import PipelineTypeError, StepDefinitionError
from dataferry.pipeline.bindings import ArgRef
from dataferry.pipeline.checks import (
    as_path_text,
    check_bool,
    check_type,
    check_workspace,
    is_datastore,
    type_error,
)
from dataferry.pipeline.environment import Environment
from dataferry.pipeline.gc_pause import gc_paused
from dataferry.pipeline.outputs import PipelineData, _Origin
from dataferry.pipeline.steps import PipelineStep, StepSequence, parameter_objects

if TYPE_CHECKING:
    from dataferry.data.datastore import Datastore
    from dataferry.data.workspace import Workspace
    from dataferry.pipeline.parameters import PipelineParameter

_ALLOWED_KWARGS = {"enable_email_notification"}


@record
class Node:
    """A step in the graph, with its id and the ids it must wait for."""

    node_id: str
    step: PipelineStep
    upstream: list[str] = field(default_factory=list)


def _flatten(steps: Any) -> list[PipelineStep]:
    """The steps ``steps`` stands for, in order; nested lists are walked with a stack.

    A list seen before is not walked again: its steps are already in (and a list that
    contains itself ends).
    """
    out: list[PipelineStep] = []
    stack: list[Any] = [steps]
    walked: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in walked:
            continue
        if isinstance(item, PipelineStep):
            out.append(item)
        elif isinstance(item, StepSequence):
            out.extend(item.steps)
        elif isinstance(item, PipelineData):
            if not item._origin.producers:
                raise StepDefinitionError(f"{item!r} is produced by no step")
            out.extend(item._origin.producers)
        elif isinstance(item, Iterable) and not isinstance(item, str | bytes):
            walked.add(id(item))
            stack.extend(reversed(list(item)))  # reversed: popped in list order
        else:
            raise type_error(
                "Pipeline(): steps",
                "steps, a list of steps, a StepSequence or a PipelineData",
                item,
            )
    return out


def _check_arguments(
    workspace: Any, description: Any, default_datastore: Any, kwargs: dict[str, Any]
) -> None:
    """``Pipeline()``'s arguments other than the steps are of the right types.

    Raises:
        PipelineTypeError: one is not, or a keyword argument is unknown.
    """
    unknown = sorted(set(kwargs) - _ALLOWED_KWARGS)
    if unknown:
        raise PipelineTypeError(
            f"Pipeline() got unexpected keyword arguments {unknown}; only {sorted(_ALLOWED_KWARGS)}"
        )
    check_workspace(workspace, "Pipeline()")
    check_type(description, str, "Pipeline(): description", "a str")
    if default_datastore is not None and not is_datastore(default_datastore):
        raise type_error(
            "Pipeline(): default_datastore",
            "a Datastore (Datastore.get(ws, name))",
            default_datastore,
        )
    for key, value in kwargs.items():  # enable_email_notification: no mail is sent
        check_type(value, bool, f"Pipeline(): {key}", "True or False")


def _step_names(names: list[str]) -> str:
    """``step 'a'``, or ``steps 'a', 'b', 'c' and 7 more``."""
    if len(names) == 1:
        return f"step '{names[0]}'"
    shown = ", ".join(f"'{n}'" for n in names[:3])
    return f"steps {shown}" + (f" and {len(names) - 3} more" if len(names) > 3 else "")


_NOT_SLUG = LazyPattern(r"[^A-Za-z0-9_]+")


def _slug(name: str) -> str:
    return _NOT_SLUG.sub("_", name).strip("_").lower() or "step"


class PipelineGraph:
    """Steps and the order their data implies. ``Pipeline`` adds submitting on top.

    Raises:
        PipelineTypeError: an argument is of the wrong type (a ``TypeError`` naming it),
            e.g. ``workspace`` is not a Workspace, or an unknown keyword argument.
        StepDefinitionError: no steps, or a step's script is missing.
    """

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
        _check_arguments(workspace, description, default_datastore, kwargs)
        self.workspace = workspace
        self.description = description
        self._default_datastore = default_datastore
        self.default_source_directory = as_path_text(
            default_source_directory, "Pipeline(): default_source_directory"
        )
        self.resolve_closure = check_bool(
            resolve_closure, "Pipeline(): resolve_closure"
        )
        with gc_paused():
            listed = _flatten(steps)
            if not listed:
                raise StepDefinitionError("a pipeline needs at least one step")
            self.steps = self._closure(listed) if resolve_closure else _unique(listed)
            self._check_files()
            self.nodes = self._nodes()
        self._step_index: dict[int, int] = {}
        # problems of the graph's shape, found once (see ``_shape_problems``)
        self._shape: tuple[tuple[int, ...], list[str], list[str]] | None = None

    def _check_files(self) -> None:
        """What each step runs exists (one check per folder and script, not per step)."""
        checked: set[tuple[Any, ...]] = set()
        for step in self.steps:
            # a step's check depends only on these, so a long chain of steps running
            # one script costs one file lookup, not one per step
            key = (
                type(step),
                step.source_directory,
                getattr(step, "script_name", None),
            )
            if key not in checked:
                step.check_files(self.default_source_directory)
                checked.add(key)

    @property
    def default_datastore(self) -> Datastore:
        """Where outputs without a datastore go (the workspace default unless given)."""
        return self._default_datastore or self.workspace.get_default_datastore()

    def default_datastore_name(self, workspace_default: str) -> str:
        """The name of where outputs without a datastore go: the pipeline's own
        ``default_datastore`` if it was given one, else ``workspace_default``."""
        given = self._default_datastore
        return given.name if given is not None else workspace_default

    @staticmethod
    def _closure(listed: list[PipelineStep]) -> list[PipelineStep]:
        """The listed steps plus every producer and run-after step they depend on.

        Breadth first from the listed steps, with a queue: a chain of any length is fine.
        """
        found = _unique(listed)
        seen = {id(s) for s in found}
        queue = deque(found)
        while queue:
            step = queue.popleft()
            needed = list(step._run_after)
            for spec in step.ports.inputs:
                if spec.origin is not None:
                    needed.extend(spec.origin.producers)
            for dep in needed:
                if id(dep) not in seen:
                    seen.add(id(dep))
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
        index = self._index_by_step()
        found = [index[id(p)] for p in origin.producers if id(p) in index]
        return self.nodes[min(found)] if found else None

    def _index_by_step(self) -> dict[int, int]:
        """Position in ``nodes`` by ``id(step)``: a lookup instead of a scan per call."""
        if len(self._step_index) != len(self.nodes):
            self._step_index = {id(n.step): i for i, n in enumerate(self.nodes)}
        return self._step_index

    def parameters(self) -> dict[str, PipelineParameter]:
        """Every pipeline parameter by name."""
        params: dict[str, PipelineParameter] = {}
        for step in self.steps:
            for p in parameter_objects(step):
                params.setdefault(p.name, p)
        return params

    def validate(self) -> list[str]:
        """Every problem in the graph itself that would stop it from running; ``[]`` if none.

        Pure: it reads no catalog or storage. Whether a datastore named by an output
        exists is checked by ``submit``, which also lists those problems.
        """
        with gc_paused():
            producers, cycles = self._shape_problems()
            problems = list(producers)
            problems += self._parameter_problems()
            problems += cycles
            problems += [p for step in self.steps for p in _place_problems(step)]
        return problems

    def _shape_problems(self) -> tuple[list[str], list[str]]:
        """Producer and cycle problems: they depend only on which steps are in the
        graph, their ports and their edges, all fixed when the graph is built, so
        ``submit`` after ``validate`` does not walk every node for them again. (What a
        user may still change, a parameter's default or an output's ``source``, is
        checked on every call.) Found again if ``steps`` or ``nodes`` is replaced.
        """
        key = (id(self.steps), len(self.steps), id(self.nodes), len(self.nodes))
        if self._shape is None or self._shape[0] != key:
            self._shape = (key, self._producer_problems(), self._cycle_problems())
        return self._shape[1], self._shape[2]

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
        cycle = find_cycle({n.node_id: n.upstream for n in self.nodes})
        if cycle:
            return [f"Cycle detected including node(s) {', '.join(sorted(set(cycle)))}"]
        return []

    def environment_problems(self) -> list[str]:
        """What in the steps' environments cannot be used; ``[]`` if nothing.

        Each environment is checked once however many steps share it (see
        ``Environment.problems``); packages and Docker settings are not problems.

        Raises:
            PipelineTypeError: a step's ``runconfig.environment`` is not an Environment,
                or an environment's settings are of the wrong type.
        """
        users: dict[int, tuple[Environment, list[str]]] = {}
        for step in self.steps:
            if step.has_default_runconfig:
                continue  # a default environment asks for nothing
            env = step.runconfig.environment
            if not isinstance(env, Environment):
                raise type_error(
                    f"step '{step.name}': runconfig.environment", "an Environment", env
                )
            users.setdefault(id(env), (env, []))[1].append(step.name)
        return [
            f"{_step_names(names)}: {problem}"
            for env, names in users.values()
            for problem in env.problems()
        ]

    def topological_order(self) -> list[Node]:
        """The nodes, each after everything it waits for (the graph must be valid).

        Level by level (Kahn's algorithm): first the nodes that wait for nothing, then
        those whose every upstream node is in an earlier level; within a level, in
        ``nodes`` order. Linear in the size of the graph, and iterative.

        Raises:
            StepDefinitionError: the graph has a cycle.
        """
        position = {n.node_id: i for i, n in enumerate(self.nodes)}
        waiting = [len(n.upstream) for n in self.nodes]
        downstream: list[list[int]] = [[] for _ in self.nodes]
        for i, node in enumerate(self.nodes):
            for up in node.upstream:
                downstream[position[up]].append(i)
        level = [i for i, count in enumerate(waiting) if count == 0]
        order: list[Node] = []
        while level:
            order.extend(self.nodes[i] for i in level)
            following = []
            for i in level:
                for j in downstream[i]:
                    waiting[j] -= 1
                    if waiting[j] == 0:
                        following.append(j)
            level = sorted(following)
        if len(order) != len(self.nodes):
            raise StepDefinitionError("the pipeline has a cycle; see validate()")
        return order


def find_cycle(upstream: Mapping[str, Sequence[str]]) -> list[str]:
    """The nodes of one cycle in a graph given as ``{node: [nodes it waits for]}``.

    Depth first with an explicit stack, so a chain of any length is walked without
    recursion. ``[]`` if there is no cycle.
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in upstream:
        if root in state:
            continue
        path = [root]
        todo = [iter(upstream[root])]
        state[root] = 1
        while todo:
            up = next(todo[-1], None)
            if up is None:
                state[path.pop()] = 2
                todo.pop()
            elif state.get(up) == 1:
                return path[path.index(up) :]
            elif up not in state:
                state[up] = 1
                path.append(up)
                todo.append(iter(upstream[up]))
    return []


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
    """``steps`` without repeats (a step is itself: identity, not equality)."""
    return list({id(s): s for s in steps}.values())
