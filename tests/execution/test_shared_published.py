"""A published pipeline of a shared workspace: its code snapshots go to the shared
default datastore when it is published, so another workspace folder on the same
catalog (standing in for another machine) submits it; gc keeps them while the published
pipeline exists. On a shared local folder on both databases; on PostgreSQL and
Azurite in test_two_folders.py."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from execution.shared_folders import two_folders
from pipeline.kit import write_script

from dataferry import (
    Experiment,
    Pipeline,
    PipelineEndpoint,
    PipelineParameter,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog import snapshot_holds
from dataferry.errors import SnapshotMissingError
from dataferry.execution.lifecycle import gc
from dataferry.execution.published import PublishedPipeline

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.slow

ECHO = """
import json, sys
json.dump(sys.argv[2:], open(sys.argv[1], "w"))
"""


@pytest.fixture
def pair(tmp_path: Path, catalog_url: str) -> Iterator[tuple[Workspace, Workspace]]:
    """Two workspace folders on one catalog, a shared folder as default datastore."""
    yield from two_folders(tmp_path, catalog_url)


def _echo(ws: Workspace, tmp_path: Path, word: str = "base") -> Pipeline:
    """One step writing its parameters' values to ``tmp_path/out.json``."""
    code = write_script(tmp_path / "code", "echo.py", ECHO)
    step = PythonScriptStep(
        "echo.py",
        source_directory=str(code),
        arguments=[
            str(tmp_path / "out.json"),
            PipelineParameter("count", default_value=3),
            word,
        ],
    )
    return Pipeline(ws, [step])


def _stored(ws: Workspace) -> list[str]:
    location = ws.get_default_datastore().location
    full = location.full_path("dataferry/snapshots")
    if not location.fs.isdir(full):
        return []
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in location.fs.ls(full))


def _local(ws: Workspace) -> list[str]:
    folder = ws.path / "snapshots"
    return (
        sorted(p.name for p in folder.iterdir() if p.is_dir())
        if folder.exists()
        else []
    )


def _finished(run: object, tmp_path: Path) -> list[str]:
    assert run.wait_for_completion(show_output=False) == "Finished"  # type: ignore[attr-defined]
    found: list[str] = json.loads((tmp_path / "out.json").read_text())
    return found


def test_one_folder_publishes_and_the_other_submits(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    published = _echo(first, tmp_path).publish("echo")
    (snap,) = _stored(first)
    assert _local(second) == []

    theirs = PublishedPipeline.get(second, published.id)
    run = theirs.submit(second, "pub", pipeline_parameters={"count": "7"})

    assert _finished(run, tmp_path) == ["7", "base"]
    assert _local(second) == [snap]  # fetched from the datastore by its hash


def test_gc_from_either_folder_keeps_a_published_pipelines_snapshot(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    published = _echo(first, tmp_path).publish("echo")
    named = snapshot_holds.referenced(first.catalog)
    assert _stored(first) == sorted(named)

    assert gc(second, older_than="0s").shared == []
    assert gc(first, older_than="0s").shared == []

    assert _stored(second) == sorted(named)
    run = published.submit(second, "pub")
    assert _finished(run, tmp_path) == ["3", "base"]


def test_an_endpoint_published_in_one_folder_is_submitted_from_the_other(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    PipelineEndpoint.publish(first, "ep", "d", _echo(first, tmp_path, "zero"))
    ep = PipelineEndpoint.get(first, name="ep")
    ep.add_default(_echo(first, tmp_path / "v1", "one"))

    run = PipelineEndpoint.get(second, name="ep").submit("pub", pipeline_version="0")

    assert _finished(run, tmp_path) == ["3", "zero"]
    later = PipelineEndpoint.get(second, name="ep").submit("pub")
    assert _finished(later, tmp_path / "v1") == ["3", "one"]


def test_a_run_of_one_folder_is_published_and_submitted_from_the_other(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    ran = Experiment(first, "e").submit(_echo(first, tmp_path, "ran"))
    assert _finished(ran, tmp_path) == ["3", "ran"]

    theirs = Experiment(second, "e").get_runs().__next__()
    published = theirs.publish_pipeline("from-run", "d", "1")
    run = published.submit(second, "pub", pipeline_parameters={"count": 9})

    assert _finished(run, tmp_path) == ["9", "ran"]


def test_a_snapshot_published_before_sharing_is_refused_elsewhere_until_stored(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    first.set_default_datastore("workspaceblobstore")  # not shared: kept here only
    published = _echo(first, tmp_path).publish("old")
    (snap,) = _local(first)
    first.set_default_datastore("team_store")
    assert _stored(first) == []

    with pytest.raises(
        SnapshotMissingError,
        match=rf"source snapshot 'snapshots/{snap}' is neither in this workspace "
        rf"folder \(.*\) nor on the shared default datastore "
        rf"\('dataferry/snapshots/{snap}'\); submit or publish from the workspace",
    ):
        published.submit(second, "pub")
    assert list(Experiment(second, "pub").get_runs()) == []  # nothing recorded

    mine = published.submit(first, "pub")  # stores it on the way
    assert _stored(first) == [snap]
    assert _finished(mine, tmp_path) == ["3", "base"]
    theirs = published.submit(second, "pub")
    assert _finished(theirs, tmp_path) == ["3", "base"]
