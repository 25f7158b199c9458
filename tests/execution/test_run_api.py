"""The run API beside metrics (tags, properties, files, artifact metrics) on a real
catalog, through the step-side run a context file describes, and offline."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import pytest
from step_context_kit import submitted_run

from dataferry import Run
from dataferry.errors import (
    RunArgumentError,
    RunArgumentTypeError,
    RunFileExistsError,
    RunFileNotFoundError,
    RunPropertyError,
)
from dataferry.execution.run_context import CONTEXT_ENV, _SubmittedRun

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

PNG = b"\x89PNG\r\n\x1a\nfake"


class Figure:
    """What log_image needs of a matplotlib plot (matplotlib is not installed here)."""

    def savefig(self, fname: Any, format: str) -> None:
        assert format == "png"
        fname.write(PNG)


@pytest.fixture
def run(workspace: Workspace) -> _SubmittedRun:
    """The run a step process would see, for step run ``sr-1`` of run ``r-1``."""
    return submitted_run(workspace)


class TestTagsAndProperties:
    def test_tags_replace_and_remove(self, run: _SubmittedRun) -> None:
        run.tag("stage")
        run.set_tags({"stage": "train", "epochs": 3, "kept": None})
        run.tag("team", "ml")
        run.remove_tags(["team", "absent"])

        assert run.get_tags() == {"epochs": "3", "kept": None, "stage": "train"}
        assert run.tags == run.get_tags()

    def test_tags_must_be_a_dict(self, run: _SubmittedRun) -> None:
        with pytest.raises(
            RunArgumentTypeError, match=r"tag must be a dict .* not list"
        ):
            run.set_tags(["a"])  # type: ignore[arg-type]

    def test_properties_are_written_once(self, run: _SubmittedRun) -> None:
        run.add_properties({"algo": "svm", "seed": 1})
        run.add_properties({"algo": "svm", "extra": "x"})  # same value: accepted
        run.add_properties({})

        with pytest.raises(
            RunPropertyError,
            match=r"run sr-1: properties cannot be changed once added: 'algo' "
            r"\(is 'svm', asked 'tree'\)",
        ):
            run.add_properties({"new": "n", "algo": "tree"})
        assert run.get_properties() == {"algo": "svm", "extra": "x", "seed": "1"}


class TestFiles:
    def test_upload_list_download(
        self, run: _SubmittedRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "model.pkl").write_bytes(b"weights")
        folder = tmp_path / "charts"
        (folder / "sub").mkdir(parents=True)
        (folder / "a.txt").write_text("a")
        (folder / "sub" / "b.txt").write_text("b")

        run.upload_file("./outputs/model.pkl", str(tmp_path / "model.pkl"))
        run.upload_file("notes/readme.txt", io.BytesIO(b"hello"))
        run.upload_folder("charts", folder)
        run.upload_files(["x/1.txt", "x/2.txt"], [folder / "a.txt", folder / "a.txt"])

        assert run.get_file_names() == [
            "charts/a.txt",
            "charts/sub/b.txt",
            "notes/readme.txt",
            "outputs/model.pkl",
            "x/1.txt",
            "x/2.txt",
        ]
        monkeypatch.chdir(tmp_path)
        run.download_file("outputs/model.pkl")
        assert (tmp_path / "model.pkl").read_bytes() == b"weights"
        (tmp_path / "into").mkdir()
        run.download_file("notes/readme.txt", str(tmp_path / "into"))
        assert (tmp_path / "into" / "readme.txt").read_text() == "hello"
        got = run.download_files("charts", str(tmp_path / "dl"), append_prefix=False)
        assert sorted(p.relative_to(tmp_path / "dl").as_posix() for p in got) == [
            "a.txt",
            "sub/b.txt",
        ]

    def test_a_name_is_uploaded_once(self, run: _SubmittedRun, tmp_path: Path) -> None:
        (tmp_path / "f").write_text("1")
        run.upload_file("f", str(tmp_path / "f"))

        with pytest.raises(
            RunFileExistsError, match="run sr-1 already has a file named 'f'"
        ):
            run.upload_file("./f", str(tmp_path / "f"))
        # a batch with one taken name uploads none of its files
        with pytest.raises(RunFileExistsError, match="named 'f'"):
            run.upload_files(["g", "f"], [tmp_path / "f", tmp_path / "f"])
        assert run.get_file_names() == ["f"]

    @pytest.mark.parametrize(
        ("name", "match"),
        [
            ("", "a run file needs a name"),
            ("/etc/passwd", "must be a relative path inside the run"),
            ("../up.txt", "must be a relative path inside the run"),
            ("a/../../b", "must be a relative path inside the run"),
        ],
    )
    def test_bad_names(
        self, run: _SubmittedRun, tmp_path: Path, name: str, match: str
    ) -> None:
        (tmp_path / "f").write_text("1")

        with pytest.raises(RunArgumentError, match=match):
            run.upload_file(name, str(tmp_path / "f"))
        assert run.get_file_names() == []

    def test_bad_sources_and_arguments(
        self, run: _SubmittedRun, tmp_path: Path
    ) -> None:
        with pytest.raises(RunArgumentError, match="it is not a file"):
            run.upload_file("x", str(tmp_path / "missing"))
        with pytest.raises(RunArgumentTypeError, match="got 2 names for 1 paths"):
            run.upload_files(["a", "b"], [tmp_path / "x"])
        with pytest.raises(
            RunArgumentError, match=r"Cannot upload path: .* not a valid directory"
        ):
            run.upload_folder("d", tmp_path / "missing")
        with pytest.raises(
            RunArgumentError, match="datastore_name='other' cannot be used"
        ):
            run.upload_file("x", io.BytesIO(b""), datastore_name="other")
        with pytest.raises(
            RunFileNotFoundError,
            match=r"Cannot find the artifact 'nope.txt' in run sr-1; it has no files",
        ):
            run.download_file("nope.txt")
        assert run.get_file_names() == []


class TestArtifactMetrics:
    def test_images_and_predefined_json(
        self, run: _SubmittedRun, tmp_path: Path
    ) -> None:
        image = tmp_path / "roc.png"
        image.write_bytes(PNG)
        matrix = {
            "schema_type": "confusion_matrix",
            "schema_version": "1.0.0",
            "data": {"class_labels": ["a", "b"], "matrix": [[1, 0], [0, 1]]},
        }

        run.log_image("roc", path=str(image))
        run.log_image("fig", plot=Figure())
        run.log_confusion_matrix("cm", matrix)
        run.log_accuracy_table("acc", json.dumps({"data": {"thresholds": [0.5]}}))
        run.log_residuals("res", {"schema_type": "residuals", "data": {"bins": []}})
        run.log_predictions("pred", {"data": {"bins": []}})

        names = run.get_file_names()
        metrics = run.get_metrics()
        uri = "aml://artifactId/ExperimentRun/dcid.sr-1/"
        assert metrics["roc"] == f"{uri}roc.png"
        for metric in ("fig", "cm", "acc", "res", "pred"):
            stored = metrics[metric].removeprefix(uri)
            assert stored in names
            assert stored.startswith(f"{metric}_")
        assert run._run_files().read_bytes(metrics["fig"].removeprefix(uri)) == PNG
        stored_cm = run._run_files().read_bytes(metrics["cm"].removeprefix(uri))
        assert json.loads(stored_cm) == matrix
        assert "matplotlib" not in __import__("sys").modules

    @pytest.mark.parametrize(
        ("call", "match"),
        [
            (
                lambda r: r.log_image("i"),
                "needs exactly one of path= and plot=, got neither",
            ),
            (
                lambda r: r.log_image("i", path="p.png", plot=Figure()),
                "got both",
            ),
            (
                lambda r: r.log_image("i", plot=object()),
                "plot must be matplotlib.pyplot",
            ),
            (lambda r: r.log_confusion_matrix("cm", "{not json"), "value is not JSON"),
            (
                lambda r: r.log_confusion_matrix("cm", [1]),
                "must be a dict with a 'data'",
            ),
            (
                lambda r: r.log_confusion_matrix("cm", {"data": {"matrix": []}}),
                r"missing \['class_labels'\]",
            ),
            (
                lambda r: r.log_residuals(
                    "r", {"schema_type": "predictions", "data": {}}
                ),
                "expected schema_type 'residuals'.*got schema_type 'predictions'",
            ),
        ],
    )
    def test_bad_values(self, run: _SubmittedRun, call: Any, match: str) -> None:
        with pytest.raises(RunArgumentError, match=match):
            call(run)
        assert run.get_metrics() == {}
        assert run.get_file_names() == []


class TestOffline:
    @pytest.fixture
    def offline(self, monkeypatch: pytest.MonkeyPatch) -> Any:
        monkeypatch.delenv(CONTEXT_ENV, raising=False)
        return Run.get_context()

    def test_tags_and_properties_stay_on_the_object(self, offline: Any) -> None:
        offline.tag("a", 1)
        offline.add_properties({"p": "x"})

        assert offline.get_tags() == {"a": "1"}
        with pytest.raises(
            RunPropertyError, match=r"cannot be changed once added: \['p'\]"
        ):
            offline.add_properties({"p": "y"})
        assert offline.get_properties() == {"p": "x"}

    def test_files_and_images_print(
        self, offline: Any, capsys: pytest.CaptureFixture[str]
    ) -> None:
        offline.upload_file("outputs/m.pkl", "m.pkl")
        offline.upload_files(["a"], ["a.txt"])
        offline.log_image("roc", path="roc.png")
        offline.log_confusion_matrix("cm", {"data": {}})

        assert capsys.readouterr().out == (
            "Attempted to track file outputs/m.pkl at m.pkl\n"
            "Attempted to track files ['a'] at ['a.txt']\n"
            "Attempted to log image metric roc:\nroc.png\n"
            "Attempted to log confusion_matrix metric cm:\n{'data': {}}\n"
        )
        assert offline.get_file_names() == []

    def test_no_parent_or_experiment(self, offline: Any) -> None:
        with pytest.raises(AttributeError, match="an offline run has no parent"):
            _ = offline.parent
        with pytest.raises(AttributeError, match=r"no run.experiment.workspace"):
            _ = offline.experiment


class TestRunDetailsArguments:
    def test_not_a_run(self) -> None:
        from dataferry.execution.run_details import RunDetails

        with pytest.raises(
            RunArgumentTypeError, match=r"RunDetails needs a run .* got str"
        ):
            RunDetails("run-1")

    def test_render_lib_and_refresh(
        self, run: _SubmittedRun, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from dataferry.errors import RunNotFoundError
        from dataferry.execution.run_details import RunDetails

        details = RunDetails(run)
        with pytest.raises(
            RunArgumentError, match=r"render_lib='ipywidgets'.*leave render_lib out"
        ):
            details.show(render_lib="ipywidgets")
        monkeypatch.setenv("AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME", "soon")
        with pytest.raises(RunArgumentError, match="'soon' is not a number of seconds"):
            details.show()
        with pytest.raises(RunNotFoundError, match="sr-1"):
            details.get_widget_data()
