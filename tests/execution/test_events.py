"""Every transition of a real run, in order, in the ``events`` table; and a crash at
any write of a step's commit leaves the whole commit or none of it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import WAIT_S, run_pipeline, step, write_script

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.step_commit import CRASH_ENV
from dataferry.cli import app
from dataferry.execution import views
from dataferry.execution.resume import is_orphaned, resume_run

if TYPE_CHECKING:
    from pathlib import Path

    from click.testing import CliRunner

    from dataferry.execution.pipeline_run import PipelineRun

SCRIPT = """
import os, sys
out, attempts = sys.argv[1:3]
with open(attempts, "a") as fh:
    fh.write("w\\n")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "data.txt"), "w") as fh:
    fh.write("payload")
"""
DATASET = "evented"


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


def build(ws: Workspace, tmp_path: Path) -> tuple[Pipeline, Path]:
    """One step ``w`` with a registered output; it appends to an attempts file."""
    code = write_script(tmp_path / "code", "w.py", SCRIPT)
    attempts = tmp_path / "attempts.txt"
    out = OutputFileDatasetConfig("out").register_on_complete(DATASET)
    w = PythonScriptStep(
        "w.py", name="w", source_directory=str(code), arguments=[out, str(attempts)]
    )
    return Pipeline(ws, steps=[w]), attempts


def history(ws: Workspace, run: PipelineRun) -> list[tuple[str | None, str, Any]]:
    """(step, kind, what) of each event; a status change as 'From->To'."""
    found = []
    for e in views.events_since(ws, run.id):
        p = dict(e.payload)
        what = f"{p['from']}->{p['to']}" if "to" in p else p
        found.append((e.step_name, e.kind, what))
    return found


class TestEventsOfARealRun:
    def test_every_transition_in_order(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        pipeline, _ = build(workspace, tmp_path)

        run = run_pipeline(pipeline)

        w = step(run, "w")
        # a stage is shown only once it lasts (stage_board): on a loaded machine a
        # "preparing" event may come; the transitions' order must not depend on it
        found = [f for f in history(workspace, run) if f[1] != "preparing"]
        assert found[0][:2] == (None, "run_status")
        assert found[0][2] == "None->NotStarted"
        (reuse,) = [f for f in found if f[1] == "reuse"]
        assert reuse[2]["reuse"] is False
        output = {"output": "out", "datastore": "workspaceblobstore"}
        assert found[1:] == [
            (None, "run_status", "NotStarted->Running"),
            ("w", "step_status", "NotStarted->Preparing"),
            reuse,
            ("w", "step_status", "Preparing->Running"),
            ("w", "output_committed", output | {"path": f"dataset/{w.id}/out"}),
            ("w", "registered", {"dataset": DATASET, "version": 1, "output": "out"}),
            ("w", "step_status", "Running->Finished"),
            (None, "run_status", "Running->Finished"),
        ]
        ids = [e.id for e in views.events_since(workspace, run.id)]
        assert ids == sorted(ids)

    def test_a_reused_step_moves_from_preparing_to_finished(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        pipeline, _ = build(workspace, tmp_path)
        first = run_pipeline(pipeline)

        second = run_pipeline(pipeline)

        steps = [f for f in history(workspace, second) if f[0] == "w"]
        assert steps[0] == ("w", "step_status", "NotStarted->Preparing")
        reuse = steps[1]
        assert reuse[1] == "reuse"
        assert reuse[2]["reuse"] is True
        assert reuse[2]["reused_from"] == step(first, "w").id
        assert steps[2:] == [("w", "step_status", "Preparing->Finished")]

    def test_the_preparing_event_has_the_time_the_step_began(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        """A quick preparation is recorded with the move that ends it, a slow one (a
        loaded machine) once it lasts: either way its Preparing event has the time the
        preparation began, which is the step's start, before its reuse decision."""
        pipeline, _ = build(workspace, tmp_path)
        first = run_pipeline(pipeline)
        second = run_pipeline(pipeline)

        for run, ends in (
            (first, "Preparing->Running"),
            (second, "Preparing->Finished"),
        ):
            w = RunStore(workspace.catalog).get_step_run(step(run, "w").id)
            mine = [
                e
                for e in views.events_since(workspace, run.id)
                if e.step_name and e.kind != "preparing"  # stages shown if slow
            ]
            assert [e.kind for e in mine[:3]] == ["step_status", "reuse", "step_status"]
            began, decided, ended = mine[:3]
            assert dict(began.payload) == {
                "from": "NotStarted",
                "to": "Preparing",
                "doing": "fingerprinting",
            }
            assert f"{ended.payload['from']}->{ended.payload['to']}" == ends
            assert began.time <= decided.time <= ended.time
            if run is first:  # a reused step shows no time of its own
                assert began.time == w.started_at

    def test_the_cli_prints_them_and_reads_on_after_an_id(
        self, workspace: Workspace, tmp_path: Path, cli: CliRunner
    ) -> None:
        run = run_pipeline(build(workspace, tmp_path)[0])
        events = views.events_since(workspace, run.id)
        project = str(workspace.path.parent)

        all_lines = cli.invoke(app, ["-w", project, "runs", "events", run.id]).output
        after = cli.invoke(
            app,
            ["-w", project, "runs", "events", run.id, "--after", str(events[-3].id)],
        ).output

        lines = all_lines.splitlines()
        assert len(lines) == len(events)
        assert lines[0].startswith(f"{events[0].id} ")
        assert lines[0].endswith(' - run_status (created) -> NotStarted {"steps": 1}')
        assert lines[-1].endswith(" - run_status Running -> Finished")
        assert after.splitlines() == lines[-2:]

    def test_unknown_run_and_bad_cursor(self, workspace: Workspace) -> None:
        from dataferry.errors import EventCursorError, RunNotFoundError

        with pytest.raises(RunNotFoundError, match=r"no run with id 'nope'"):
            views.events_since(workspace, "nope")
        with pytest.raises(EventCursorError, match=r"events after id -1: pass 0"):
            views.events_since(workspace, "nope", -1)


