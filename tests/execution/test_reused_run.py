"""A run whose every step is reused is recorded whole by the local agent, in one
transaction, with no driver started (issue 8, item 6); any step that must run sends
the run to a driver as before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import run_pipeline, step, write_script

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog.run_store import RunStore
from dataferry.execution import views
from dataferry.execution.processes import marked_pid
from dataferry.execution.run_layout import run_dir

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.execution.pipeline_run import PipelineRun

COPY = """
import os, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
text = open(os.path.join(src, "data.txt")).read() if src != "-" else "seed"
with open(os.path.join(out, "data.txt"), "w") as fh:
    fh.write(text + "+")
"""


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


def chain(ws: Workspace, tmp_path: Path, length: int) -> Pipeline:
    """``length`` steps, each copying its upstream's output (the first writes one)."""
    code = write_script(tmp_path / "code", "copy.py", COPY)
    steps, previous = [], None
    for i in range(length):
        out = OutputFileDatasetConfig(f"o{i}")
        source: Any = "-" if previous is None else previous.as_input()
        steps.append(
            PythonScriptStep(
                "copy.py",
                name=f"s{i}",
                source_directory=str(code),
                arguments=[source, out],
            )
        )
        previous = out
    return Pipeline(ws, steps=steps)


def history(ws: Workspace, run: PipelineRun) -> list[tuple[str | None, str, Any]]:
    """(step, kind, payload) of each event, in order."""
    return [
        (e.step_name, e.kind, dict(e.payload)) for e in views.events_since(ws, run.id)
    ]


def no_driver(ws: Workspace, run: PipelineRun) -> bool:
    record = RunStore(ws.catalog).get_run(run.id)
    return record.driver_pid is None and marked_pid(run_dir(ws, run.id)) is None


@pytest.mark.slow
@pytest.mark.parametrize("length", [1, 3])
def test_a_fully_reused_run_has_no_driver_and_the_drivers_events(
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    length: int,
) -> None:
    pipeline = chain(workspace, tmp_path, length)
    first = run_pipeline(pipeline)
    assert first.get_status() == "Finished"
    monkeypatch.setenv("DATAFERRY_AGENT", "0")  # this process forks a driver
    by_driver = run_pipeline(pipeline)
    monkeypatch.delenv("DATAFERRY_AGENT")

    by_agent = run_pipeline(pipeline)

    assert by_agent.wait_for_completion(show_output=False) == "Finished"
    assert not no_driver(workspace, by_driver)
    assert no_driver(workspace, by_agent)
    assert history(workspace, by_agent) == history(workspace, by_driver)
    for i in range(length):
        mine, theirs = step(by_agent, f"s{i}"), step(by_driver, f"s{i}")
        assert mine.get_status() == "Finished"
        assert mine.get_details()["explanation"] == (
            f"reused from run {first.id} (step run {step(first, f's{i}').id})"
        )
        assert mine.get_details()["explanation"] == theirs.get_details()["explanation"]
    kinds = [k for _, k, _ in history(workspace, by_agent)]
    assert kinds == ["run_status", "run_status"] + [
        "step_status",
        "reuse",
        "step_status",
    ] * length + ["run_status"]


@pytest.mark.slow
def test_a_run_with_one_step_to_run_goes_to_a_driver(
    workspace: Workspace, tmp_path: Path
) -> None:
    pipeline = chain(workspace, tmp_path, 2)
    first = run_pipeline(pipeline)
    changed = chain(workspace, tmp_path / "other", 2)  # same steps, one more input
    (tmp_path / "other" / "code" / "extra.txt").write_text("x")

    second = run_pipeline(changed)

    assert first.get_status() == second.get_status() == "Finished"
    assert not no_driver(workspace, second)
    assert step(second, "s0").get_details()["explanation"].startswith("rerun:")
