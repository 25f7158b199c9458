"""The page's timeline, compare, search, big-graph and sign-in views in a real
browser (Playwright driving the Debian Chromium). A screenshot of each view is
written under the test's tmp folder, its path printed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cli.big_run import recorded_run
from cli.compare_kit import two_runs
from cli.test_serve import start_server
from cli.test_serve_browser import page, shot  # noqa: F401  # the browser fixture

from dataferry.data.authentication import workspace_token

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]
# counts the Web Workers the page starts (the layout worker above 50 nodes)
COUNT_WORKERS = """
window.workersStarted = 0;
const Real = window.Worker;
window.Worker = class extends Real {
  constructor(...args) { super(...args); window.workersStarted += 1; }
};
"""


def test_search_compare_and_timeline(
    workspace: Workspace,
    tmp_path: Path,
    page: Page,  # noqa: F811  # the fixture imported above
) -> None:
    first, second = two_runs(workspace, tmp_path)
    for url in start_server(workspace, "127.0.0.1"):
        page.goto(f"{url}/#/")
        page.wait_for_selector("#runs tr.run >> nth=1")
        page.fill("#search", second.id)
        page.wait_for_function("document.querySelectorAll('#runs tr.run').length === 1")
        assert page.text_content("#runs tr.run").startswith(second.id)
        page.fill("#search", "")
        page.wait_for_function("document.querySelectorAll('#runs tr.run').length === 2")
        shot(page, tmp_path, "runs-search")

        page.check(f'input.pick[value="{first.id}"]')
        page.check(f'input.pick[value="{second.id}"]')
        page.click("#compare")
        page.wait_for_selector("#compare-steps")
        assert page.get_attribute("#compare-steps tbody tr >> nth=2", "class") == (
            "change-added"
        )
        assert "source file score.py changed" in page.text_content("#compare-steps")
        assert page.text_content("#compare-parameters tbody") == "factor12"
        assert page.text_content("#compare-inputs tbody") == "score/numsnums:1nums:2"
        assert page.text_content("#compare-files tbody") == (
            "scorehelper.pyaddedscorescore.pychanged"
        )
        assert "score/rows23" in page.text_content("#compare-metrics tbody")
        shot(page, tmp_path, "compare")

        page.goto(f"{url}/#/run/{second.id}/timeline")
        page.wait_for_selector("#timeline g.timeline-step >> nth=2")
        keep = 'g.timeline-step[data-name="keep"]'
        assert page.get_attribute(keep, "data-reused") == "true"
        score = 'g.timeline-step[data-name="score"] rect.segment'
        statuses = [
            page.get_attribute(f"{score} >> nth={i}", "data-status") for i in range(3)
        ]
        assert statuses == ["Preparing", "Running", "Finished"]
        shot(page, tmp_path, "timeline")
        page.goto("about:blank")


def test_big_graphs_use_a_worker_then_a_table(
    workspace: Workspace,
    tmp_path: Path,
    page: Page,  # noqa: F811  # the fixture imported above
) -> None:
    mid = recorded_run(workspace, tmp_path, 40)  # ~80 nodes: laid out by the worker
    big = recorded_run(workspace, tmp_path, 260)  # ~520 nodes: a table first
    page.add_init_script(COUNT_WORKERS)
    for url in start_server(workspace, "127.0.0.1"):
        page.goto(f"{url}/#/run/{mid}")
        page.wait_for_selector("#graph g.step >> nth=39")
        assert page.locator("#graph g.step").count() == 40
        assert page.evaluate("window.workersStarted") == 1
        assert page.is_hidden("#graph-toggle")
        shot(page, tmp_path, "graph-worker")

        page.goto(f"{url}/#/run/{big}")
        page.wait_for_selector("#step-table tr.step-row >> nth=259")
        assert page.locator("#graph").count() == 0
        assert page.text_content("#graph-toggle") == "Show graph"
        row = page.locator('#step-table tr[data-name="s7"] td')
        assert row.all_text_contents() == ["s7", "NotStarted", "", ""]
        shot(page, tmp_path, "graph-table")
        page.click("#graph-toggle")
        page.wait_for_selector("#graph g.step >> nth=259", state="attached")
        assert page.text_content("#graph-toggle") == "Show table"
        page.goto("about:blank")


def test_signing_in_off_loopback_then_live(
    workspace: Workspace,
    tmp_path: Path,
    page: Page,  # noqa: F811  # the fixture imported above
) -> None:
    token = workspace_token(workspace)
    for url in start_server(workspace, "127.0.0.2"):
        page.goto(f"{url}/")
        page.wait_for_selector("#login-message")
        shot(page, tmp_path, "sign-in")
        page.fill("#token", token)
        page.click("#sign-in")
        page.wait_for_selector("#runs")
        page.wait_for_selector("#live.on")  # the EventSource passed on its cookie
        assert page.url == f"{url}/"
        page.goto(f"{url}/?token={token}")  # the address form, once
        page.wait_for_selector("#live.on")
        assert page.url == f"{url}/"  # the token left the address bar
        page.goto("about:blank")
