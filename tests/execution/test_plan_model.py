"""The typed plan: JSON round trips through the catalog, old plans load, newer ones are
refused, and each input binding resolves its parameter in one place."""

from __future__ import annotations

import copy
import json
import os
import sys
from typing import TYPE_CHECKING, Any

import pytest
from execution.plan_kit import every_kind_pipeline

from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import RunStatus
from dataferry.errors import PlanFormatError, PlanVersionError, RunError
from dataferry.execution.plan import PlanCompiler
from dataferry.execution.plan_inputs import (
    DataPathInput,
    DatasetInput,
    OutputView,
    UpstreamOutputInput,
)
from dataferry.execution.plan_model import (
    PLAN_VERSION,
    EnvironmentSpec,
    OutputTarget,
    Plan,
    PlanNode,
    plan_of,
)
from dataferry.execution.plan_values import (
    DataPathRef,
    DatasetRef,
    InputArg,
    LiteralArg,
    OutputArg,
    ParamArg,
    ParamRef,
    StepParamArg,
)
from dataferry.execution.resume import rerun_from
from dataferry.execution.reuse import ReuseAdvisor
from dataferry.execution.step_kinds import CommandStepKind, ScriptStepKind

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


@pytest.fixture
def compiled(workspace: Workspace, tmp_path: Path) -> tuple[Plan, dict[str, Any]]:
    """The plan and parameter values of ``every_kind_pipeline``."""
    compiler = PlanCompiler(
        every_kind_pipeline(workspace, tmp_path / "code"), workspace
    )
    return compiler.compile(), compiler.parameters(None)


def stored(workspace: Workspace, definition: Any, run_id: str = "r1") -> RunStore:
    """A run row in the real catalog holding ``definition`` as its plan."""
    store = RunStore(workspace.catalog)
    store.create_run(
        run_id,
        "exp",
        definition,
        parameters={},
        options={},
        tags=None,
        description=None,
        steps=[(f"{run_id}_prep", "prep", "prep")],
    )
    return store


def fingerprints(ws: Workspace, plan: Plan, parameters: dict[str, Any]) -> list[str]:
    advisor = ReuseAdvisor(ws, RunStore(ws.catalog), parameters)
    advisor.use_plan(plan.nodes)
    digests: dict[str, str] = {}
    for node in plan.nodes:
        digests[node.node_id] = advisor.fingerprint(node, digests).digest
    return [digests[n.node_id] for n in plan.nodes]


class TestRoundTrip:
    def test_the_plan_has_every_kind(
        self, compiled: tuple[Plan, dict[str, Any]]
    ) -> None:
        plan, _ = compiled
        prep, report, shout = plan.nodes

        assert prep.kind == ScriptStepKind("prep.py")
        assert report.kind == CommandStepKind(shell=False)
        assert shout.kind == CommandStepKind(shell=True)
        seen = [
            (type(i).__name__, type(i.source).__name__, i.mode)
            for i in prep.inputs
            if not isinstance(i, UpstreamOutputInput)
        ]
        assert seen == [
            ("DatasetInput", "DatasetRef", "direct"),  # tabular, as_named_input
            ("DatasetInput", "ParamRef", "direct"),  # a dataset parameter
            ("DataPathInput", "DataPathRef", "mount"),
            ("DataPathInput", "ParamRef", "download"),  # a DataPath parameter
            ("DatasetInput", "DatasetRef", "mount"),  # in the arguments only
        ]
        assert [type(a) for a in prep.arguments] == [
            LiteralArg,
            ParamArg,
            LiteralArg,
            InputArg,
        ]
        assert [type(a) for a in report.arguments] == [
            LiteralArg,
            LiteralArg,
            InputArg,
            OutputArg,
            StepParamArg,
        ]
        (upstream,) = report.inputs
        assert isinstance(upstream, UpstreamOutputInput)
        assert upstream.view.tabular is not None
        assert [o.type for o in (*prep.outputs, *report.outputs)] == [
            "dataset_output",
            "pipeline_data",
        ]
        assert report.outputs[0].pipeline_output_name == "final"
        registration = prep.outputs[0].register
        assert registration is not None
        assert (registration.name, registration.description, registration.tags) == (
            "cleaned",
            "rows",
            {"k": "v"},
        )
        assert prep.params == {"k": "v", "p": ParamRef("n")}
        assert prep.runconfig_params == {"MaxRunDurationSeconds": ParamRef("limit")}

    def test_to_json_and_back_is_the_same_plan(
        self, compiled: tuple[Plan, dict[str, Any]]
    ) -> None:
        plan, _ = compiled
        text = json.dumps(plan.to_json())

        again = Plan.from_json(json.loads(text))

        assert again == plan
        assert again.to_json() == plan.to_json()
        assert plan.to_json()["plan_version"] == PLAN_VERSION == 3

    def test_a_plan_stored_in_the_catalog_reads_back_the_same(
        self, workspace: Workspace, compiled: tuple[Plan, dict[str, Any]]
    ) -> None:
        plan, _ = compiled
        store = stored(workspace, plan.to_json())

        assert plan_of(store.get_run("r1")) == plan


