"""``get_metrics(name, recursive, run_type, populate)`` (B.13) on every kind of run:
the step-side run, an interactive run and its children, a pipeline run and its step
runs, through a real catalog and real step processes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from step_context_kit import submitted_run

from dataferry import Experiment, Pipeline, PythonScriptStep
from dataferry.errors import RunArgumentTypeError

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace
    from dataferry.execution.run_context import _SubmittedRun

PNG = b"\x89PNG\r\n\x1a\nfake"
MATRIX = {
    "schema_type": "confusion_matrix",
    "schema_version": "1.0.0",
    "data": {"class_labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]},
}


@pytest.fixture
def run(workspace: Workspace) -> _SubmittedRun:
    """The run a step process would see, for step run ``sr-1`` of run ``r-1``."""
    return submitted_run(workspace)


def _log_artifacts(run: Any, tmp_path: Path) -> None:
    image = tmp_path / "roc.png"
    image.write_bytes(PNG)
    run.log("acc", 0.5)
    run.log_image("roc", path=str(image))
    run.log_confusion_matrix("cm", MATRIX)


class TestPopulate:
    def test_artifact_metrics_give_their_content(
        self, run: _SubmittedRun, tmp_path: Path
    ) -> None:
        _log_artifacts(run, tmp_path)

        uri = "aml://artifactId/ExperimentRun/dcid.sr-1/"
        plain = run.get_metrics()
        assert plain["roc"] == f"{uri}roc.png"
        assert plain["cm"].startswith(f"{uri}cm_")
        assert run.get_metrics(populate=True) == {
            "acc": 0.5,
            "roc": PNG,
            "cm": MATRIX,
        }
        assert run.get_metrics(name="cm", populate=True) == {"cm": MATRIX}
        assert run.get_metrics(name="missing", populate=True) == {}

    def test_an_image_logged_twice_gives_both_contents(
        self, run: _SubmittedRun, tmp_path: Path
    ) -> None:
        for n, content in enumerate([b"one", b"two"]):
            image = tmp_path / f"p{n}.png"
            image.write_bytes(content)
            run.log_image("plot", path=str(image))

        assert run.get_metrics(populate=True) == {"plot": [b"one", b"two"]}

    def test_recursive_on_a_step_run_is_the_run_itself(
        self, run: _SubmittedRun, tmp_path: Path
    ) -> None:
        _log_artifacts(run, tmp_path)

        assert run.get_metrics(recursive=True, name="acc") == {"sr-1": {"acc": 0.5}}
        assert run.get_metrics(recursive=True, run_type="azureml.scriptrun") == {
            "sr-1": run.get_metrics()
        }

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"recursive": "yes"}, "recursive must be a bool, not str"),
            ({"populate": 1}, "populate must be a bool, not int"),
            ({"name": 3}, "name must be a str or None, not int"),
            (
                {"run_type": ["a"], "populate": None},
                "run_type must be a str or None, not list; populate must be a bool",
            ),
        ],
    )
    def test_arguments_of_the_wrong_type_are_refused(
        self, run: _SubmittedRun, kwargs: dict[str, Any], match: str
    ) -> None:
        with pytest.raises(RunArgumentTypeError, match=match):
            run.get_metrics(**kwargs)


def test_an_interactive_run_populates_and_recurses_into_its_children(
    workspace: Workspace, tmp_path: Path
) -> None:
    experiment = Experiment(workspace, "interactive")
    outer = experiment.start_logging(snapshot_directory=None)
    _log_artifacts(outer, tmp_path)
    child = outer.child_run(name="fold-1")
    child.log("acc", 0.75)
    quiet = outer.child_run(name="fold-2")
    grandchild = child.child_run(name="inner")
    grandchild.log("loss", 2)

    assert outer.get_metrics(populate=True) == {"acc": 0.5, "roc": PNG, "cm": MATRIX}
    assert outer.get_metrics(recursive=True, name="acc") == {
        outer.id: {"acc": 0.5},
        child.id: {"acc": 0.75},
    }
    assert outer.get_metrics(recursive=True, run_type="experiment", name="loss") == {
        grandchild.id: {"loss": 2}
    }
    assert quiet.id not in outer.get_metrics(recursive=True)
    for run in (grandchild, quiet, child, outer):
        run.complete()


STEP = """\
from dataferry import Run

run = Run.get_context()
run.log("acc", 0.5)
run.log("whole", 2.0)
open("roc.png", "wb").write(b"png-bytes")
run.log_image("roc", path="roc.png")
"""


@pytest.mark.slow
def test_a_pipeline_run_and_its_step_runs(workspace: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "steps"
    source.mkdir()
    (source / "step.py").write_text(STEP)
    steps = [
        PythonScriptStep(name=n, script_name="step.py", source_directory=str(source))
        for n in ("first", "second")
    ]
    run = Experiment(workspace, "pipe").submit(Pipeline(workspace, steps=steps))
    run.wait_for_completion(show_output=False)
    first, second = (run.find_step_run(n)[0] for n in ("first", "second"))

    assert first.get_metrics(populate=True) == {
        "acc": 0.5,
        "whole": 2.0,
        "roc": b"png-bytes",
    }
    assert type(first.get_metrics(name="whole")["whole"]) is float
    assert run.get_metrics() == {}
    assert run.get_metrics(recursive=True, name="acc") == {
        first.id: {"acc": 0.5},
        second.id: {"acc": 0.5},
    }
    assert run.get_metrics(
        recursive=True, run_type="azureml.StepRun", populate=True, name="roc"
    ) == {first.id: {"roc": b"png-bytes"}, second.id: {"roc": b"png-bytes"}}
    assert run.get_metrics(recursive=True, run_type="azureml.scriptrun") == {}


class TestNumbersKeepTheirType:
    def test_in_a_step_run(self, run: _SubmittedRun) -> None:
        run.log("f", 1.0)
        run.log("i", 1)
        run.log("series", 2.0)
        run.log("series", 3)
        run.log_list("list", [1.0])
        run.log_row("row", x=4.0)

        got = run.get_metrics()

        assert got == {
            "f": 1.0,
            "i": 1,
            "series": [2.0, 3],
            "list": 1.0,
            "row": {"x": 4.0},
        }
        assert [type(got[k]) for k in ("f", "i", "list")] == [float, int, float]
        assert [type(v) for v in got["series"]] == [float, int]
        assert type(got["row"]["x"]) is float

    def test_in_an_interactive_run(self, workspace: Workspace) -> None:
        experiment = Experiment(workspace, "interactive")
        outer = experiment.start_logging(snapshot_directory=None)
        outer.log("f", 1.0)
        outer.log("i", 7)
        outer.complete()

        from dataferry import Run

        again = Run.get(workspace, outer.id).get_metrics()
        assert again == {"f": 1.0, "i": 7}
        assert (type(again["f"]), type(again["i"])) == (float, int)
