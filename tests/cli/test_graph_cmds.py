"""``dataferry graph FILE.py`` and ``dataferry runs graph RUN``: steps and the data
between them, in the terminal, as Mermaid and as DOT (both parsed back here)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from click.testing import Result

from dataferry import (
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
)
from dataferry.cli.graph_render import render
from dataferry.pipeline.graph_view import of_pipeline

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore, Workspace

Invoke = Callable[..., Result]

WAIT_S = 120.0  # an upper bound, never asserted

STEP = """\
import os, sys
args = sys.argv[1:]
for flag, path in zip(args[::2], args[1::2]):
    if flag == "--out":
        os.makedirs(path, exist_ok=True)
        open(os.path.join(path, "part.txt"), "w").write("x\\n")
"""

# a diamond: split -> (left, right) -> join, plus `report` after `join` without data
PIPELINE = """\
from dataferry import (Workspace, Datastore, DataReference, OutputFileDatasetConfig,
                       PythonScriptStep, Pipeline, Experiment)

ws = Workspace.from_config()
store = Datastore.get(ws, "workspaceblobstore")

def step(name, inputs=(), outputs=()):
    args = [*(i for i in inputs), *(o for o in outputs)]
    return PythonScriptStep(name=name, script_name="step.py", source_directory="steps",
                            arguments=args, allow_reuse=True)

a, b = OutputFileDatasetConfig(name="a"), OutputFileDatasetConfig(name="b")
raw = DataReference(store, data_reference_name="raw", path_on_datastore="raw")
split = PythonScriptStep(name="split", script_name="step.py", source_directory="steps",
                         arguments=[a, b], inputs=[raw])
left_out, right_out = OutputFileDatasetConfig(name="l"), OutputFileDatasetConfig(name="r")
left = step("left", [a.as_input("a")], [left_out])
right = step("right", [b.as_input("b")], [right_out])
join = step("join", [left_out.as_input("l"), right_out.as_input("r")])
report = step("report")
report.run_after(join)
run = Experiment(ws, "diamond").submit(Pipeline(ws, steps=[report]))
raise SystemExit("not reached: `dataferry graph` stops the file at its submit")
"""

DIAMOND_EDGES = {
    ("raw (datapath)", "split"),
    ("split", "a"),
    ("split", "b"),
    ("a", "left"),
    ("b", "right"),
    ("left", "l"),
    ("right", "r"),
    ("l", "join"),
    ("r", "join"),
    ("join", "report"),
}


@pytest.fixture
def project(workspace: Workspace, store_root: Path) -> Path:
    folder = workspace.path.parent
    (folder / "steps").mkdir()
    (folder / "steps" / "step.py").write_text(STEP)
    (folder / "pipeline.py").write_text(PIPELINE)
    (store_root / "raw").mkdir()
    (store_root / "raw" / "f.txt").write_text("raw\n")
    return folder


@pytest.fixture
def in_project(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(project)
    return project


def parse_mermaid(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Node labels by id and edges as (label, label), from a ``flowchart``."""
    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    labels: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()
    for line in lines[1:]:
        node = re.fullmatch(r'    (\w+)(?:\["(.*)"\]|\[\("(.*)"\)\])', line)
        edge = re.fullmatch(r"    (\w+) --> (\w+)", line)
        assert node or edge, f"not Mermaid: {line!r}"
        if node:
            labels[node[1]] = (node[2] or node[3]).split("<br/>")[0]
        elif edge:
            edges.add((edge[1], edge[2]))
    return labels, {(labels[a], labels[b]) for a, b in edges}