# A plan as the code before plan versions stored it (trimmed to one node of each kind).
V1_PLAN: dict[str, Any] = {
    "description": None,
    "default_datastore": "workspaceblobstore",
    "nodes": [
        {
            "node_id": "prep",
            "name": "prep",
            "kind": "script",
            "script": "prep.py",
            "shell": False,
            "snapshot": "/somewhere/snapshots/b741",
            "snapshot_hash": "b741",
            "arguments": ["--n", {"param": "n"}, {"input": "data"}],
            "inputs": [
                {
                    "name": "data",
                    "auto_name": False,
                    "kind": "dataset",
                    "mode": "direct",
                    "style": "dataset",
                    "path_on_compute": None,
                    "param": "data",
                },
                {
                    "name": "workspaceblobstore_7c4c7402",
                    "auto_name": True,
                    "kind": "datapath",
                    "mode": "mount",
                    "style": "dataref",
                    "path_on_compute": None,
                    "datastore": "workspaceblobstore",
                    "path": "a.csv",
                },
            ],
            "outputs": [
                {
                    "name": "clean",
                    "auto_name": False,
                    "type": "dataset_output",
                    "mode": "mount",
                    "datastore": "workspaceblobstore",
                    "path_template": "dataset/{run-id}/{output-name}",
                    "overwrite": False,
                    "source_globs": None,
                    "source": None,
                    "register": {
                        "name": "cleaned",
                        "description": None,
                        "tags": None,
                        "tabular": None,
                        "transforms": [],
                    },
                }
            ],
            "params": {"k": "v", "p": {"param": "n"}},
            "upstream": [],
            "allow_reuse": True,
            "version": None,
            "compute_target": None,
            "interpreter": "/opt/python3.12/bin/python",
            "environment": "default-environment",
            "environment_variables": {"A": "1"},
            "runconfig_params": {},
            "max_run_duration_seconds": None,
        },
        {
            "node_id": "report",
            "name": "report",
            "kind": "command",
            "script": None,
            "shell": False,
            "snapshot": "/somewhere/snapshots/b741",
            "snapshot_hash": "b741",
            "arguments": ["python", "r.py", {"input": "clean_in"}],
            "inputs": [
                {
                    "name": "clean_in",
                    "auto_name": False,
                    "kind": "output",
                    "mode": "mount",
                    "style": "dataset",
                    "path_on_compute": None,
                    "producer": "prep",
                    "output": "clean",
                    "view": {"tabular": None, "transforms": []},
                }
            ],
            "outputs": [],
            "params": {},
            "upstream": ["prep"],
            "allow_reuse": True,
            "version": None,
            "compute_target": None,
            "interpreter": "/opt/python3.12/bin/python",
            "environment": "default-environment",
            "environment_variables": {},
            "runconfig_params": {},
            "max_run_duration_seconds": None,
        },
    ],
}


