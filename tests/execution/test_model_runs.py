"""Models and runs: a step registers its ./outputs, a finished StepRun registers from
the submitting side (also a failed or reused one), a later step loads a model with
Model.get_model_path; lineage to the run. Real workspace, real step processes."""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import WAIT_S, report, run_pipeline, step, write_script

from dataferry import Model, Pipeline, PythonScriptStep
from dataferry.errors import ModelNameError, ModelPathNotFoundError
from dataferry.execution.run_files import step_run_files
from dataferry.execution.run_layout import step_dir

if TYPE_CHECKING:
    from dataferry import StepRun, Workspace

TRAIN = """
import json, os, pickle, sys
from dataferry import Run
from dataferry.errors import DataferryError

run = Run.get_context()
os.makedirs("outputs/extra", exist_ok=True)
with open("outputs/model.pkl", "wb") as fh:
    pickle.dump({"coef": float(sys.argv[2])}, fh)
with open("outputs/extra/notes.txt", "w") as fh:
    fh.write("n")
seen = {"errors": []}
model = run.register_model("clf", "outputs/model.pkl", tags={"by": "step"})
seen["model"] = [model.id, model.run_id, model.experiment_name]
for call in (
    lambda: run.register_model("clf", "outputs/missing.pkl"),
    lambda: run.register_model("bad name", "outputs/model.pkl"),
):
    try:
        call()
    except DataferryError as exc:
        seen["errors"].append([type(exc).__name__, str(exc)])
with open(sys.argv[1], "w") as fh:
    json.dump(seen, fh)
sys.exit(int(sys.argv[3]))
"""

SCORE = """
import json, pickle, sys
from dataferry import Model

path = Model.get_model_path("clf")
one = Model.get_model_path("clf", version=1)
with open(path, "rb") as fh:
    model = pickle.load(fh)
with open(sys.argv[1], "w") as fh:
    json.dump({"path": path, "v1": one, "coef": model["coef"]}, fh)
"""


def train(
    workspace: Workspace, src: Path, out: Path, coef: float, code: int = 0
) -> Pipeline:
    write_script(src, "train.py", TRAIN)
    args = [str(out), str(coef), str(code)]
    return Pipeline(
        workspace,
        steps=[
            PythonScriptStep(
                name="train",
                script_name="train.py",
                source_directory=str(src),
                arguments=args,
                allow_reuse=False,
            )
        ],
    )


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return tmp_path / "src"


@pytest.mark.slow
def test_a_step_registers_and_a_later_step_loads(
    workspace: Workspace, src: Path, tmp_path: Path
) -> None:
    out = tmp_path / "train.json"
    first = run_pipeline(train(workspace, src, out, 1.5))
    seen = report(out)
    run_pipeline(train(workspace, src, out, 2.5))

    train_step = step(first, "train")
    assert first.get_status() == "Finished"
    assert seen["model"] == ["clf:1", train_step.id, "tests"]
    (missing, bad) = seen["errors"]
    assert missing[0] == "ModelPathNotFoundError"
    assert missing[1].startswith(
        "Could not locate the provided model_path outputs/missing.pkl in the set of "
        "files uploaded to the run: ['outputs/extra/notes.txt', 'outputs/model.pkl']."
    )
    assert bad[0] == "ModelNameError"
    assert [m.id for m in Model.list(workspace, name="clf")] == ["clf:1", "clf:2"]
    model = Model(workspace, "clf", version=1)
    assert (model.run_id, model.tags, model.run.name) == (  # type: ignore[union-attr]
        train_step.id,
        {"by": "step"},
        "train",
    )

    score_out = tmp_path / "score.json"
    write_script(src, "score.py", SCORE)
    scoring = Pipeline(
        workspace,
        steps=[
            PythonScriptStep(
                name="score",
                script_name="score.py",
                source_directory=str(src),
                arguments=[str(score_out)],
            )
        ],
    )
    assert run_pipeline(scoring).get_status() == "Finished"
    scored = report(score_out)
    assert scored["coef"] == 2.5
    assert scored["path"] == Model(workspace, "clf").url
    assert pickle.loads(Path(scored["v1"]).read_bytes()) == {"coef": 1.5}


