"""``Run.get_context()``: offline outside a step, the step run inside one; metrics."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import report, run_pipeline, step, write_script

from dataferry import (
    DataPath,
    Dataset,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Run,
)
from dataferry.execution import RunEnvironmentException
from dataferry.execution.metrics import metrics_dict
from dataferry.execution.run_context import CONTEXT_ENV

if TYPE_CHECKING:
    from dataferry import Datastore, Workspace


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.delenv(CONTEXT_ENV, raising=False)
    return Run.get_context()


class TestOffline:
    def test_id_and_missing_attributes(self, offline: Run) -> None:
        assert offline.id.startswith("OfflineRun_")
        assert Run.get_context().id != offline.id
        for name in ("experiment", "input_datasets", "output_datasets", "parent"):
            with pytest.raises(AttributeError, match=name):
                getattr(offline, name)

    def test_logging_prints(
        self, offline: Run, capsys: pytest.CaptureFixture[str]
    ) -> None:
        offline.log("accuracy", 0.9)
        offline.log_list("losses", [3, 2])
        offline.log_row("row", a=1)
        offline.log_table("table", {"a": [1, 2]})

        assert capsys.readouterr().out == (
            "Attempted to log scalar metric accuracy:\n0.9\n"
            "Attempted to log list metric losses:\n[3, 2]\n"
            "Attempted to log row metric row:\n{'a': 1}\n"
            "Attempted to log table metric table:\n{'a': [1, 2]}\n"
        )

    def test_log_has_no_step_parameter(self, offline: Run) -> None:
        with pytest.raises(TypeError, match="unexpected keyword argument 'step'"):
            offline.log("accuracy", 0.9, step=1)  # type: ignore[call-arg]

    def test_child_run_and_no_op_status_calls(
        self, offline: Run, capsys: pytest.CaptureFixture[str]
    ) -> None:
        child = offline.child_run("part")

        assert child.id == f"{offline.id}.part"
        offline.complete()
        offline.cancel()
        offline.fail("why")
        assert (
            capsys.readouterr().out
            == f"Attempted to fail offline run {offline.id}: why\n"
        )

    def test_not_allowed_offline(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(CONTEXT_ENV, raising=False)

        with pytest.raises(
            RunEnvironmentException, match="outside a dataferry step run"
        ):
            Run.get_context(allow_offline=False)


INSIDE = """
import json, sys
from dataferry import Run
from dataferry.errors import DataferryError

run = Run.get_context()
seen = {
    "same": Run.get_context(allow_offline=False) is run,
    "id": run.id,
    "parent": run.parent.id,
    "parent_status": run.parent.get_status(),
    "status": run.get_status(),
    "experiment": run.experiment.name,
    "workspace": run.experiment.workspace.name,
    "inputs": {k: (v if isinstance(v, str) else type(v).__name__)
               for k, v in run.input_datasets.items()},
    "outputs": dict(run.output_datasets),
    "errors": [],
}
run.log("accuracy", 0.5)
run.log("accuracy", 0.75, description="twice")
run.log("epochs", 3)
run.log("stepped", 1.0, step=0)
run.log_list("losses", [3.0, 2.0, 1.0])
run.log_list("single", [7])
run.log_row("one_row", a=1, b="x")
run.log_row("rows", a=1, b=2)
run.log_row("rows", a=3, b=4)
run.log_table("table", {"c": [1, 2], "d": ["p", "q"]})
run.log_table("one_table", {"c": [1], "d": 5})
for call in (
    lambda: run.log("bad", [1, 2]),
    lambda: run.log("bad", range(3)),
    lambda: run.log_row("bad", a=[1]),
    lambda: run.log_table("bad", {"a": [1, 2], "b": [1]}),
):
    try:
        call()
    except DataferryError as exc:
        seen["errors"].append(str(exc))
seen["metrics_inside"] = run.get_metrics(name="accuracy")
run.complete()
run.fail("ignored")
run.cancel()
with open(sys.argv[1], "w") as fh:
    json.dump(seen, fh)
"""


@pytest.mark.slow
class TestInsideAStep:
    def test_context_and_metrics(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
        tmp_path: Path,
    ) -> None:
        (store_root / "in.txt").write_text("x")
        files = Dataset.File.from_files(DataPath(blobstore, "in.txt"))
        code = write_script(tmp_path / "code", "inside.py", INSIDE)
        out = OutputFileDatasetConfig(name="result")
        s = PythonScriptStep(
            "inside.py",
            name="inside",
            source_directory=str(code),
            arguments=[str(tmp_path / "seen.json"), out],
            inputs=[
                files.as_named_input("direct"),
                files.as_named_input("mounted").as_mount(),
            ],
        )

        run = run_pipeline(Pipeline(workspace, [s]), experiment="ctx")

        inside = step(run, "inside")
        assert run.get_status() == "Finished", inside.get_job_log()
        seen = report(tmp_path / "seen.json")
        assert seen["same"] is True
        assert (seen["id"], seen["parent"]) == (inside.id, run.id)
        assert (seen["status"], seen["parent_status"]) == ("Running", "Running")
        assert (seen["experiment"], seen["workspace"]) == ("ctx", "test-ws")
        log_dir = Path(inside.get_details()["logFiles"]["stdout.txt"]).parent
        assert seen["inputs"] == {
            "direct": "FileDataset",
            "mounted": f"{log_dir}/inputs/mounted/in.txt",
        }
        assert list(seen["outputs"]) == ["result"]
        assert seen["errors"] == [
            "run.log does not support list type ('bad'). Use run.log_list instead",
            "run.log does not support list type ('bad'). Use run.log_list instead",
            "log_row: column 'a' must be a scalar, not list",
            "log_table 'bad': columns have different lengths [1, 2]",
        ]
        assert seen["metrics_inside"] == {"accuracy": [0.5, 0.75]}
        # the shapes of the original SDK (B.13)
        assert inside.get_metrics() == {
            "accuracy": [0.5, 0.75],
            "epochs": 3,
            "stepped": 1.0,
            "losses": [3.0, 2.0, 1.0],
            "single": 7,
            "one_row": {"a": 1, "b": "x"},
            "rows": {"a": [1, 3], "b": [2, 4]},
            "table": {"c": [1, 2], "d": ["p", "q"]},
            "one_table": {"c": 1, "d": 5},
        }
        assert inside.get_metrics(name="epochs") == {"epochs": 3}
        assert inside.get_metrics(name="missing") == {}
        assert run.get_metrics() == {}
        assert run.get_metrics(recursive=True) == {inside.id: inside.get_metrics()}


class TestMetricShapes:
    """The shapes without a pipeline, on catalog records."""

    @staticmethod
    def records(*entries: tuple[str, str, object]) -> list[object]:
        from datetime import datetime

        from dataferry.catalog.run_store import MetricRecord

        stamp = datetime.now(UTC)
        return [MetricRecord("r", n, k, v, None, None, stamp) for n, k, v in entries]

    def test_lists_append_and_unwrap(self) -> None:
        recs = self.records(
            ("l", "list", [1]), ("l", "list", [2, 3]), ("one", "list", [4])
        )

        assert metrics_dict(recs) == {"l": [1, 2, 3], "one": 4}  # type: ignore[arg-type]

    def test_tables_append_rows(self) -> None:
        recs = self.records(("t", "table", {"a": [1]}), ("t", "row", {"a": 2}))

        assert metrics_dict(recs) == {"t": {"a": [1, 2]}}  # type: ignore[arg-type]
