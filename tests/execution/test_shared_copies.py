"""A shared workspace keeps run snapshots and ended steps' and runs' logs on its shared
default datastore, so another workspace folder (machine) sharing the catalog reruns
the runs and reads the logs of the first. Here the catalog is a SQLite file outside
both folders or a PostgreSQL database (``server``), and the shared datastore a folder
both reach by an absolute path; the Azurite version is
tests/execution/test_two_folders.py."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from dataferry import Datastore, Experiment, Pipeline, PythonScriptStep, Workspace
from dataferry.errors import SnapshotMissingError
from dataferry.execution import views
from dataferry.execution.resume import rerun_from
from dataferry.execution.shared_logs import readable_driver_log
from dataferry.execution.shared_snapshots import (
    fetch_snapshot,
    local_snapshot,
    publish_snapshots,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dataferry.execution.pipeline_run import PipelineRun

SCRIPT = "import sys\nprint('out of', sys.argv[1])\nprint('err', file=sys.stderr)\n"


@pytest.fixture
def pair(
    tmp_path: Path, catalog_url: str
) -> Iterator[tuple[Workspace, Workspace, Path]]:
    """Two workspace folders on one catalog (SQLite or PostgreSQL), a shared folder
    as default datastore."""
    url = catalog_url
    first = Workspace.create("team", tmp_path / "a", catalog_url=url, show_output=False)
    second = Workspace.create(
        "team", tmp_path / "b", catalog_url=url, show_output=False
    )
    shared = tmp_path / "nfs"
    Datastore.register_local(first, "team_store", shared)
    first.set_default_datastore("team_store")
    yield first, second, shared
    first.close()
    second.close()


def _submit(ws: Workspace, code: Path, word: str = "a") -> PipelineRun:
    code.mkdir(exist_ok=True)
    (code / "say.py").write_text(SCRIPT)
    step = PythonScriptStep(
        "say.py", name="say", source_directory=str(code), arguments=[word]
    )
    run = Experiment(ws, "e").submit(Pipeline(ws, steps=[step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    return run


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
    )


def test_a_run_submitted_in_one_folder_reruns_in_the_other(
    pair: tuple[Workspace, Workspace, Path], tmp_path: Path
) -> None:
    first, second, shared = pair
    run = _submit(first, tmp_path / "code")
    snapshot = first.path / "snapshots"
    (name,) = [p.name for p in snapshot.iterdir() if p.is_dir()]
    assert _files(shared / "dataferry" / "snapshots") == [
        f"{name}/files/say.py",
        f"{name}/manifest.json",
    ]
    assert not (second.path / "snapshots" / name).exists()

    rerun_id = rerun_from(second, run.id, "say")  # driven in the second folder
    detail = views.wait_until(
        lambda: views.run_detail(second, rerun_id),
        lambda d: d.is_terminal,
        poll_s=0.05,
    )
    assert detail.status == "Finished"
    assert (second.path / "snapshots" / name / "say.py").read_text() == SCRIPT
    manifest = second.path / "snapshots" / f"{name}.manifest.json"
    assert manifest.read_text() == (snapshot / f"{name}.manifest.json").read_text()
    (step,) = detail.steps
    assert step.log_dir == second.path / "runs" / rerun_id / step.id


def test_the_other_folder_reads_the_logs_of_an_ended_run(
    pair: tuple[Workspace, Workspace, Path], tmp_path: Path
) -> None:
    first, second, shared = pair
    run = _submit(first, tmp_path / "code", "here")
    (step,) = views.run_detail(first, run.id).steps
    assert _files(shared / "dataferry" / "logs" / run.id) == [
        "driver.log",
        f"{step.id}/stderr.txt",
        f"{step.id}/stdout.txt",
    ]
    seen = views.run_detail(second, run.id)
    (there,) = seen.steps
    cache = second.path / "cache" / "logs" / run.id
    assert there.log_dir == cache / step.id
    logs = {stream: path.read_text() for stream, path in there.log_files()}
    assert logs == {"stdout": "out of here\n", "stderr": "err\n"}
    assert seen.driver_log == cache / "driver.log"
    assert f"run {run.id}: Finished" in views.read_whole_log(seen.driver_log)
    # read again: the cached copy, not a second download
    (shared / "dataferry" / "logs" / run.id / step.id / "stdout.txt").unlink()
    (again,) = views.run_detail(second, run.id).steps
    assert dict(again.log_files())["stdout"].read_text() == "out of here\n"


def test_a_log_in_neither_place_reads_as_empty(
    pair: tuple[Workspace, Workspace, Path], tmp_path: Path
) -> None:
    first, second, shared = pair
    run = _submit(first, tmp_path / "code")
    shutil.rmtree(shared / "dataferry" / "logs")
    (there,) = views.run_detail(second, run.id).steps
    assert there.log_dir == second.path / "runs" / run.id / there.id
    assert [views.read_whole_log(p) for _, p in there.log_files()] == ["", ""]
    assert readable_driver_log(second, run.id) == second.path / "runs" / run.id / (
        "driver.log"
    )


def test_a_snapshot_on_no_shared_store_is_a_typed_error(
    pair: tuple[Workspace, Workspace, Path], tmp_path: Path
) -> None:
    _, second, shared = pair
    assert fetch_snapshot(second, "snapshots/0123") is None
    with pytest.raises(
        SnapshotMissingError,
        match=r"step 'x': its source snapshot 'snapshots/0123' is not in this "
        r"workspace folder",
    ):
        local_snapshot(second, "snapshots/0123", "x")
    assert not (shared / "dataferry").exists()


def test_a_snapshot_is_written_once(
    pair: tuple[Workspace, Workspace, Path], tmp_path: Path
) -> None:
    first, second, shared = pair
    folder = first.path / "snapshots" / "abc"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "x.py").write_text("x = 1\n")
    assert publish_snapshots(first, ["snapshots/abc"]) == ["dataferry/snapshots/abc"]
    assert publish_snapshots(second, ["snapshots/abc"]) == []
    assert _files(shared / "dataferry" / "snapshots") == ["abc/files/sub/x.py"]
    assert fetch_snapshot(second, "snapshots/abc") == second.path / "snapshots/abc"
    assert _files(second.path / "snapshots") == ["abc/sub/x.py"]
    assert not (shared / ".dataferry-staging").exists() or not any(
        (shared / ".dataferry-staging").iterdir()
    )


def test_a_workspace_not_shared_stores_nothing(
    workspace: Workspace, tmp_path: Path
) -> None:
    run = _submit(workspace, tmp_path / "code")
    store = workspace.path / "datastores" / "workspaceblobstore"
    assert not (store / "dataferry").exists()
    assert views.run_detail(workspace, run.id).driver_log == (
        workspace.path / "runs" / run.id / "driver.log"
    )


def test_a_step_that_ran_elsewhere_is_read_from_the_store_not_a_stale_folder(
    pair: tuple[Workspace, Workspace, Path], tmp_path: Path
) -> None:
    first, second, shared = pair
    run = _submit(first, tmp_path / "code", "there")
    (step,) = views.run_detail(first, run.id).steps
    # an older attempt of the same step run left its folder in the second folder
    stale = second.path / "runs" / run.id / step.id
    stale.mkdir(parents=True)
    (stale / "stdout.txt").write_text("stale attempt\n")
    (there,) = views.run_detail(second, run.id).steps
    assert dict(there.log_files())["stdout"].read_text() == "out of there\n"
    # the folder it ran in reads its own files, whatever the store holds
    shutil.rmtree(shared / "dataferry" / "logs" / run.id / step.id)
    (here,) = views.run_detail(first, run.id).steps
    assert here.log_dir == first.path / "runs" / run.id / step.id
    assert dict(here.log_files())["stdout"].read_text() == "out of there\n"


def test_a_store_that_refuses_the_logs_does_not_fail_the_run(
    pair: tuple[Workspace, Workspace, Path], tmp_path: Path
) -> None:
    first, second, shared = pair
    (shared / "dataferry").mkdir(parents=True)
    (shared / "dataferry" / "logs").write_text("a file where the folder goes\n")
    run = _submit(first, tmp_path / "code", "anyway")
    (step,) = views.run_detail(first, run.id).steps
    assert dict(step.log_files())["stdout"].read_text() == "out of anyway\n"
    driver = views.read_whole_log(views.run_detail(first, run.id).driver_log)
    assert "could not store logs on the default datastore" in driver
    (there,) = views.run_detail(second, run.id).steps
    assert [views.read_whole_log(p) for _, p in there.log_files()] == ["", ""]


WAITING = """
import os, sys, time
print('started', flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.05)
print('done')
"""


def test_a_step_running_in_the_other_folder_says_where_its_logs_are(
    pair: tuple[Workspace, Workspace, Path], tmp_path: Path
) -> None:
    """`runs logs` of a step running from another folder names why nothing is shown
    (it used to print nothing for it); once it ends its logs are read here."""
    from click.testing import CliRunner

    from dataferry.cli import app

    first, second, _shared = pair
    code = tmp_path / "code"
    code.mkdir()
    (code / "wait.py").write_text(WAITING)
    go = tmp_path / "go"
    step = PythonScriptStep(
        "wait.py", name="wait", source_directory=str(code), arguments=[str(go)]
    )
    run = Experiment(first, "e").submit(Pipeline(first, steps=[step]))
    try:
        views.wait_until(
            lambda: views.run_detail(first, run.id).steps,
            lambda steps: bool(steps) and steps[0].status == "Running",
            poll_s=0.05,
        )
        project = str(second.path.parent)
        for extra in ([], ["--step", "wait"]):
            result = CliRunner().invoke(
                app, ["-w", project, "runs", "logs", run.id, *extra]
            )
            assert result.exit_code == 0, result.output
            assert result.output.splitlines()[0] == (
                f"Driver log: {second.path / 'runs' / run.id / 'driver.log'} (not in "
                "this workspace folder: the run is driven from another one, which "
                "stores it on its shared datastore when the run ends)"
            )
            assert result.output.splitlines()[1:] == [
                "[wait] -- no logs in this workspace folder yet (Running): a step "
                "running from another folder of a shared workspace stores them on its "
                "shared datastore when it ends"
            ]
    finally:
        go.touch()
    assert run.wait_for_completion(show_output=False) == "Finished"
    result = CliRunner().invoke(app, ["-w", project, "runs", "logs", run.id])
    cached = second.path / "cache" / "logs" / run.id / "driver.log"
    assert result.output.splitlines() == [
        f"Driver log: {cached}",
        "[wait] started",
        "[wait] done",
    ]
