"""Generated port names and their tokens: each node is offered only the generated names
that occur in it, and its canonical JSON is what it was when every node got them all."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep
from dataferry.execution.plan import PlanCompiler
from dataferry.execution.plan_model import PlanNode
from dataferry.execution.port_identity import canonical_node, name_tokens
from dataferry.pipeline.runconfig import RunConfiguration

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


def every_name(nodes: list[PlanNode]) -> dict[str, dict[str, str]]:
    """What each node was given before: every generated output name, then its own."""
    outputs = {
        out.name: f"<{node.node_id} output {i}>"
        for node in nodes
        for i, out in enumerate(node.outputs)
        if out.auto_name
    }
    return {
        node.node_id: {
            **outputs,
            **{
                s.name: f"<input {i}>" for i, s in enumerate(node.inputs) if s.auto_name
            },
        }
        for node in nodes
    }


def chain(ws: Workspace, code: Path, size: int, *, mention: bool) -> list[PlanNode]:
    """``size`` steps, each reading the previous step's unnamed output; with
    ``mention`` the last step also names the first output in an argument string and
    an environment variable (it is neither its input nor its output)."""
    code.mkdir(exist_ok=True)
    (code / "s.py").write_text("")
    outs = [OutputFileDatasetConfig() for _ in range(size)]
    steps = []
    for i, out in enumerate(outs):
        args: list[Any] = [out] if i == 0 else [outs[i - 1].as_input(), out]
        config = None
        if mention and i == size - 1:
            args.append(f"--first={outs[0].name}/x")
            config = RunConfiguration()
            config.environment_variables = {"FIRST": outs[0].name}
        steps.append(
            PythonScriptStep(
                "s.py",
                name=f"s{i}",
                arguments=args,
                source_directory=str(code),
                runconfig=config,
            )
        )
    return list(PlanCompiler(Pipeline(ws, steps=steps), ws).compile().nodes)


@pytest.mark.parametrize("mention", [False, True], ids=["own-ports", "mentioned"])
def test_canonical_nodes_are_as_with_every_name(
    workspace: Workspace, tmp_path: Path, mention: bool
) -> None:
    nodes = chain(workspace, tmp_path / "code", 6, mention=mention)

    given, everything = name_tokens(nodes), every_name(nodes)

    for node in nodes:
        assert canonical_node(node, given[node.node_id]) == canonical_node(
            node, everything[node.node_id]
        )


def test_a_node_gets_only_the_names_that_occur_in_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    nodes = chain(workspace, tmp_path / "code", 6, mention=True)
    first, *_, last = nodes
    own_output = first.outputs[0].name

    given = name_tokens(nodes)

    assert given[first.node_id] == {own_output: f"<{first.node_id} output 0>"}
    middle = nodes[2]
    assert set(given[middle.node_id]) == {
        nodes[1].outputs[0].name,  # what it reads: its input's producer's output
        middle.outputs[0].name,
        middle.inputs[0].name,  # its own generated input name
    }
    assert own_output in given[last.node_id]  # named in an argument and a variable
    assert max(len(t) for t in given.values()) <= 4


def test_a_name_of_another_shape_is_offered_to_every_node(
    workspace: Workspace, tmp_path: Path
) -> None:
    nodes = chain(workspace, tmp_path / "code", 3, mention=False)
    odd = nodes[0].outputs[0].name
    # as if an older plan had generated this name otherwise
    renamed = [_rename(node, odd, "made-elsewhere") for node in nodes]

    given = name_tokens(renamed)

    assert all("made-elsewhere" in tokens for tokens in given.values())


def _rename(node: PlanNode, old: str, new: str) -> PlanNode:
    data = json.loads(json.dumps(node.to_json()).replace(old, new))
    return PlanNode.from_json(data)
