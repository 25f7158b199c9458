"""The compare view's graph diff: two runs' graphs merged on step and data names,
each node marked same / changed (with its reason) / added / removed. The merge is
checked on plain graph views (no catalog), then in a real browser on two real runs:
one step's parameter changed and one step added. A screenshot is written as an
artifact under the test's tmp folder, its path printed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cli.big_run import recorded_run
from cli.test_serve import start_server
from cli.test_serve_browser import page, shot  # noqa: F401  # the browser fixture
from cli.test_serve_views_browser import COUNT_WORKERS
from pipeline.kit import run_pipeline, write_script

from dataferry import (
    OutputFileDatasetConfig,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
)
from dataferry.execution.views.run_compare import RunComparison, StepChange, ValueChange
from dataferry.execution.views.run_graph_diff import merge_graphs
from dataferry.pipeline.graph_view import DataNode, GraphView, StepNode

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

    from dataferry import Workspace
    from dataferry.execution.pipeline_run import PipelineRun

PREP = "import sys, pathlib\npathlib.Path(sys.argv[1], 'x.txt').write_text('x')\n"
TRAIN = "import sys\nprint('rate', sys.argv[2])\n"


def graph(node_ids: dict[str, str], *, reader: str = "train") -> GraphView:
    """prep -> out -> train (+ an outside input 'nums' of ``reader``); ``node_ids``
    maps step names to this run's node ids (which differ between runs)."""
    steps = tuple(StepNode(f"step:{i}", n, "Finished") for n, i in node_ids.items())
    prep, read = node_ids["prep"], node_ids[reader]
    data = (
        DataNode(f"output:{prep}/out", "out", "output", "prep"),
        DataNode(f"external:{read}/nums", "nums", "external", "dataset"),
    )
    edges = [
        (f"step:{prep}", f"output:{prep}/out"),
        (f"external:{read}/nums", f"step:{read}"),
    ]
    if "train" in node_ids:
        edges.append((f"output:{prep}/out", f"step:{node_ids['train']}"))
    return GraphView(steps, data, tuple(edges))


def comparison(
    steps: tuple[StepChange, ...], inputs: tuple[ValueChange, ...] = ()
) -> RunComparison:
    return RunComparison("A", "B", steps, (), inputs, (), ())


def marks(diff: object) -> dict[str, str]:
    nodes = [*diff.steps, *diff.data]  # type: ignore[attr-defined]
    return {n.key: n.change for n in nodes}


def test_nodes_are_matched_by_name_and_marked() -> None:
    left = graph({"prep": "n1", "train": "n2"})
    right = graph({"prep": "p", "train": "t", "report": "r"})
    steps = (
        StepChange("prep", "same"),
        StepChange("train", "changed", ("parameter rate changed",)),
        StepChange("report", "added"),
    )
    nums = ValueChange("train/nums", "nums:1", "nums:2")
    diff = merge_graphs(left, right, comparison(steps, (nums,)))
    assert marks(diff) == {
        "step:prep": "same",
        "step:train": "changed",
        "step:report": "added",
        "output:prep/out": "same",
        "external:train/nums": "changed",
    }
    by_key = {n.key: n for n in [*diff.steps, *diff.data]}
    assert by_key["step:train"].reasons == ("parameter rate changed",)
    assert by_key["external:train/nums"].reasons == ("train read nums:2 (was nums:1)",)
    assert by_key["step:report"].left_status is None
    assert by_key["step:report"].right_status == "Finished"
    # the edges of both runs, under the run-independent keys, each once
    assert set(diff.edges) == {
        ("step:prep", "output:prep/out"),
        ("external:train/nums", "step:train"),
        ("output:prep/out", "step:train"),
    }


def test_a_removed_step_its_data_and_a_changed_producers_output() -> None:
    left = graph({"prep": "a", "train": "b"})
    right = graph({"prep": "c"}, reader="prep")
    steps = (
        StepChange("prep", "changed", ("source file prep.py changed",)),
        StepChange("train", "removed"),
    )
    diff = merge_graphs(left, right, comparison(steps))
    assert marks(diff) == {
        "step:prep": "changed",
        "step:train": "removed",
        "output:prep/out": "changed",
        "external:train/nums": "removed",
        "external:prep/nums": "added",
    }
    out = next(d for d in diff.data if d.key == "output:prep/out")
    assert out.reasons == ("made by step prep, which changed",)