@pytest.fixture
def cli() -> CliRunner:
    from click.testing import CliRunner

    return CliRunner(env={"COLUMNS": "200"})


@pytest.mark.slow
class TestCrashInsideTheCommit:
    def test_a_crash_after_any_write_leaves_all_or_nothing(
        self,
        workspace: Workspace,
        store_root: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """For k = 1, 2, ...: the driver exits after the k-th write of ``w``'s commit
        (the last k: after the transaction). Until a k that no longer crashes."""
        store = RunStore(workspace.catalog)
        crashed_at = []
        for k in range(1, 40):
            pipeline, attempts = build(workspace, tmp_path / f"k{k}")
            monkeypatch.setenv(CRASH_ENV, str(k))
            run = pipeline.submit("crash", regenerate_outputs=True)
            status = _end_or_crash(workspace, run)
            monkeypatch.delenv(CRASH_ENV)
            if status is not None:  # k is past the last write: nothing crashed
                assert status == "Finished"
                break
            crashed_at.append(k)
            w = step(run, "w")
            record = store.get_step_run(w.id)
            versions_before = len(workspace.catalog.list_versions(DATASET))
            kinds = [e.kind for e in store.events_since(run.id)]
            if record.status == "Finished":  # the whole commit
                assert len(store.outputs_of(w.id)) == 1
                assert kinds[-2:] == ["registered", "step_status"]
                assert store.leases_of_run(run.id) == []
                assert workspace.catalog.versions_by_producer(w.id) != []
            else:  # none of it
                assert record.status == "Running"
                assert store.outputs_of(w.id) == []
                assert "output_committed" not in kinds
                assert "registered" not in kinds
                assert [lease.step_run_id for lease in store.leases_of_run(run.id)] == [
                    w.id
                ]
                assert workspace.catalog.versions_by_producer(w.id) == []

            resume_run(workspace, run.id)
            assert _finish(run) == "Finished", run.get_details()

            # resume kept the step iff it was Finished, else ran it again, once
            ran = attempts.read_text().split()
            assert ran == (["w"] if record.status == "Finished" else ["w", "w"])
            assert len(store.outputs_of(w.id)) == 1
            (version,) = workspace.catalog.versions_by_producer(w.id)
            assert version.producer_output == "out"
            assert len(workspace.catalog.list_versions(DATASET)) == (
                versions_before + (record.status != "Finished")
            )
            files = sorted(p.name for p in (store_root / "dataset" / w.id).rglob("*"))
            assert files == ["data.txt", "out"]
            assert store.leases_of_run(run.id) == []
        # outputs (2 per output), lineage, dataset, version, event, lease, status, after
        assert crashed_at == list(range(1, 10))


def _end_or_crash(ws: Workspace, run: PipelineRun) -> str | None:
    """The run's final status, or None once its driver died without ending it."""
    store = RunStore(ws.catalog)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        record = store.get_run(run.id)
        if record.status in views.TERMINAL:
            return record.status
        if is_orphaned(record, ws):
            return None
        time.sleep(0.05)
    pytest.fail(f"run {run.id} neither ended nor crashed within {WAIT_S} s")


def _finish(run: PipelineRun) -> str:
    return run.wait_for_completion(
        show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
    )
