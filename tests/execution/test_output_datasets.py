"""``get_details()['outputDatasets']`` in the SDK's shape for step runs (running,
finished, reused) and script runs, through real step processes and a real catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from dataferry import (
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PythonScriptStep,
    ScriptRunConfig,
)

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

WRITE = """\
import json, os, sys
from dataferry import Run

for folder in sys.argv[1:]:
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, "part.csv"), "w").write("a\\n1\\n")
details = Run.get_context().get_details()
print("inside:", json.dumps(details["outputDatasets"]))
"""


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "steps"
    folder.mkdir()
    (folder / "write.py").write_text(WRITE)
    return folder


def _summary(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            e["outputType"],
            e["outputDetails"]["outputName"],
            e["identifier"].get("registeredVersion"),
            type(e["dataset"]).__name__,
            e["dataset"].to_path(),
        )
        for e in entries
    ]


@pytest.mark.slow
def test_step_runs_list_their_outputs_registered_or_not(
    workspace: Workspace, source: Path
) -> None:
    cleaned = OutputFileDatasetConfig(name="cleaned").register_on_complete("cleaned")
    scratch = PipelineData("scratch")
    step = PythonScriptStep(
        name="write",
        script_name="write.py",
        source_directory=str(source),
        arguments=[cleaned, scratch],
        outputs=[scratch],
        allow_reuse=True,
    )
    experiment = Experiment(workspace, "outs")
    first = experiment.submit(Pipeline(workspace, steps=[step]))
    first.wait_for_completion(show_output=False)
    (ran,) = first.get_steps()

    details = ran.get_details()
    assert sorted(_summary(details["outputDatasets"])) == [
        ("RunOutput", "cleaned", "1", "FileDataset", ["/part.csv"]),
        ("RunOutput", "scratch", None, "FileDataset", ["/part.csv"]),
    ]
    registered = next(
        e
        for e in details["outputDatasets"]
        if e["outputDetails"]["outputName"] == "cleaned"
    )
    assert registered["identifier"]["registeredId"] == registered["dataset"].id
    assert set(registered["identifier"]) == {
        "datastore",
        "path",
        "registeredId",
        "registeredVersion",
    }
    # inside the running step nothing is committed yet
    assert "inside: []" in ran.get_stdout_log()

    second = experiment.submit(Pipeline(workspace, steps=[step]))
    second.wait_for_completion(show_output=False)
    (reused,) = second.get_steps()
    assert reused.get_details()["reusedFrom"] == ran.id
    assert _summary(reused.get_details()["outputDatasets"]) == _summary(
        details["outputDatasets"]
    )


@pytest.mark.slow
def test_a_script_run_lists_a_registered_output(
    workspace: Workspace, source: Path
) -> None:
    out = OutputFileDatasetConfig(name="scores").register_on_complete("scores")
    run = Experiment(workspace, "outs").submit(
        ScriptRunConfig(
            source_directory=str(source), script="write.py", arguments=[out]
        )
    )
    details = run.wait_for_completion()

    assert _summary(details["outputDatasets"]) == [
        ("RunOutput", "scores", "1", "FileDataset", ["/part.csv"])
    ]