def two_runs(workspace: Workspace, tmp_path: Path) -> tuple[PipelineRun, PipelineRun]:
    """prep -> out -> train(rate); the second run: rate 0.5 instead of 0.1, and a
    new step 'report' reading prep's output."""
    code = write_script(tmp_path / "code", "prep.py", PREP)
    write_script(code, "train.py", TRAIN)

    def pipeline(extra: bool) -> Pipeline:
        out = OutputFileDatasetConfig("out")
        rate = PipelineParameter("rate", default_value=0.1)
        step = lambda name, script, args: PythonScriptStep(  # noqa: E731
            script, name=name, source_directory=str(code), arguments=args
        )
        steps = [
            step("prep", "prep.py", [out]),
            step("train", "train.py", [out.as_input("out"), rate]),
        ]
        if extra:
            steps.append(step("report", "train.py", [out.as_input("out"), "x"]))
        return Pipeline(workspace, steps)

    first = run_pipeline(pipeline(False), "diff")
    second = run_pipeline(pipeline(True), "diff", pipeline_parameters={"rate": 0.5})
    assert (first.get_status(), second.get_status()) == ("Finished", "Finished")
    return first, second


@pytest.mark.server
@pytest.mark.slow
def test_the_page_draws_the_graph_diff(
    workspace: Workspace,
    tmp_path: Path,
    page: Page,  # noqa: F811  # the fixture imported above
) -> None:
    first, second = two_runs(workspace, tmp_path)
    for url in start_server(workspace, "127.0.0.1"):
        page.goto(f"{url}/#/compare/{first.id}/{second.id}")
        page.wait_for_selector("#graph-diff g.diff-step >> nth=2")
        step = lambda name: f'#graph-diff g.diff-step[data-name="{name}"]'  # noqa: E731
        changes = {
            n: page.get_attribute(step(n), "data-change")
            for n in ("prep", "train", "report")
        }
        assert changes == {"prep": "same", "train": "changed", "report": "added"}
        assert page.text_content(f"{step('train')} title") == "parameter 'rate' changed"
        assert page.get_attribute(f"{step('report')} rect", "fill") == "#a5d6a7"
        assert page.text_content(step("report")).startswith(
            "reportadded · — → Finished"
        )
        output = '#graph-diff g.diff-data[data-name="output:prep/out"]'
        assert page.get_attribute(output, "data-change") == "same"
        assert page.locator("#compare-steps").count() == 1  # the table stays below
        shot(page, tmp_path, "compare-graph-diff")
        page.goto("about:blank")


@pytest.mark.server
@pytest.mark.slow
def test_a_big_graph_diff_is_laid_out_by_the_worker(
    workspace: Workspace,
    tmp_path: Path,
    page: Page,  # noqa: F811  # the fixture imported above
) -> None:
    longer = recorded_run(workspace, tmp_path, 40)  # ~80 nodes merged: the worker
    shorter = recorded_run(workspace, tmp_path, 30)
    page.add_init_script(COUNT_WORKERS)
    for url in start_server(workspace, "127.0.0.1"):
        page.goto(f"{url}/#/compare/{longer}/{shorter}")
        page.wait_for_selector("#graph-diff g.diff-step >> nth=39")
        assert page.evaluate("window.workersStarted") == 1
        removed = page.locator('#graph-diff g.diff-step[data-change="removed"]')
        assert removed.count() == 10
        assert removed.first.get_attribute("data-name") == "s30"
        # never run: nothing recorded to compare, which the node says
        s0 = '#graph-diff g.diff-step[data-name="s0"]'
        assert page.text_content(f"{s0} title") == "no fingerprint recorded to compare"
        shot(page, tmp_path, "compare-graph-diff-worker")
        page.goto("about:blank")