@pytest.mark.slow
def test_a_finished_or_failed_step_registers_from_the_submitting_side(
    workspace: Workspace, src: Path, tmp_path: Path
) -> None:
    out = tmp_path / "train.json"
    done = step(run_pipeline(train(workspace, src, out, 3.0)), "train")
    failed = step(run_pipeline(train(workspace, src, out, 4.0, code=3)), "train")

    whole = done.register_model("clf-folder", "outputs")
    named = done.register_model("clf-file", "./outputs\\model.pkl")
    from_failed = failed.register_model("clf-failed", "outputs/model.pkl/")

    assert failed.get_status() == "Failed"
    assert Path(whole.url).name == "outputs"
    assert sorted(
        p.relative_to(whole.url).as_posix() for p in Path(whole.url).rglob("*.*")
    ) == ["extra/notes.txt", "model.pkl"]
    assert pickle.loads(Path(named.url).read_bytes()) == {"coef": 3.0}
    assert pickle.loads(Path(from_failed.url).read_bytes()) == {"coef": 4.0}
    assert (whole.run_id, whole.experiment_name) == (done.id, "tests")
    downloaded = Path(whole.download(tmp_path / "dl"))
    assert (downloaded / "extra" / "notes.txt").read_text() == "n"
    with pytest.raises(
        ModelPathNotFoundError,
        match=r"model_path outputs/nope in the set of files uploaded to the run: "
        r"\['outputs/extra/notes\.txt', 'outputs/model\.pkl'\]\. Write the model",
    ):
        done.register_model("x", "outputs/nope")
    with pytest.raises(ModelPathNotFoundError, match=r"model_path clf in the set"):
        done.register_model("clf")  # the path defaults to the name
    with pytest.raises(ModelNameError, match="invalid model name 'a b'"):
        done.register_model("a b", "outputs")
    assert [m.name for m in Model.list(workspace, run_id=done.id)] == [
        "clf",
        "clf-file",
        "clf-folder",
    ]


WRITE = """
import os
os.makedirs("outputs", exist_ok=True)
with open("outputs/weights.txt", "w") as fh:
    fh.write("w1")
"""


@pytest.mark.slow
def test_a_reused_step_registers_the_files_of_the_run_it_reuses(
    workspace: Workspace, src: Path
) -> None:
    write_script(src, "write.py", WRITE)

    def once() -> StepRun:
        steps = [PythonScriptStep(script_name="write.py", source_directory=str(src))]
        return step(run_pipeline(Pipeline(workspace, steps=steps)), "write.py")

    first, second = once(), once()
    model = second.register_model("weights", "outputs/weights.txt")

    assert second.get_details()["reusedFrom"] == first.id
    assert Path(model.url).read_text() == "w1"
    assert model.run_id == second.id


HOLD = """
import os, sys, time
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pkl", "w") as fh:
    fh.write("m")
open(sys.argv[1], "w").close()  # tell the test ./outputs is written
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
"""


@pytest.mark.slow
def test_a_running_step_s_outputs_count_from_outside_once_it_ends(
    workspace: Workspace, src: Path, tmp_path: Path
) -> None:
    written, release = tmp_path / "written", tmp_path / "release"
    write_script(src, "hold.py", HOLD)
    steps = [
        PythonScriptStep(
            name="hold",
            script_name="hold.py",
            source_directory=str(src),
            arguments=[str(written), str(release)],
        )
    ]
    run = Pipeline(workspace, steps=steps).submit("tests")
    deadline = time.monotonic() + WAIT_S
    while not written.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    running = step(run, "hold")

    try:
        assert running.get_status() == "Running"
        with pytest.raises(
            ModelPathNotFoundError,
            match=r"outputs/model\.pkl in the set of files uploaded to the run: \[\]",
        ):
            running.register_model("held", "outputs/model.pkl")
    finally:
        release.touch()
    run.wait_for_completion(show_output=False, timeout_seconds=WAIT_S)

    assert (
        Path(running.register_model("held", "outputs/model.pkl").url).read_text() == "m"
    )


@pytest.mark.slow
def test_uploaded_files_resolve_through_the_same_lookup(
    workspace: Workspace, src: Path
) -> None:
    write_script(src, "write.py", WRITE)
    steps = [PythonScriptStep(script_name="write.py", source_directory=str(src))]
    done = step(run_pipeline(Pipeline(workspace, steps=steps)), "write.py")
    # a file uploaded to the step run (as run.upload_file does), and an upload cut
    # short, whose part file the catalog never listed
    source = src / "model.bin"
    source.write_bytes(b"up")
    step_run_files(workspace, done.id).upload("bundle/model.bin", source)
    uploads = step_dir(workspace, done.pipeline_run_id, done.id) / "files"
    (uploads / "bundle" / ".model.bin.0a1b.part").write_bytes(b"half")

    bundle = done.register_model("bundle")  # the path defaults to the name
    with pytest.raises(
        ModelPathNotFoundError, match=r"\['bundle/model\.bin', 'outputs/weights\.txt'\]"
    ):
        done.register_model("x", "nope")

    assert [p.name for p in Path(bundle.url).iterdir()] == ["model.bin"]