class TestOlderPlans:
    def test_an_unversioned_plan_loads_as_version_1(self, workspace: Workspace) -> None:
        store = stored(workspace, V1_PLAN)

        plan = plan_of(store.get_run("r1"))

        prep, report = plan.nodes
        assert prep.kind == ScriptStepKind("prep.py")
        assert prep.arguments == (
            LiteralArg("--n"),
            ParamArg("n"),
            InputArg("data"),
        )
        assert prep.inputs[0] == DatasetInput(
            name="data", mode="direct", style="dataset", source=ParamRef("data")
        )
        assert prep.inputs[1] == DataPathInput(
            name="workspaceblobstore_7c4c7402",
            mode="mount",
            style="dataref",
            auto_name=True,
            source=DataPathRef("workspaceblobstore", "a.csv"),
        )
        assert prep.outputs[0].register is not None
        assert prep.outputs[0].register.name == "cleaned"
        assert prep.environment == EnvironmentSpec(
            "default-environment", "/opt/python3.12/bin/python", {"A": "1"}
        )
        # version 1 stored the interpreter it resolved: the step runs with that one
        assert prep.environment.resolve_interpreter() == "/opt/python3.12/bin/python"
        assert report.kind == CommandStepKind(shell=False)
        assert report.inputs[0] == UpstreamOutputInput(
            name="clean_in",
            mode="mount",
            style="dataset",
            producer="prep",
            output="clean",
            view=OutputView(None, []),
        )

    def test_an_unversioned_plan_keeps_every_field_of_its_nodes(self) -> None:
        plan = Plan.from_json(V1_PLAN)

        assert [n.to_json() for n in plan.nodes] == V1_PLAN["nodes"]
        assert Plan.from_json(plan.to_json()) == plan

    def test_a_version_2_plan_reads_as_stored(self) -> None:
        v2 = {**V1_PLAN, "plan_version": 2}

        plan = Plan.from_json(v2)

        assert [n.to_json() for n in plan.nodes] == V1_PLAN["nodes"]
        assert plan == Plan.from_json(V1_PLAN)

    @pytest.mark.slow
    def test_an_unversioned_plan_keeps_its_fingerprints(
        self, workspace: Workspace, compiled: tuple[Plan, dict[str, Any]]
    ) -> None:
        plan, parameters = compiled
        old = plan.to_json()
        del old["plan_version"]
        for node in old["nodes"]:  # what version 1 stored
            node["interpreter"] = sys.executable

        assert fingerprints(workspace, Plan.from_json(old), parameters) == (
            fingerprints(workspace, plan, parameters)
        )


class TestRefused:
    def test_a_newer_plan_version_is_refused(self, workspace: Workspace) -> None:
        store = stored(workspace, {**V1_PLAN, "plan_version": 4})

        with pytest.raises(
            PlanVersionError,
            match=r"run r1's plan has plan version 4, written by a newer dataferry; "
            r"this one reads plan versions up to 3\. Upgrade dataferry",
        ):
            plan_of(store.get_run("r1"))

    def test_rerun_of_a_newer_plan_is_refused_before_anything_is_written(
        self, workspace: Workspace
    ) -> None:
        store = stored(workspace, {**V1_PLAN, "plan_version": 7})
        store.move_run("r1", RunStatus.RUNNING)
        store.move_run("r1", RunStatus.FINISHED)

        with pytest.raises(PlanVersionError, match="plan version 7"):
            rerun_from(workspace, "r1", "prep")

        assert [r.id for r in store.list_runs()] == ["r1"]

    def test_a_newer_version_is_a_run_error_and_a_value_error(self) -> None:
        with pytest.raises(RunError) as caught:
            Plan.from_json({**V1_PLAN, "plan_version": 99})
        assert isinstance(caught.value, ValueError)
        assert caught.value.exit_code == 2

    @pytest.mark.parametrize(
        ("version", "shown"),
        [("2", "'2'"), (0, "0"), (True, "True"), (1.5, "1.5")],
        ids=["str", "zero", "bool", "float"],
    )
    def test_a_version_that_is_not_a_positive_int(
        self, version: object, shown: str
    ) -> None:
        with pytest.raises(
            PlanFormatError,
            match=rf"the plan has plan_version {shown}; a plan version is a positive int",
        ):
            Plan.from_json({**V1_PLAN, "plan_version": version})

    def test_not_an_object(self) -> None:
        with pytest.raises(
            PlanFormatError, match="the plan is list, not a JSON object"
        ):
            Plan.from_json([])  # type: ignore[arg-type]  # what a damaged row may hold

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (
                lambda p: p["nodes"][0].pop("snapshot"),
                r"the plan cannot be read \(missing field 'snapshot'\)",
            ),
            (
                lambda p: p["nodes"][0].update(kind="hyperdrive"),
                r"step 'prep' is of kind 'hyperdrive', which this dataferry cannot run "
                r"\(known kinds: command, parallel, script\)",
            ),
            (
                lambda p: p["nodes"][0]["inputs"][0].update(kind="table"),
                r"input 'data' is of kind 'table'; known kinds: dataset, output, datapath",
            ),
            (
                lambda p: p["nodes"][0]["arguments"].append({"secret": "x"}),
                r"argument \{'secret': 'x'\} is neither text nor one of "
                r"\{input \| output \| param \| step_param: name\}",
            ),
            (
                lambda p: p["nodes"][0].update(environment_variables=["abc"]),
                r"the plan cannot be read \(dictionary update sequence element #0 has "
                r"length 3; 2 is required\); submit the pipeline again",
            ),
            (
                lambda p: p["nodes"][0]["params"].update(p={"param": 5}),
                r"'param' is 5, not a str",
            ),
        ],
        ids=[
            "missing-field",
            "unknown-step-kind",
            "unknown-input-kind",
            "bad-argument",
            "bad-variables",
            "bad-param",
        ],
    )
    def test_a_malformed_plan_names_what_is_wrong(
        self, change: Any, message: str
    ) -> None:
        damaged = copy.deepcopy(V1_PLAN)
        change(damaged)

        with pytest.raises(PlanFormatError, match=message):
            Plan.from_json(damaged, where="the plan")


