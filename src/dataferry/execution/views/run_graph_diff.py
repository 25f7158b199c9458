"""Two runs' graphs merged into one, each node marked: the page's graph diff.

Steps are matched by name (as ``compare_runs`` matches them); a data node by its
step's name and its own name (``output:<producer>/<output>``, ``external:<reader>/
<input>``), so the two runs' node ids never matter. A step node is marked as its
``StepChange`` says (``changed`` with the fingerprint's reasons: code, parameters,
input versions...); an output is ``changed`` when the step that made it changed; an
outside input is ``changed`` when the two runs read different versions of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataferry.execution.views.run_compare import ADDED, CHANGED, REMOVED, SAME
from dataferry.pipeline.graph_view import EXTERNAL, OUTPUT, STEP

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace
    from dataferry.execution.views.run_compare import RunComparison, ValueChange
    from dataferry.pipeline.graph_view import GraphView

__all__ = ["DiffData", "DiffStep", "GraphDiff", "graph_diff", "merge_graphs"]


@dataclass(frozen=True, slots=True)
class DiffStep:
    """A step of either run: ``change`` is ``same``, ``changed`` (``reasons`` say
    why), ``added`` (only in the right run) or ``removed`` (only in the left);
    ``left_status``/``right_status`` are its status in each run (None: absent)."""

    key: str
    name: str
    change: str
    reasons: tuple[str, ...] = ()
    left_status: str | None = None
    right_status: str | None = None


@dataclass(frozen=True, slots=True)
class DiffData:
    """A data node of either run (an output, or data read from outside), marked as a
    step is."""

    key: str
    label: str
    kind: str
    detail: str
    change: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GraphDiff:
    """The merged graph: the left run's nodes in its order, then those only the right
    run has; ``edges`` of either run, as ``(from key, to key)``."""

    left: str
    right: str
    steps: tuple[DiffStep, ...]
    data: tuple[DiffData, ...]
    edges: tuple[tuple[str, str], ...]


def graph_diff(workspace: Workspace, comparison: RunComparison) -> GraphDiff:
    """The graph diff of the two runs ``comparison`` compared.

    Raises:
        RunNotFoundError: either run is gone.
        PlanFormatError, PlanVersionError: a run's stored plan cannot be read.
    """
    from dataferry.execution.views.run_graph import run_graph

    left = run_graph(workspace, comparison.left)
    right = run_graph(workspace, comparison.right)
    return merge_graphs(left, right, comparison)


def merge_graphs(
    left: GraphView, right: GraphView, comparison: RunComparison
) -> GraphDiff:
    """The merge of run ``comparison.left``'s graph ``left`` and run
    ``comparison.right``'s graph ``right`` (pure: nothing is read)."""
    a, b = _named(left), _named(right)
    changes = {s.name: s for s in comparison.steps}
    inputs = {c.key: c for c in comparison.inputs}
    sa, sb = {s.name: s for s in left.steps}, {s.name: s for s in right.steps}
    steps = []
    for name in {**sa, **sb}:
        change = changes.get(name)
        mark = change.change if change else _presence(name in sa, name in sb)
        steps.append(
            DiffStep(
                f"{STEP}:{name}",
                name,
                mark,
                change.reasons if change else (),
                sa[name].status if name in sa else None,
                sb[name].status if name in sb else None,
            )
        )
    marks = {s.name: s.change for s in steps}
    data = [
        _data_node(key, a.get(key) or b[key], key in a, key in b, marks, inputs)
        for key in {**a, **b}
    ]
    edges = dict.fromkeys([*_edges(left), *_edges(right)])
    return GraphDiff(
        comparison.left, comparison.right, tuple(steps), tuple(data), tuple(edges)
    )


def _presence(in_left: bool, in_right: bool) -> str:
    if in_left and in_right:
        return SAME
    return REMOVED if in_left else ADDED


def _data_node(
    key: str,
    node: tuple[str, str, str],
    in_left: bool,
    in_right: bool,
    marks: dict[str, str],
    inputs: dict[str, ValueChange],
) -> DiffData:
    """One merged data node; ``node`` is (kind, label, its step's name)."""
    kind, label, step = node
    mark, reasons = _presence(in_left, in_right), tuple[str, ...]()
    if mark == SAME and kind == OUTPUT and marks.get(step) == CHANGED:
        mark, reasons = CHANGED, (f"made by step {step}, which changed",)
    differs = inputs.get(f"{step}/{label}")
    if mark == SAME and kind == EXTERNAL and differs is not None:
        was, now = differs.left, differs.right
        mark, reasons = CHANGED, (f"{step} read {now} (was {was})",)
    return DiffData(key, label, kind, step, mark, reasons)


def _rekey(graph: GraphView) -> dict[str, tuple[str, str, str, str]]:
    """Each node's key in ``graph`` -> (run-independent key, kind, label, its step's
    name): a step's own name; an output's producer; an outside input's one reader."""
    names = {s.key: s.name for s in graph.steps}
    step_of: dict[str, str] = {}
    for src, dst in graph.edges:
        if src in names and dst not in names:
            step_of[dst] = names[src]  # step -> its output
        elif dst in names and src not in names:
            step_of.setdefault(src, names[dst])  # outside data -> its reader
    keys = {s.key: (f"{STEP}:{s.name}", STEP, s.name, s.name) for s in graph.steps}
    for d in graph.data:
        step = step_of.get(d.key, d.detail)
        keys[d.key] = (f"{d.kind}:{step}/{d.label}", d.kind, d.label, step)
    return keys


def _named(graph: GraphView) -> dict[str, tuple[str, str, str]]:
    """Each data node's run-independent key -> (kind, label, its step's name)."""
    keys = _rekey(graph)
    return {keys[d.key][0]: keys[d.key][1:] for d in graph.data}


def _edges(graph: GraphView) -> list[tuple[str, str]]:
    """The graph's edges with run-independent keys."""
    keys = _rekey(graph)
    return [(keys[s][0], keys[d][0]) for s, d in graph.edges if s in keys and d in keys]