def parse_dot(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Node labels by id and edges as (label, label), from a ``digraph``."""
    lines = text.splitlines()
    assert lines[0] == "digraph pipeline {" and lines[-1] == "}"
    labels: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()
    for line in lines[2:-1]:
        node = re.fullmatch(r'    (\w+) \[shape=(box|ellipse), label="(.*)"\];', line)
        edge = re.fullmatch(r"    (\w+) -> (\w+);", line)
        assert node or edge, f"not DOT: {line!r}"
        if node:
            labels[node[1]] = node[3].split("\\n")[0]
        elif edge:
            edges.add((edge[1], edge[2]))
    return labels, {(labels[a], labels[b]) for a, b in edges}


class TestGraphOfAFile:
    def test_text_lists_each_step_with_what_it_reads_and_writes(
        self, run: Invoke, in_project: Path
    ) -> None:
        result = run("graph", "pipeline.py")
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == [
            "split",
            "    reads  [raw (datapath)]",
            "    writes [a] -> left",
            "    writes [b] -> right",
            "left",
            "    reads  [a] <- split",
            "    writes [l] -> join",
            "right",
            "    reads  [b] <- split",
            "    writes [r] -> join",
            "join",
            "    reads  [l] <- left",
            "    reads  [r] <- right",
            "report",
            "    after  join",
        ]

    @pytest.mark.parametrize("fmt", ["mermaid", "dot"])
    def test_mermaid_and_dot_parse_to_the_same_graph(
        self, run: Invoke, in_project: Path, fmt: str
    ) -> None:
        result = run("graph", "pipeline.py", "--format", fmt)
        assert result.exit_code == 0, result.output
        parse = parse_mermaid if fmt == "mermaid" else parse_dot
        labels, edges = parse(result.stdout)
        assert sorted(labels.values()) == sorted(
            ["split", "left", "right", "join", "report", "raw (datapath)", *"ablr"]
        )
        assert edges == DIAMOND_EDGES

    def test_nothing_is_submitted(
        self, run: Invoke, in_project: Path, workspace: Workspace
    ) -> None:
        assert run("graph", "pipeline.py").exit_code == 0
        listed = run("runs", "list", "--json")
        assert listed.stdout.strip() == "[]"

    def test_a_file_with_a_module_level_pipeline_and_no_submit(
        self, run: Invoke, in_project: Path
    ) -> None:
        text = PIPELINE.replace(
            'run = Experiment(ws, "diamond").submit(', "pipeline = ("
        )
        (in_project / "defines.py").write_text(text.replace("raise SystemExit", "#"))
        result = run("graph", "defines.py", "--format", "dot")
        assert result.exit_code == 0, result.output
        assert parse_dot(result.stdout)[1] == DIAMOND_EDGES

    def test_a_file_without_a_pipeline_is_refused(
        self, run: Invoke, in_project: Path
    ) -> None:
        (in_project / "empty.py").write_text("x = 1\n")
        result = run("graph", "empty.py")
        assert result.exit_code == 2
        assert (
            "empty.py submits no pipeline and defines no module-level `pipeline`"
            in (result.stderr)
        )

    def test_an_unknown_format_is_a_usage_error(
        self, run: Invoke, in_project: Path
    ) -> None:
        result = run("graph", "pipeline.py", "--format", "svg")
        assert result.exit_code == 2
        assert "'svg' is not one of 'text', 'mermaid', 'dot'" in result.stderr


def test_labels_with_quotes_stay_parseable(
    workspace: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "s.py").write_text("")
    out = OutputFileDatasetConfig(name="out")
    step = PythonScriptStep(
        name='say "hi"',
        script_name="s.py",
        source_directory=str(tmp_path),
        arguments=[out],
    )
    view = of_pipeline(Pipeline(workspace, steps=[step]))
    assert parse_dot(render(view, "dot"))[1] == {('say \\"hi\\"', "out")}
    assert parse_mermaid(render(view, "mermaid"))[1] == {("say #quot;hi#quot;", "out")}


@pytest.mark.slow
class TestGraphOfARun:
    @pytest.fixture
    def two_runs(
        self, project: Path, workspace: Workspace, blobstore: Datastore
    ) -> str:
        """Two runs of a two-step chain; the second reuses both steps."""
        del blobstore
        for _ in range(2):
            made = OutputFileDatasetConfig(name="made")
            PythonScriptStep(
                name="make",
                script_name="step.py",
                source_directory=str(project / "steps"),
                arguments=["--out", made],
            )
            second = PythonScriptStep(
                name="use",
                script_name="step.py",
                source_directory=str(project / "steps"),
                arguments=["--in", made.as_input("made")],
            )
            pipeline_run = Experiment(workspace, "chain").submit(
                Pipeline(workspace, steps=[second])
            )
            status = pipeline_run.wait_for_completion(
                show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
            )
            assert status == "Finished", pipeline_run.get_details()
        return pipeline_run.id

    def test_each_step_has_its_status_duration_and_reuse(
        self, run: Invoke, two_runs: str
    ) -> None:
        result = run("runs", "graph", "latest")
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert re.fullmatch(r"make  Finished · \d+\.\ds · reused", lines[0]), lines
        assert lines[1] == "    writes [made] -> use"
        assert re.fullmatch(r"use   Finished · \d+\.\ds · reused", lines[2]), lines
        assert lines[3:] == ["    reads  [made] <- make"]

    def test_mermaid_of_a_run_parses(self, run: Invoke, two_runs: str) -> None:
        result = run("runs", "graph", two_runs[:-2], "--format", "mermaid")
        assert result.exit_code == 0, result.output
        _, edges = parse_mermaid(result.stdout)
        assert edges == {("make", "made"), ("made", "use")}
        assert "Finished · " in result.stdout

    def test_an_unknown_run_exits_3(self, run: Invoke, two_runs: str) -> None:
        result = run("runs", "graph", "nosuchrun")
        assert result.exit_code == 3
        assert "nosuchrun" in result.stderr