DATASET_JSON = {
    "kind": "file",
    "definition": {
        "sources": [{"datastore": "workspaceblobstore", "path": "a.csv"}],
        "format": None,
        "transforms": [],
    },
    "id": "d-1",
}
PARAMETERS = {
    "data": {"dataset": DATASET_JSON},
    "where": {"datapath": {"datastore": "other", "path": "x/y.csv"}},
    "n": 3,
}


class TestResolve:
    def test_a_dataset_input(self) -> None:
        given = DatasetRef.from_json(DATASET_JSON)
        direct = DatasetInput(name="d", mode="direct", style="dataset", source=given)
        by_param = DatasetInput(
            name="d", mode="mount", style="dataset", source=ParamRef("data")
        )

        assert direct.resolve({}) is given
        assert by_param.resolve(PARAMETERS) == DatasetRef(
            "file", DATASET_JSON["definition"], "d-1"
        )
        assert (direct.parameter, by_param.parameter) == (None, "data")

    def test_a_datapath_input(self) -> None:
        given = DataPathRef("workspaceblobstore", "a.csv")
        direct = DataPathInput(name="p", mode="mount", style="dataref", source=given)
        by_param = DataPathInput(
            name="p", mode="download", style="dataref", source=ParamRef("where")
        )

        assert direct.resolve({}) is given
        assert by_param.resolve(PARAMETERS) == DataPathRef("other", "x/y.csv")
        assert (direct.parameter, by_param.parameter) == (None, "where")

    def test_an_upstream_output_input(self) -> None:
        upstream = UpstreamOutputInput(
            name="u", mode="mount", style="dataset", producer="prep", output="clean"
        )

        assert upstream.resolve(PARAMETERS) == ("prep", "clean")
        assert upstream.parameter is None

    def test_a_parameter_the_run_has_no_value_for(self) -> None:
        by_param = DatasetInput(
            name="d", mode="mount", style="dataset", source=ParamRef("gone")
        )

        with pytest.raises(
            PlanFormatError,
            match=r"pipeline parameter 'gone', which the run has no value for "
            r"\(it has: \['data', 'n', 'where'\]\)",
        ):
            by_param.resolve(PARAMETERS)

    @pytest.mark.parametrize(
        ("binding", "param", "wanted"),
        [
            (DatasetInput, "where", "dataset"),
            (DatasetInput, "n", "dataset"),
            (DataPathInput, "data", "datapath"),
        ],
    )
    def test_a_parameter_of_another_kind(
        self, binding: type[DatasetInput | DataPathInput], param: str, wanted: str
    ) -> None:
        bound = binding(name="i", mode="mount", style="dataref", source=ParamRef(param))

        with pytest.raises(
            PlanFormatError,
            match=rf"pipeline parameter '{param}' is bound to an input that reads a "
            rf"{wanted}, but its value is .*; pass a {wanted} as its value",
        ):
            bound.resolve(PARAMETERS)


