"""The stored plan (version 3): per-run facts once, no default values, every field back.

A node's stored JSON stays small whatever the pipeline's length, the plan read back is
the plan compiled, and fingerprints (made from the full node JSON) do not change.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from execution.plan_kit import every_kind_pipeline
from pipeline.kit import chain

from dataferry import (
    CommandStep,
    Datastore,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PythonScriptStep,
)
from dataferry.catalog.run_store import RunStore
from dataferry.errors import PlanFormatError
from dataferry.execution import plan_json
from dataferry.execution.plan import PlanCompiler
from dataferry.execution.plan_model import Plan, plan_of
from dataferry.execution.reuse import ReuseAdvisor

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace
    from dataferry.pipeline import PipelineStep

# bytes of stored JSON per node of a chain whose steps each read the previous output
# and write one (about 300 today; version 2 stored about 1,050)
MAX_BYTES_PER_NODE = 400


def _source(tmp_path: Path, name: str = "src") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "step.py").write_text("print('ok')\n")
    return folder


def _plan(ws: Workspace, steps: list[PipelineStep]) -> Plan:
    return PlanCompiler(Pipeline(ws, steps=steps), ws).compile()


def _fingerprints(ws: Workspace, plan: Plan, parameters: dict[str, Any]) -> list[str]:
    advisor = ReuseAdvisor(ws, RunStore(ws.catalog), parameters)
    advisor.use_plan(plan.nodes)
    digests: dict[str, str] = {}
    for node in plan.nodes:
        digests[node.node_id] = advisor.fingerprint(node, digests).digest
    return [digests[n.node_id] for n in plan.nodes]


def _stored_size(plan: Plan) -> int:
    """Bytes of the plan as the catalog stores it (default ``json.dumps`` spacing)."""
    return len(json.dumps(plan.to_json()).encode())


@pytest.mark.parametrize("link", ["output_config", "pipeline_data"])
def test_a_node_is_stored_in_a_few_hundred_bytes(
    workspace: Workspace, tmp_path: Path, link: str
) -> None:
    plan = _plan(workspace, chain(500, _source(tmp_path), link))

    per_node = _stored_size(plan) / len(plan.nodes)

    assert per_node <= MAX_BYTES_PER_NODE, per_node


def test_the_snapshot_and_environment_are_stored_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    plan = _plan(workspace, chain(50, _source(tmp_path), "output_config"))
    stored = plan.to_json()
    snapshot = plan.nodes[0].snapshot

    assert stored["plan_version"] == 3
    assert stored["node_defaults"]["snapshot"] == snapshot
    assert stored["node_defaults"]["script"] == "step.py"
    assert json.dumps(stored).count(snapshot) == 1
    assert stored["nodes"][1] == {
        "node_id": "s1",
        "name": "s1",
        "arguments": [{"input": "i1"}, {"output": "o1"}],
        "inputs": [
            {
                "name": "i1",
                "kind": "output",
                "mode": "mount",
                "style": "dataset",
                "producer": "s0",
                "output": "o0",
            }
        ],
        "outputs": [{"name": "o1", "type": "dataset_output", "mode": "mount"}],
        "upstream": ["s0"],
    }


def _mixed_steps(ws: Workspace, tmp_path: Path) -> list[PipelineStep]:
    """Steps that differ from the common case in every field the stored form omits."""
    main, other = _source(tmp_path, "main"), _source(tmp_path, "other")
    (other / "helper.py").write_text("X = 1\n")  # another snapshot
    extra = Datastore.register_local(ws, "extra", str(tmp_path / "extra"))
    placed = OutputFileDatasetConfig(
        name="placed", destination=(extra, "fixed/{run-id}")
    )
    piped = PipelineData("piped", pipeline_output_name="kept", is_directory=True)
    steps: list[PipelineStep] = [
        PythonScriptStep(
            "step.py", name=f"common{i}", source_directory=str(main), arguments=["-x"]
        )
        for i in range(3)
    ]
    steps.append(
        PythonScriptStep(
            "step.py",
            name="elsewhere",
            source_directory=str(other),
            arguments=[placed],
            allow_reuse=False,
            version="2",
            outputs=[piped],
        )
    )
    steps.append(
        CommandStep(
            "cat $X",
            name="shell",
            source_directory=str(main),
            inputs=[placed.as_input("placed_in").as_download("data/in")],
            params={"k": "v"},
        )
    )
    steps.append(
        PythonScriptStep(
            "step.py",
            name="reader",
            source_directory=str(main),
            inputs=[piped],
        )
    )
    return steps


@pytest.mark.parametrize("shape", ["every_kind", "mixed"])
def test_the_stored_plan_reads_back_as_compiled(
    workspace: Workspace, tmp_path: Path, shape: str
) -> None:
    if shape == "every_kind":
        pipeline = every_kind_pipeline(workspace, tmp_path / "code")
    else:
        pipeline = Pipeline(workspace, steps=_mixed_steps(workspace, tmp_path))
    compiler = PlanCompiler(pipeline, workspace)
    plan, parameters = compiler.compile(), compiler.parameters(None)
    store = RunStore(workspace.catalog)
    store.create_run(
        "r1",
        "exp",
        plan.to_json(),
        parameters=parameters,
        options={},
        tags=None,
        description=None,
        steps=[(f"r1_{n.node_id}", n.node_id, n.name) for n in plan.nodes],
    )

    again = plan_of(store.get_run("r1"))

    assert again == plan
    assert [n.to_json() for n in again.nodes] == [n.to_json() for n in plan.nodes]
    assert _fingerprints(workspace, again, parameters) == _fingerprints(
        workspace, plan, parameters
    )


def _shrunk(nodes: list[dict[str, Any]], datastore: str) -> list[dict[str, Any]]:
    """The short form as version 3 first made it: the full JSON, then each field at
    its default dropped (the direct writer must store exactly this, in this order)."""
    shared = plan_json.shared_defaults(nodes)
    defaults = {**plan_json.NODE_DEFAULTS, **shared}
    out = []
    for node in nodes:
        short = {k: v for k, v in node.items() if k not in defaults or v != defaults[k]}
        for key, shrink in (("inputs", _shrunk_input), ("outputs", _shrunk_output)):
            if key in short:
                short[key] = [shrink(p, datastore) for p in short[key]]
        out.append(short)
    return out


def _shrunk_input(spec: dict[str, Any], datastore: str) -> dict[str, Any]:
    drop = {**plan_json.INPUT_DEFAULTS, "view": plan_json.VIEW_DEFAULT}
    return {k: v for k, v in spec.items() if k not in drop or v != drop[k]}


def _shrunk_output(spec: dict[str, Any], datastore: str) -> dict[str, Any]:
    drop = {
        **plan_json.OUTPUT_DEFAULTS,
        "datastore": datastore,
        "path_template": plan_json.PATH_TEMPLATES.get(spec["type"]),
        "pipeline_output_name": None,
    }
    return {k: v for k, v in spec.items() if k not in drop or v != drop[k]}


@pytest.mark.parametrize("shape", ["every_kind", "mixed", "chain"])
def test_the_short_form_is_the_full_json_without_its_defaults(
    workspace: Workspace, tmp_path: Path, shape: str
) -> None:
    if shape == "every_kind":
        pipeline = every_kind_pipeline(workspace, tmp_path / "code")
    elif shape == "mixed":
        pipeline = Pipeline(workspace, steps=_mixed_steps(workspace, tmp_path))
    else:
        pipeline = Pipeline(
            workspace, steps=chain(20, _source(tmp_path), "pipeline_data")
        )
    plan = PlanCompiler(pipeline, workspace).compile()
    full = [n.to_json() for n in plan.nodes]

    stored = plan.to_json()["nodes"]

    expected = _shrunk(full, plan.default_datastore)
    assert stored == expected
    assert [list(n) for n in stored] == [list(n) for n in expected]  # and key order


def test_a_node_in_another_folder_stores_its_own_snapshot(
    workspace: Workspace, tmp_path: Path
) -> None:
    plan = _plan(workspace, _mixed_steps(workspace, tmp_path))
    stored = plan.to_json()
    by_id = {n["node_id"]: n for n in stored["nodes"]}

    assert stored["node_defaults"]["snapshot"] == plan.nodes[0].snapshot
    assert by_id["elsewhere"]["snapshot"] != plan.nodes[0].snapshot
    assert "snapshot" not in by_id["common0"]
    assert by_id["shell"]["kind"] == "command"
    assert by_id["shell"]["script"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p["nodes"][0].pop("node_id"), r"missing field 'node_id'"),
        (lambda p: p.pop("node_defaults"), r"missing field 'kind'"),
        (lambda p: p["nodes"][1]["inputs"][0].pop("kind"), r"missing field 'kind'"),
        (lambda p: p["nodes"][1]["outputs"][0].pop("type"), r"missing field 'type'"),
        (
            lambda p: p["node_defaults"].update(kind="hyperdrive"),
            r"step 's0' is of kind 'hyperdrive', which this dataferry cannot run",
        ),
    ],
    ids=["node-id", "no-defaults", "input-kind", "output-type", "shared-kind"],
)
def test_a_damaged_version_3_plan_names_what_is_wrong(
    workspace: Workspace, tmp_path: Path, change: Any, message: str
) -> None:
    stored = _plan(workspace, chain(3, _source(tmp_path), "output_config")).to_json()
    change(stored)

    with pytest.raises(PlanFormatError, match=message):
        Plan.from_json(stored, where="run r1's plan")


def test_shared_defaults_take_the_commonest_value_and_the_first_on_a_tie() -> None:
    nodes = [
        {"snapshot": "b", "environment_variables": {"X": "1"}},
        {"snapshot": "a", "environment_variables": {}},
        {"snapshot": "a", "environment_variables": {"X": "1"}},
        {"snapshot": "b", "environment_variables": {}},
        {"snapshot": "a"},
    ]

    assert plan_json.shared_defaults(nodes) == {
        "snapshot": "a",
        "environment_variables": {"X": "1"},
    }
    assert plan_json.shared_defaults([]) == {}


@pytest.mark.parametrize("shape", ["every_kind", "mixed", "chain"])
def test_a_plan_read_back_is_stored_as_the_compiled_one(
    workspace: Workspace, tmp_path: Path, shape: str
) -> None:
    # a compiled plan shares one kind and one environment object among its nodes; a
    # plan read back holds equal copies per node: the stored form must not differ
    if shape == "every_kind":
        pipeline = every_kind_pipeline(workspace, tmp_path / "code")
    elif shape == "mixed":
        pipeline = Pipeline(workspace, steps=_mixed_steps(workspace, tmp_path))
    else:
        pipeline = Pipeline(workspace, steps=chain(30, _source(tmp_path)))
    stored = PlanCompiler(pipeline, workspace).compile().to_json()
    again = Plan.from_json(stored)
    assert len({id(n.kind) for n in again.nodes}) == len(again.nodes)

    restored = again.to_json()

    assert restored == stored
    assert json.dumps(restored) == json.dumps(stored)  # and key order


def test_a_kind_most_nodes_share_as_copies_is_the_default(
    workspace: Workspace, tmp_path: Path
) -> None:
    # two scripts: the one most nodes run goes to node_defaults even when each node
    # holds its own copy of it, and the other node names its own
    src = _source(tmp_path)
    (src / "other.py").write_text("print('other')\n")
    steps: list[PipelineStep] = [
        PythonScriptStep("step.py", name=f"s{i}", source_directory=str(src))
        for i in range(3)
    ]
    steps.append(PythonScriptStep("other.py", name="odd", source_directory=str(src)))
    compiled = _plan(workspace, steps)
    copies = Plan.from_json(compiled.to_json())

    stored = copies.to_json()

    assert stored["node_defaults"]["script"] == "step.py"
    assert [n.get("script") for n in stored["nodes"]] == [None, None, None, "other.py"]
    assert stored == compiled.to_json()
