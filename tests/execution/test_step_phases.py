"""The phases a local step shares with the step runner (``execution.step_phases``):
the hand over of an output (globs applied, files listed, put at the staging prefix)
and the commit from that listing, on a real local-folder datastore; and a local
pipeline whose step goes through them (notes, contract, globbed output)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import fsspec
import pytest
from pipeline.kit import run_pipeline, write_script

from dataferry import Datastore, OutputFileDatasetConfig, Pipeline, PythonScriptStep
from dataferry.execution.commit import StagedOutput, commit_output
from dataferry.execution.plan_model import OutputTarget
from dataferry.execution.step_phases import finish, hand_over
from dataferry.storage import StorageLocation

if TYPE_CHECKING:
    from dataferry import Workspace


def staged_output(
    root: Path, files: dict[str, str], *, globs: list[str] | None = None
) -> StagedOutput:
    """Output 'out' of a local-folder datastore at ``data/out``, staged in place
    as a step leaves it: ``files`` written."""
    location = StorageLocation("s", fsspec.filesystem("file"), str(root))
    write_dir = location.staging.stage("data/out", "sr_1", "out", root / "scratch")
    for name, text in files.items():
        (write_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (write_dir / name).write_text(text)
    spec = OutputTarget(
        name="out",
        type="dataset_output",
        mode="upload",
        datastore="s",
        path_template="data/out",
        source_globs=globs,
    )
    return StagedOutput(spec, location, "data/out", write_dir, step_run_id="sr_1")


def tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_hand_over_lists_the_files_in_place_on_a_local_folder(tmp_path: Path) -> None:
    staged = staged_output(tmp_path, {"a.csv": "1,2", "sub/b.txt": "bee"})
    handed = hand_over(staged)
    assert handed.staging_prefix == ".dataferry-staging/sr_1/out"
    assert (handed.name, handed.datastore, handed.path) == ("out", "s", "data/out")
    assert dict(handed.files) == {"a.csv": 3, "sub/b.txt": 3}
    assert tree(staged.write_dir) == {"a.csv": "1,2", "sub/b.txt": "bee"}


@pytest.mark.parametrize(
    ("globs", "kept"),
    [
        (["*.csv"], {"a.csv": "1,2", "sub/c.csv": "3"}),
        (["sub/*"], {"sub/b.txt": "bee", "sub/c.csv": "3"}),
        (["*.parquet"], {}),
    ],
)
def test_hand_over_keeps_only_what_the_globs_name_and_the_commit_agrees(
    tmp_path: Path, globs: list[str], kept: dict[str, str]
) -> None:
    written = {"a.csv": "1,2", "sub/b.txt": "bee", "sub/c.csv": "3"}
    staged = staged_output(tmp_path, written, globs=globs)
    handed = hand_over(staged)
    assert dict(handed.files) == {k: len(v) for k, v in kept.items()}
    row = commit_output(staged)
    assert (row["file_count"], row["size_bytes"]) == (
        len(kept),
        sum(len(v) for v in kept.values()),
    )
    assert tree(tmp_path / "data" / "out") == kept


def test_an_output_a_node_handed_over_is_committed_with_its_globs_on_a_shared_folder(
    tmp_path: Path,
) -> None:
    """What a step runner staged on a folder every node sees: the commit moves only
    the files the globs keep (the node applied them when it handed over)."""
    written = {"keep.csv": "k", "drop.log": "d"}
    staged = staged_output(tmp_path, written, globs=["*.csv"])
    result = finish(0, [staged], tmp_path / "step")
    staged.on_node = dict(result.staged[0].files)  # as take_result marks it
    commit_output(staged)
    assert tree(tmp_path / "data" / "out") == {"keep.csv": "k"}


def test_a_step_that_wrote_nothing_or_one_file_hands_over_that(
    tmp_path: Path,
) -> None:
    empty = staged_output(tmp_path / "e", {})
    empty.write_dir.rmdir()  # the step removed its folder: an empty output
    assert dict(hand_over(empty).files) == {}
    assert commit_output(empty)["file_count"] == 0
    one = staged_output(tmp_path / "o", {})
    one.write_dir.rmdir()
    one.write_dir.write_text("single")  # the step replaced the folder with a file
    assert dict(hand_over(one).files) == {"": 6}
    assert (tmp_path / "o" / "data").exists() is False
    commit_output(one)
    assert (tmp_path / "o" / "data" / "out").read_text() == "single"


def test_a_failed_step_hands_nothing_over(tmp_path: Path) -> None:
    staged = staged_output(tmp_path, {"a.csv": "1"})
    result = finish(2, [staged], tmp_path / "step", notes=["n"])
    assert (result.exit_code, result.staged, result.notes) == (2, (), ("n",))
    assert result.node_folder == str(tmp_path / "step")


SCRIPT = """
import os, sys
out = sys.argv[1]
os.makedirs(os.path.join(out, "sub"), exist_ok=True)
for name in ("a.csv", "b.log", "sub/c.csv"):
    open(os.path.join(out, name), "w").write(name)
print("run id", os.environ["AZUREML_RUN_ID"])
"""


def test_a_local_step_goes_through_the_shared_phases(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Its outputs' globs are applied at the hand over and its log starts with the
    notes the contract phase writes (an unknown compute target's note)."""
    code = write_script(tmp_path / "code", "step.py", SCRIPT)
    store = Datastore.get_default(workspace)
    out = OutputFileDatasetConfig("out", destination=(store, "out/{run-id}"))
    step = PythonScriptStep(
        "step.py",
        source_directory=str(code),
        arguments=[out.as_upload(source_globs=["*.csv"])],
        compute_target="nowhere",
    )
    run = run_pipeline(Pipeline(workspace, [step]))
    assert run.get_status() == "Finished"
    (child,) = run.get_steps()
    folder = store.location.local_path(store.location.full_path(f"out/{child.id}"))
    assert folder is not None
    assert tree(Path(folder)) == {"a.csv": "a.csv", "sub/c.csv": "sub/c.csv"}
    stdout = Path(child.get_details()["logFiles"]["stdout.txt"]).read_text()
    assert stdout.splitlines()[0] == (
        "dataferry: compute target 'nowhere' is not configured in this workspace: "
        "step runs on the local executor"
    )
    assert f"run id {child.id}" in stdout
