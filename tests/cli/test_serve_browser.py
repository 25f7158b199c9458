"""The page of ``dataferry serve`` in a real browser: Playwright driving the Debian
Chromium (tests/servers/chromium.py). A screenshot of each view is written under the
test's tmp folder, its path printed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cli.page_kit import talk_and_wait
from cli.test_serve import start_server
from servers.chromium import ARGS, chromium

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Page

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]
ARTIFACTS = Path(
    os.environ.get("DATAFERRY_TEST_ARTIFACTS")
    or Path(__file__).parents[2] / ".artifacts" / "screenshots"
)
GREEN = "#66bb6a"  # COLOURS.Finished in cli/web/graph.js


@pytest.fixture
def page() -> Iterator[Page]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium()), args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1000, "height": 700})
        finally:
            browser.close()


def shot(page: Page, tmp_path: Path, name: str) -> None:
    """A full-page screenshot, in the test's tmp folder and kept as a CI artifact in
    ``$DATAFERRY_TEST_ARTIFACTS`` (default ``.artifacts/screenshots`` in the checkout,
    which outlives pytest's tmp folders)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    kept = ARTIFACTS / f"{name}.png"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, kept)
    print(f"screenshot: {kept}")


def step_box(page: Page, name: str, status: str) -> str:
    return f'g.step[data-name="{name}"][data-status="{status}"]'


def test_a_finished_runs_graph_and_a_steps_log(
    workspace: Workspace, tmp_path: Path, page: Page
) -> None:
    flag = tmp_path / "go"
    flag.touch()
    run = talk_and_wait(workspace, tmp_path, lines=200_000, flag=flag).submit("pages")
    run.wait_for_completion(show_output=False, timeout_seconds=120)
    for url in start_server(workspace, "127.0.0.1"):
        page.goto(f"{url}/#/")
        page.wait_for_selector(f'#runs a[href="#/run/{run.id}"]')
        shot(page, tmp_path, "runs")

        page.click(f'#runs a[href="#/run/{run.id}"]')
        page.wait_for_selector(step_box(page, "wait", "Finished"))
        assert page.locator('g.data:has-text("made")').count() == 1
        # a committed output shows its size ("made": 4 bytes)
        made = page.text_content('g.data:has-text("made") text.data-detail')
        assert made == "output: talk · 4 B"
        assert (
            page.get_attribute(f"{step_box(page, 'talk', 'Finished')} rect", "fill")
            == GREEN
        )
        shot(page, tmp_path, "graph")

        page.click(step_box(page, "talk", "Finished"))
        page.wait_for_function(
            "document.querySelector('#log')?.textContent.endsWith('line 199999 é\\n')"
        )
        # only the last page was loaded, not the whole log
        assert "line 0 é" not in page.text_content("#log")
        assert "of " in page.text_content("#log-info")
        shot(page, tmp_path, "log")

        # the whole log searched on the server: 1999, 19990-19999, 199900-199999
        page.fill("#log-search", "LINE 1999")
        page.press("#log-search", "Enter")
        page.wait_for_selector("#search-on")
        assert page.text_content("#match-count") == "100 line(s) so far"
        page.click("#search-on")
        page.wait_for_function(
            "document.querySelector('#match-count').textContent === '111 line(s)'"
        )
        page.click("#log-matches .match >> nth=0")
        page.wait_for_function(
            "document.querySelector('#log').textContent.startsWith('line 1999 é\\n')"
        )
        assert page.is_visible("#log-end")
        shot(page, tmp_path, "log-search")
        page.click("#log-end")  # back to the last page
        page.wait_for_function(
            "document.querySelector('#log')?.textContent.endsWith('line 199999 é\\n')"
        )
        page.goto("about:blank")  # closes the page's event stream: the server can stop


def test_a_step_turns_green_live(
    workspace: Workspace, tmp_path: Path, page: Page
) -> None:
    flag = tmp_path / "go"
    run = talk_and_wait(workspace, tmp_path, lines=3, flag=flag).submit("pages")
    try:
        for url in start_server(workspace, "127.0.0.1"):
            page.goto(f"{url}/#/run/{run.id}")
            page.wait_for_selector(step_box(page, "wait", "Running"), timeout=60_000)
            shot(page, tmp_path, "running")
            flag.touch()
            page.wait_for_selector(step_box(page, "wait", "Finished"), timeout=60_000)
            box = f"{step_box(page, 'wait', 'Finished')} rect"
            assert page.get_attribute(box, "fill") == GREEN
            shot(page, tmp_path, "finished")
            page.goto("about:blank")
    finally:
        flag.touch()
        run.wait_for_completion(show_output=False, timeout_seconds=120)


def test_every_step_shows_its_reuse_decision_and_reason(
    workspace: Workspace, tmp_path: Path, page: Page
) -> None:
    from execution.test_published import echo_pipeline

    from dataferry import Experiment

    pipeline = echo_pipeline(workspace, tmp_path)
    runs = []
    for label in ("base", "base", "other"):  # first run, reused, rerun
        run = Experiment(workspace, "why").submit(
            pipeline, pipeline_parameters={"label": label}
        )
        run.wait_for_completion(show_output=False, timeout_seconds=120)
        runs.append(run)
    step = step_box(page, "echo.py", "Finished")
    expected = [
        "run: first run of this step, nothing to reuse",
        f"reused from run {runs[0].id}",
        "rerun: ",
    ]
    for url in start_server(workspace, "127.0.0.1"):
        for run, reason in zip(runs, expected, strict=True):
            page.goto(f"{url}/#/run/{run.id}")
            page.wait_for_selector(step)
            assert reason in (page.text_content(f"{step} title") or "")
        assert "label" in (page.text_content(f"{step} title") or "")
        shot(page, tmp_path, "reuse-reasons")
        page.goto("about:blank")


def test_an_unknown_steps_log_is_one_refusal_not_a_poll(
    workspace: Workspace, tmp_path: Path, page: Page
) -> None:
    from execution.test_published import echo_pipeline

    from dataferry import Experiment

    run = Experiment(workspace, "why").submit(echo_pipeline(workspace, tmp_path))
    run.wait_for_completion(show_output=False, timeout_seconds=120)
    asked: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/steps/" in r.url else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    for url in start_server(workspace, "127.0.0.1"):
        page.goto(f"{url}/#/run/{run.id}/step/nope")
        page.wait_for_selector("p.error")
        assert "has no step 'nope'; its steps are echo.py" in (
            page.text_content("p.error") or ""
        )
        page.wait_for_timeout(3000)  # three polls' time
        assert len(asked) == 1, asked
        assert errors == []
        page.goto("about:blank")


def test_a_refused_runs_search_is_said_and_cleared(
    workspace: Workspace, tmp_path: Path, page: Page
) -> None:
    from execution.test_published import echo_pipeline

    from dataferry import Experiment

    run = Experiment(workspace, "why").submit(echo_pipeline(workspace, tmp_path))
    run.wait_for_completion(show_output=False, timeout_seconds=120)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for url in start_server(workspace, "127.0.0.1"):
        page.goto(f"{url}/#/")
        page.wait_for_selector(f'#runs a[href="#/run/{run.id}"]')
        page.fill("#search", "x" * 201)
        page.wait_for_function(
            "document.querySelector('#runs-error').textContent.includes("
            "'the search text is 201 characters; pass at most 200.')"
        )
        assert page.locator("#runs tr.run").count() == 1  # the rows left as they were
        page.fill("#search", "nomatch")
        page.wait_for_function(
            "document.querySelector('#runs-error').textContent === ''"
        )
        page.wait_for_function("document.querySelectorAll('#runs tr.run').length === 0")
        assert errors == []
        page.goto("about:blank")