def node(**changes: Any) -> PlanNode:
    fields: dict[str, Any] = {
        "node_id": "s",
        "name": "s",
        "kind": ScriptStepKind("s.py"),
        "snapshot": "/snap",
        "snapshot_hash": "h",
    }
    return PlanNode(**{**fields, **changes})


class TestNode:
    def test_step_params_and_parameters_used(self) -> None:
        n = node(
            arguments=(ParamArg("a"), LiteralArg("x")),
            params={"k": "v", "p": ParamRef("b")},
            runconfig_params={"NodeCount": ParamRef("c")},
            inputs=(
                DatasetInput(
                    name="d", mode="direct", style="dataset", source=ParamRef("d")
                ),
            ),
        )

        assert n.step_param("k", {}) == "v"
        assert n.step_param("p", {"b": 4}) == 4
        assert n.parameters_used() == {"a", "b", "c", "d"}

    @pytest.mark.parametrize(
        ("runconfig", "limit", "parameters", "expected"),
        [
            ({}, None, {}, None),
            ({}, 30, {}, 30),
            ({"MaxRunDurationSeconds": 5}, 30, {}, 5),
            ({"MaxRunDurationSeconds": ParamRef("t")}, 30, {"t": 7}, 7),
        ],
        ids=["none", "runconfig", "runconfig-param-value", "pipeline-parameter"],
    )
    def test_max_duration(
        self,
        runconfig: dict[str, Any],
        limit: int | None,
        parameters: dict[str, Any],
        expected: int | None,
    ) -> None:
        n = node(runconfig_params=runconfig, max_run_duration_seconds=limit)

        assert n.max_duration_s(parameters) == expected

    def test_step_kinds_build_the_command_line(self, tmp_path: Path) -> None:
        args = ["python", "a.py", "--x"]

        assert ScriptStepKind("s.py").argv(
            ["--x"], work_dir=tmp_path, interpreter="/py"
        ) == [
            "/py",
            str(tmp_path / "s.py"),
            "--x",
        ]
        assert CommandStepKind(False).argv(
            args, work_dir=tmp_path, interpreter="/py"
        ) == [
            "/py",
            "a.py",
            "--x",
        ]
        assert CommandStepKind(False).argv(
            ["ls"], work_dir=tmp_path, interpreter="/py"
        ) == ["ls"]
        python = """python() { /py "$@"; }; python3() { /py "$@"; }; """
        assert CommandStepKind(True).argv(
            ["echo hi"], work_dir=tmp_path, interpreter="/py"
        ) == ["/bin/bash", "-c", python + "echo hi"]
        # a list whose first item is a command line: joined, as Azure ML runs it
        assert CommandStepKind(False).argv(
            ["python a.py --n 3", "--out", "/o"], work_dir=tmp_path, interpreter="/py"
        ) == ["/bin/bash", "-c", python + "python a.py --n 3 --out /o"]
        assert CommandStepKind(False).argv(
            ["echo\thi"], work_dir=tmp_path, interpreter="/a b/py"
        ) == [
            "/bin/bash",
            "-c",
            """python() { '/a b/py' "$@"; }; python3() { '/a b/py' "$@"; }; echo\thi""",
        ]

    @pytest.mark.parametrize(
        ("request_", "expected"),
        [
            (None, sys.executable),
            ("python", sys.executable),
            ("", sys.executable),
            ("/opt/py/bin/python", "/opt/py/bin/python"),
            ("~/venv/bin/python", os.path.expanduser("~/venv/bin/python")),
        ],
    )
    def test_the_environment_resolves_where_the_step_runs(
        self, request_: str | None, expected: str
    ) -> None:
        assert EnvironmentSpec("e", request_).resolve_interpreter() == expected

    def test_an_output_target_keeps_pipeline_output_name_to_pipeline_data(self) -> None:
        target = OutputTarget(
            name="o",
            type="dataset_output",
            mode="upload",
            datastore="ds",
            path_template="p/{run-id}",
        )

        assert "pipeline_output_name" not in target.to_json()
        assert OutputTarget.from_json(target.to_json()) == target
