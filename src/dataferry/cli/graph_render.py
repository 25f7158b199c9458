"""Draw a ``GraphView`` in the terminal, or as Mermaid or Graphviz DOT text for docs.

Steps are boxes labelled with their status, duration and reuse; data between steps
(outputs, and datasets or datastore paths read from outside) are nodes of their own.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry.pipeline.graph_view import DataNode, GraphView, StepNode

FORMATS = ("text", "mermaid", "dot")


def render(view: GraphView, fmt: str) -> str:
    """``view`` in format ``fmt`` (one of ``FORMATS``), ending with a newline."""
    renderers: dict[str, Callable[[GraphView], list[str]]] = {
        "text": _text,
        "mermaid": _mermaid,
        "dot": _dot,
    }
    return "\n".join(renderers[fmt](view)) + "\n"


def step_facts(step: StepNode) -> str:
    """``Finished · 0.6s · reused`` (empty before the step has run)."""
    from dataferry.execution.views import format_duration

    facts = [step.status] if step.status else []
    if step.duration_s is not None:
        facts.append(format_duration(step.duration_s))
    if step.reused_from:
        facts.append("reused")
    return " · ".join(facts)


def _data_text(node: DataNode) -> str:
    return f"{node.label} ({node.detail})" if node.kind == "external" else node.label


def _text(view: GraphView) -> list[str]:
    """One block per step in run order: what it reads (and from which step), what
    it writes (and which steps read it), and the steps it waits for without data."""
    names = {s.key: s.name for s in view.steps}
    data = {d.key: d for d in view.data}
    into, out_of = defaultdict(list), defaultdict(list)
    for src, dst in view.edges:
        out_of[src].append(dst)
        into[dst].append(src)
    width = max((len(s.name) for s in view.steps), default=0)
    lines: list[str] = []
    for step in view.steps:
        lines.append(f"{step.name:<{width}}  {step_facts(step)}".rstrip())
        for src in into[step.key]:
            if src in data:
                node = data[src]
                origin = f" <- {node.detail}" if node.kind == "output" else ""
                lines.append(f"    reads  [{_data_text(node)}]{origin}")
            else:
                lines.append(f"    after  {names.get(src, src)}")
        for dst in out_of[step.key]:
            if dst in data:
                readers = ", ".join(names[r] for r in out_of[dst] if r in names)
                lines.append(
                    f"    writes [{data[dst].label}]"
                    + (f" -> {readers}" if readers else "")
                )
    return lines


def _ids(view: GraphView) -> dict[str, str]:
    """Short identifiers every format accepts: s0, s1... for steps, d0... for data."""
    ids = {s.key: f"s{i}" for i, s in enumerate(view.steps)}
    ids.update({d.key: f"d{i}" for i, d in enumerate(view.data)})
    return ids


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def _mermaid(view: GraphView) -> list[str]:
    ids = _ids(view)
    lines = ["flowchart TD"]
    for step in view.steps:
        label = "<br/>".join(filter(None, (step.name, step_facts(step))))
        lines.append(f'    {ids[step.key]}["{_mermaid_text(label)}"]')
    for node in view.data:
        lines.append(f'    {ids[node.key]}[("{_mermaid_text(_data_text(node))}")]')
    lines += [f"    {ids[src]} --> {ids[dst]}" for src, dst in view.edges]
    return lines


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _dot(view: GraphView) -> list[str]:
    ids = _ids(view)
    lines = ["digraph pipeline {", "    rankdir=TB;"]
    for step in view.steps:
        label = "\\n".join(_dot_text(t) for t in (step.name, step_facts(step)) if t)
        lines.append(f'    {ids[step.key]} [shape=box, label="{label}"];')
    for node in view.data:
        label = _dot_text(_data_text(node))
        lines.append(f'    {ids[node.key]} [shape=ellipse, label="{label}"];')
    lines += [f"    {ids[src]} -> {ids[dst]};" for src, dst in view.edges]
    lines.append("}")
    return lines
