"""The data views of ``dataferry serve`` over real HTTP and in a real browser:
datasets (list, versions, schema, preview, profile, lineage) and a run's metrics
with its image, and every refusal as a typed 4xx in the SDK's error shape."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from cli.data_kit import PNG, scoring
from cli.test_serve import start_server
from cli.test_serve_browser import page, shot  # noqa: F401  # the browser fixture
from cli.test_serve_refusals import refused

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import Page

    from dataferry import FileDataset, TabularDataset, Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture
def served(
    workspace: Workspace, tmp_path: Path, sales: TabularDataset, images: FileDataset
) -> Iterator[tuple[str, str, str]]:
    """(server url, id of a finished scoring run, its step run id)."""
    run = scoring(workspace, tmp_path).submit("data")
    run.wait_for_completion(show_output=False, timeout_seconds=120)
    assert run.get_status() == "Finished"
    step = run.find_step_run("score")[0].id
    for url in start_server(workspace, "127.0.0.1"):
        yield url, run.id, step


def test_the_data_routes(served: tuple[str, str, str]) -> None:
    url, run_id, step = served
    get = lambda path: requests.get(f"{url}{path}", timeout=60)  # noqa: E731
    listed = [
        (d["name"], d["latest_version"], d["kind"]) for d in get("/api/datasets").json()
    ]
    assert listed == [
        ("images", 1, "File"),
        ("sales", 2, "Tabular"),
        ("scores", 1, "Tabular"),
    ]
    assert [v["version"] for v in get("/api/datasets/sales/versions").json()] == [1, 2]
    assert get("/api/datasets/sales/schema?version=1").json()["columns"] == [
        ["id", "int64"],
        ["value", "double"],
        ["label", "string"],
    ]
    assert get("/api/datasets/images/schema").json()["file_count"] == 3
    preview = get("/api/datasets/sales/preview?rows=2").json()
    assert preview["rows"] == [[0, 0.0, "item0"], [1, 0.5, "item1"]]
    profile = get("/api/datasets/sales/profile").json()
    assert (profile["rows"], profile["columns"][0]["max"]) == (8, 7)
    assert get("/api/datasets/sales/profile").json()["cached"] is True
    lineage = get("/api/datasets/scores/lineage").json()
    assert lineage["produced_by"]["run_id"] == run_id
    assert get("/api/datasets/sales/lineage").json()["read_by"][0]["run_id"] == run_id

    (group,) = get(f"/api/runs/{run_id}/metrics").json()
    assert group["scalars"] == [{"name": "accuracy", "value": 0.875}]
    image = get(f"/api/runs/{run_id}/files/{step}/curve.png")
    assert (image.content, image.headers["content-type"]) == (PNG, "image/png")
    assert image.headers["x-content-type-options"] == "nosniff"


def test_the_data_routes_refuse_bad_input(served: tuple[str, str, str]) -> None:
    url, run_id, step = served
    get = lambda path: requests.get(f"{url}{path}", timeout=60)  # noqa: E731
    for rows in ("0", "1001", "abc", "-5", "1e3"):
        refused(
            get(f"/api/datasets/sales/preview?rows={rows}"), 400, "UserError", "rows"
        )
    refused(get("/api/datasets/images/preview"), 400, "UserError", "is a file dataset")
    refused(get("/api/datasets/images/profile"), 400, "UserError", "no columns")
    refused(get("/api/datasets/nope/schema"), 404, "NotFound", 'name "nope"')
    refused(
        get("/api/datasets/sales/lineage?version=9"),
        404,
        "NotFound",
        "latest version is 2",
    )
    refused(
        get("/api/datasets/sales/preview?version=x"), 400, "UserError", "Invalid value"
    )
    refused(
        get(f"/api/runs/{run_id}/metrics?step=nope"), 404, "NotFound", "no step named"
    )
    refused(get("/api/runs/nope/metrics"), 404, "NotFound", "nope")
    files = f"/api/runs/{run_id}/files"
    refused(
        get(f"{files}/{step}/..%2F..%2Fcatalog.db"), 400, "UserError", "relative path"
    )
    refused(get(f"{files}/{step}/outputs/x.svg"), 400, "UserError", "is not an image")
    refused(get(f"{files}/{step}/missing.png"), 404, "NotFound", "no image file")
    refused(get(f"{files}/other/curve.png"), 404, "NotFound", "is not run")


def test_the_page_shows_a_dataset_and_a_runs_metrics(
    served: tuple[str, str, str],
    page: Page,  # noqa: F811  # the fixture imported above
    tmp_path: Path,
) -> None:
    url, run_id, _ = served
    page.goto(f"{url}/#/datasets")
    page.wait_for_selector('#datasets a[href="#/dataset/sales"]')
    shot(page, tmp_path, "datasets")
    page.click('#datasets a[href="#/dataset/sales"]')
    page.wait_for_selector("#preview tbody tr")
    assert page.locator("#preview tbody tr").count() == 8
    assert page.text_content("#preview tbody tr:first-child") == "00item0"
    assert page.locator(f'#readers a[href="#/run/{run_id}"]').count() == 1
    page.click("#profile")
    page.wait_for_selector("#profile-table tbody tr")
    assert "item0 (1)" in page.text_content("#profile-table")
    shot(page, tmp_path, "dataset")

    page.goto(f"{url}/#/dataset/scores/1")
    page.wait_for_selector(f'#lineage a[href="#/run/{run_id}"]')
    page.click(f'#lineage a[href="#/run/{run_id}"]')
    page.wait_for_selector("#metrics-link")
    page.click("#metrics-link")
    page.wait_for_selector('svg.chart[data-name="loss"] polyline')
    points = page.get_attribute('svg.chart[data-name="loss"] polyline', "points")
    assert points is not None and len(points.split()) == 3
    assert "0.875" in page.text_content("#scalars")
    page.wait_for_function(
        "document.querySelector('img.metric-image')?.naturalWidth === 1"
    )
    shot(page, tmp_path, "metrics")
    page.goto("about:blank")
