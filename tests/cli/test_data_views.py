"""The read model's dataset and metric views, and the same lineage through the Python
API and ``dataferry dataset lineage``: one real pipeline run in a SQLite workspace."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from cli.data_kit import PNG, scoring

from dataferry import Dataset, TabularDataset
from dataferry.errors import (
    DatasetNotFoundError,
    DatasetNotRegisteredError,
    DatasetPreviewError,
    InvalidVersionError,
    RunArgumentError,
    RunFileNotFoundError,
    RunNotFoundError,
)
from dataferry.execution import views

if TYPE_CHECKING:
    from pathlib import Path

    from cli.conftest import Invoke

    from dataferry import FileDataset, PipelineRun, Workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def scored(workspace: Workspace, tmp_path: Path, sales: TabularDataset) -> PipelineRun:
    run = scoring(workspace, tmp_path).submit("data")
    run.wait_for_completion(show_output=False, timeout_seconds=120)
    assert run.get_status() == "Finished"
    return run


def test_lineage_is_the_same_in_python_the_read_model_and_the_cli(
    workspace: Workspace, scored: PipelineRun, run: Invoke
) -> None:
    step = scored.find_step_run("score")[0]
    made = views.dataset_lineage(workspace, "scores")
    assert made.produced_by is not None
    assert (made.produced_by.run_id, made.produced_by.step_name) == (scored.id, "score")
    assert made.produced_by.step_run_id == step.id
    assert made.read_by == ()

    read = Dataset.get_by_name(workspace, "sales", version=2).get_lineage()
    assert read.produced_by is None
    assert [(r.run_id, r.step_name, r.input_name) for r in read.read_by] == [
        (scored.id, "score", "sales")
    ]
    assert read == views.dataset_lineage(workspace, "sales", 2)
    assert views.dataset_lineage(workspace, "sales", 1).read_by == ()

    shown = json.loads(run("dataset", "lineage", "sales", "--json").output)
    assert shown["read_by"][0]["run_id"] == scored.id
    assert shown["produced_by"] is None
    text = run("dataset", "lineage", "scores").output
    assert scored.id in text and "score" in text


def test_a_reusing_run_is_a_reader_too(
    workspace: Workspace, tmp_path: Path, sales: TabularDataset
) -> None:
    first = scoring(workspace, tmp_path, reuse=True).submit("data")
    first.wait_for_completion(show_output=False, timeout_seconds=120)
    second = scoring(workspace, tmp_path, reuse=True).submit("data")
    second.wait_for_completion(show_output=False, timeout_seconds=120)
    read = views.dataset_lineage(workspace, "sales")
    assert read.reading_runs == [first.id, second.id]
    assert read.read_by[1].reused_from == read.read_by[0].step_run_id


def test_lineage_refusals(
    workspace: Workspace, sales: TabularDataset, run: Invoke
) -> None:
    with pytest.raises(DatasetNotFoundError, match='name "nope"'):
        views.dataset_lineage(workspace, "nope")
    with pytest.raises(DatasetNotFoundError, match="The latest version is 2"):
        views.dataset_lineage(workspace, "sales", 7)
    with pytest.raises(InvalidVersionError, match="Invalid value 'x' for version"):
        views.dataset_lineage(workspace, "sales", "x")
    loose = sales.take(2)  # derived: not registered
    with pytest.raises(DatasetNotRegisteredError, match="needs a registered dataset"):
        loose.get_lineage()
    result = run("dataset", "lineage", "nope")
    assert result.exit_code == 3


def test_list_versions_schema_and_preview(
    workspace: Workspace, sales: TabularDataset, images: FileDataset
) -> None:
    listed = [
        (d.name, d.latest_version, d.kind) for d in views.list_datasets(workspace)
    ]
    assert listed == [("images", 1, "File"), ("sales", 2, "Tabular")]
    versions = views.dataset_versions(workspace, "sales")
    assert [(v.version, v.description) for v in versions] == [
        (1, "first day"),
        (2, "daily sales"),
    ]
    schema = views.dataset_schema(workspace, "sales")
    assert schema.columns == (("id", "int64"), ("value", "double"), ("label", "string"))
    files = views.dataset_schema(workspace, "images")
    assert (files.file_count, files.total_bytes, files.columns) == (3, 19, None)

    preview = views.dataset_preview(workspace, "sales", "latest", 3)
    assert preview["rows"] == [[0, 0.0, "item0"], [1, 0.5, "item1"], [2, 1.0, "item2"]]
    assert len(views.dataset_preview(workspace, "sales")["rows"]) == 8
    assert len(views.dataset_preview(workspace, "sales", 1)["rows"]) == 5


@pytest.mark.parametrize("rows", [0, -1, 1001, 10**9, True, 2.5])
def test_a_preview_of_a_bad_size_is_refused(
    workspace: Workspace, sales: TabularDataset, rows: object
) -> None:
    with pytest.raises(DatasetPreviewError, match="rows"):
        views.dataset_preview(workspace, "sales", "latest", rows)  # type: ignore[arg-type]


def test_a_file_dataset_has_no_preview_nor_profile(
    workspace: Workspace, images: FileDataset
) -> None:
    with pytest.raises(DatasetPreviewError, match="'images' version 1 is a file"):
        views.dataset_preview(workspace, "images")
    with pytest.raises(DatasetPreviewError, match="no columns to profile"):
        views.dataset_profile(workspace, "images")


def test_the_profile_is_cached_per_version(
    workspace: Workspace, sales: TabularDataset, store_root: Path
) -> None:
    first = views.dataset_profile(workspace, "sales")
    assert (first["rows"], first["cached"]) == (8, False)
    by_name = {c["name"]: c for c in first["columns"]}
    assert by_name["id"] == {
        "name": "id",
        "type": "int64",
        "count": 8,
        "nulls": 0,
        "min": 0,
        "max": 7,
        "top": [],
    }
    assert by_name["value"]["max"] == 3.5
    assert by_name["label"]["top"][0] == ["item0", 1]
    assert views.dataset_profile(workspace, "sales")["cached"] is True
    assert views.dataset_profile(workspace, "sales", 1)["rows"] == 5
    # new bytes under the same definition: a new profile, not the cached one
    (store_root / "sales" / "part2.csv").write_text("id,value,label\n9,,\n")
    again = views.dataset_profile(workspace, "sales")
    assert (again["rows"], again["cached"]) == (6, False)
    value = {c["name"]: c for c in again["columns"]}["value"]
    assert (value["nulls"], value["max"]) == (1, 2.0)


def test_metrics_grouped_by_shape(workspace: Workspace, scored: PipelineRun) -> None:
    step = scored.find_step_run("score")[0]
    (group,) = views.run_metrics(workspace, scored.id)
    assert (group["run_id"], group["step"]) == (step.id, "score")
    assert group["scalars"] == [{"name": "accuracy", "value": 0.875}]
    assert group["series"] == [
        {"name": "loss", "values": [0.9, 0.5, 0.25]},
        {"name": "recall", "values": [0.1, 0.4, 0.8]},
    ]
    assert group["tables"] == [
        {"name": "per class", "columns": {"label": ["a", "b"], "count": [3, 5]}},
        {"name": "thresholds", "columns": {"t": [0.1, 0.5], "f1": [0.4, 0.6]}},
    ]
    (image,) = group["images"]
    assert (image["name"], image["owner"], image["file"]) == (
        "curve",
        step.id,
        "curve.png",
    )
    path, media = views.metric_file(workspace, scored.id, step.id, "curve.png")
    assert (path.read_bytes(), media) == (PNG, "image/png")
    assert views.run_metrics(workspace, scored.id, "score") == [group]


def test_metric_file_path_checks(workspace: Workspace, scored: PipelineRun) -> None:
    step = scored.find_step_run("score")[0].id
    with pytest.raises(RunArgumentError, match="must be a relative path"):
        views.metric_file(workspace, scored.id, step, "../../catalog.db")
    with pytest.raises(RunArgumentError, match="must be a relative path"):
        views.metric_file(workspace, scored.id, step, "/etc/passwd")
    with pytest.raises(RunArgumentError, match="is not an image"):
        views.metric_file(workspace, scored.id, step, "outputs/x.svg")
    with pytest.raises(RunFileNotFoundError, match=r"no image file 'other\.png'"):
        views.metric_file(workspace, scored.id, step, "other.png")
    with pytest.raises(RunNotFoundError, match="is not run"):
        views.metric_file(workspace, scored.id, "someone-else", "curve.png")
    with pytest.raises(RunNotFoundError, match="has no step named 'nope'"):
        views.run_metrics(workspace, scored.id, "nope")
