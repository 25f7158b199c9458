"""The page's datasets and metrics views are live: a dataset version registered by a
running run, and metrics a running step logs, appear without a reload (through the
SSE feed: ``registered`` and the coalesced ``metrics`` events). Playwright driving
the Debian Chromium; a screenshot of each view is written as an artifact."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cli.test_serve import start_server
from cli.test_serve_browser import page, shot  # noqa: F401  # the browser fixture
from pipeline.kit import write_script

from dataferry import (
    DataPath,
    Dataset,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
)
from dataferry.catalog.status import EventKind
from dataferry.execution import views

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

    from dataferry import Workspace
    from dataferry.execution.pipeline_run import PipelineRun

pytestmark = [pytest.mark.server, pytest.mark.slow]
WAIT_FOR = """
import pathlib, time
def wait_for(flag):
    while not pathlib.Path(flag).exists():
        time.sleep(0.05)
"""
MAKE = (
    WAIT_FOR
    + """
import sys
wait_for(sys.argv[2])
out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
(out / "rows.csv").write_text("x\\n1\\n")
"""
)
LOG = (
    WAIT_FOR
    + """
import sys
from dataferry import Run
run = Run.get_context()
wait_for(sys.argv[1])
for i in range({n}):
    run.log("loss", i)
run.log("final", 7)
wait_for(sys.argv[2])
"""
)
LOGGED = 3000  # values of "loss": a burst the events coalesce


def one_step(
    workspace: Workspace, tmp_path: Path, script: str, args: list[object]
) -> Pipeline:
    code = write_script(tmp_path / "code", "step.py", script)
    step = PythonScriptStep(
        "step.py",
        name="step",
        source_directory=str(code),
        arguments=args,
        allow_reuse=False,
    )
    return Pipeline(workspace, [step])


def finish(run: PipelineRun, *flags: Path) -> None:
    for flag in flags:
        flag.touch()
    run.wait_for_completion(show_output=False, timeout_seconds=120)


def test_a_version_registered_by_a_running_run_appears(
    workspace: Workspace,
    tmp_path: Path,
    page: Page,  # noqa: F811  # the fixture imported above
) -> None:
    flag = tmp_path / "go"
    out = OutputFileDatasetConfig("fresh").register_on_complete("fresh")
    run = one_step(workspace, tmp_path, MAKE, [out, str(flag)]).submit("live")
    try:
        for url in start_server(workspace, "127.0.0.1"):
            page.goto(f"{url}/#/datasets")
            page.wait_for_selector("#datasets")
            assert page.locator('#datasets a[href="#/dataset/fresh"]').count() == 0
            flag.touch()
            page.wait_for_selector(
                '#datasets a[href="#/dataset/fresh"]', timeout=60_000
            )
            row = page.locator('#datasets tr:has(a[href="#/dataset/fresh"]) td')
            assert row.all_text_contents()[:3] == ["fresh", "1", "File"]
            shot(page, tmp_path, "datasets-live")
            page.goto("about:blank")
    finally:
        finish(run, flag)
    assert run.get_status() == "Finished"


def test_a_new_version_joins_the_open_datasets_picker(
    workspace: Workspace,
    tmp_path: Path,
    page: Page,  # noqa: F811  # the fixture imported above
) -> None:
    store = workspace.get_default_datastore()
    with open(f"{store.location.root}/seed.csv", "w") as fh:
        fh.write("x\n0\n")
    Dataset.File.from_files(DataPath(store, "seed.csv")).register(workspace, "fresh")
    flag = tmp_path / "go"
    out = OutputFileDatasetConfig("fresh").register_on_complete("fresh")
    run = one_step(workspace, tmp_path, MAKE, [out, str(flag)]).submit("live")
    try:
        for url in start_server(workspace, "127.0.0.1"):
            page.goto(f"{url}/#/dataset/fresh")
            page.wait_for_selector("#lineage")
            assert "registered outside a run" in page.text_content("#lineage")
            flag.touch()
            page.wait_for_selector(
                '#version option[value="2"]', state="attached", timeout=60_000
            )
            options = page.locator("#version option").all_text_contents()
            assert options == ["version 1", "version 2"]
            assert page.input_value("#version") == "1"  # the version shown stays
            shot(page, tmp_path, "dataset-live")
            page.goto("about:blank")
    finally:
        finish(run, flag)


def test_metrics_logged_by_a_running_step_appear(
    workspace: Workspace,
    tmp_path: Path,
    page: Page,  # noqa: F811  # the fixture imported above
) -> None:
    start, end = tmp_path / "log", tmp_path / "end"
    script = LOG.format(n=LOGGED)
    run = one_step(workspace, tmp_path, script, [str(start), str(end)]).submit("live")
    try:
        for url in start_server(workspace, "127.0.0.1"):
            page.goto(f"{url}/#/run/{run.id}/metrics")
            page.wait_for_selector("text=This run logged no metrics.")
            start.touch()
            # the last of the burst too: the page reads again after the window
            chart = f'svg.chart[data-name="loss"]:has-text("loss (0…{LOGGED - 1})")'
            page.wait_for_selector(chart, timeout=60_000)
            assert page.text_content("#scalars tbody") == "final7"
            assert run.get_status() == "Running"  # shown while the step still runs
            shot(page, tmp_path, "metrics-live")
            page.goto("about:blank")
    finally:
        finish(run, start, end)
    events = views.events_since(workspace, run.id, 0)
    announced = [e for e in events if e.kind == EventKind.METRICS]
    # coalesced: a handful of events for 3,001 values, each naming its burst's first
    assert 1 <= len(announced) <= 20
    assert announced[0].payload == {"metric": "loss"}
