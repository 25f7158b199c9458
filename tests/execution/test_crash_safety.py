"""kill -9 in the middle of a write: nothing half-written is visible or registered.

Each test runs a real pipeline: the step writes part of its output, tells the test
where it is (a marker file with its pid and write folder) and waits. The test then
SIGKILLs the step (or the driver) and checks what the catalog and the datastore show.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import is_alive, wait_gone

from dataferry import (
    Datastore,
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog.run_store import TERMINAL, RunStore
from dataferry.execution.commit import (
    STAGING_DIR,
    StagedOutput,
    commit_output,
    resolve_template,
)
from dataferry.execution.plan_model import OutputTarget, plan_of
from dataferry.storage.places import physical_place

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

WAIT_S = 60.0  # upper bound for things that take well under a second; never asserted

WRITER = '''\
"""Writes part of its output, signals the test, then waits for a go file."""
import json, os, sys, time

out, marker, go = sys.argv[1], sys.argv[2], sys.argv[3]
with open(os.path.join(out, "part-0.bin"), "wb") as fh:
    fh.write(b"x" * 65536)
half = open(os.path.join(out, "part-1.bin"), "wb")  # still being written when killed
half.write(b"y" * 1000)
half.flush()
with open(marker + ".tmp", "w") as fh:
    json.dump({"pid": os.getpid(), "out": out}, fh)
os.replace(marker + ".tmp", marker)
deadline = time.monotonic() + 120  # a forgotten step ends on its own
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit(3)
    time.sleep(0.02)
half.write(b"y" * 1000)
half.close()
'''


@dataclass
class Case:
    """One way of declaring the step's output."""

    output: Any  # what goes in outputs=[...]
    argument: Any  # what goes in arguments=[...]
    dataset_name: str  # register_on_complete name
    template: str  # the destination path template the plan must carry


def _ofdc(mode: str) -> Callable[[Datastore], Case]:
    def make(store: Datastore) -> Case:
        name = f"crash_ofdc_{mode}"
        out = OutputFileDatasetConfig(
            name="out", destination=(store, "crash/{run-id}/{output-name}")
        )
        out = (
            out.as_mount() if mode == "mount" else out.as_upload()
        ).register_on_complete(name)
        return Case(out, out, name, "crash/{run-id}/{output-name}")

    return make


def _pipeline_data(mode: str) -> Callable[[Datastore], Case]:
    def make(store: Datastore) -> Case:
        name = f"crash_pd_{mode}"
        data = PipelineData("out", datastore=store, output_mode=mode)
        return Case(
            data.as_dataset().register(name),
            data,
            name,
            "azureml/{run-id}/{output-name}",
        )

    return make


CASES = {
    "ofdc-mount": _ofdc("mount"),
    "ofdc-upload": _ofdc("upload"),
    "pipelinedata-mount": _pipeline_data("mount"),
    "pipelinedata-upload": _pipeline_data("upload"),
}


@dataclass
class Signals:
    """The files a step and the test talk through."""

    marker: Path
    go: Path


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


@pytest.fixture
def signals(tmp_path: Path) -> Signals:
    folder = tmp_path / "signals"
    folder.mkdir()
    return Signals(folder / "ready.json", folder / "go")


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "writer.py").write_text(WRITER)
    return folder


@pytest.fixture
def stray_pids() -> Iterator[list[int]]:
    """Pids to SIGKILL at teardown if a failing test left them running."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)


def _submit(ws: Workspace, case: Case, source_dir: Path, sig: Signals) -> Any:
    step = PythonScriptStep(
        "writer.py",
        name="writer",
        arguments=[case.argument, str(sig.marker), str(sig.go)],
        outputs=[case.output],
        source_directory=str(source_dir),
        allow_reuse=False,
    )
    return Pipeline(ws, steps=[step]).submit("crash")


def _wait_ready(run: Any, marker: Path) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while not marker.exists():
        if run.get_status() in TERMINAL or time.monotonic() > deadline:
            steps = [s.get_details() for s in run.get_steps()]
            pytest.fail(
                f"the step never signalled; run {run.get_status()}, steps {steps}"
            )
        time.sleep(0.02)
    ready: dict[str, Any] = json.loads(marker.read_text())
    return ready


def _destination(store: RunStore, run_id: str, step_run_id: str) -> tuple[str, str]:
    """(datastore, path) the plan resolves the step's only output to."""
    (spec,) = plan_of(store.get_run(run_id)).nodes[0].outputs
    path = resolve_template(
        spec.path_template, run_id=step_run_id, output_name=spec.name
    )
    return spec.datastore, path


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
@pytest.mark.parametrize("make_case", CASES.values(), ids=CASES.keys())
def test_step_killed_mid_write_leaves_nothing(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    source_dir: Path,
    signals: Signals,
    stray_pids: list[int],
    make_case: Callable[[Datastore], Case],
) -> None:
    case = make_case(blobstore)
    store = RunStore(workspace.catalog)
    run = _submit(workspace, case, source_dir, signals)
    ready = _wait_ready(run, signals.marker)
    stray_pids.append(ready["pid"])
    (step_rec,) = store.step_runs(run.id)
    datastore, dest = _destination(store, run.id, step_rec.id)
    assert plan_of(store.get_run(run.id)).nodes[0].outputs[0].path_template == (
        case.template
    )
    staging = store_root / STAGING_DIR / step_rec.id
    # while it writes: bytes in staging, destination empty, lease held
    assert Path(ready["out"]).is_relative_to(staging)
    assert (Path(ready["out"]) / "part-0.bin").stat().st_size == 65536
    assert not (store_root / dest).exists()
    assert [
        (le.datastore, le.path, le.step_run_id) for le in store.leases_of_run(run.id)
    ] == [
        (
            *physical_place(Datastore.get(workspace, datastore).location, dest),
            step_rec.id,
        )
    ]

    os.kill(ready["pid"], signal.SIGKILL)
    status = run.wait_for_completion(
        show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
    )

    assert status == "Failed"
    step = store.get_step_run(step_rec.id)
    assert step.status == "Failed"
    assert "killed by signal 9" in step.details["error"]
    assert store.outputs_of(step_rec.id) == []
    assert workspace.catalog.list_versions(case.dataset_name) == []
    assert not (store_root / dest).exists()
    assert not staging.exists()
    assert _files_under(store_root) == []
    assert store.leases_of_run(run.id) == []


@pytest.mark.slow
@pytest.mark.parametrize("step_outcome", ["step-killed-too", "step-finishes-alone"])
def test_driver_killed_mid_step_commits_nothing(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    source_dir: Path,
    signals: Signals,
    stray_pids: list[int],
    step_outcome: str,
) -> None:
    case = _ofdc("upload")(blobstore)
    store = RunStore(workspace.catalog)
    run = _submit(workspace, case, source_dir, signals)
    ready = _wait_ready(run, signals.marker)
    stray_pids.append(ready["pid"])
    driver_pid = store.get_run(run.id).driver_pid
    assert driver_pid is not None
    stray_pids.append(driver_pid)
    (step_rec,) = store.step_runs(run.id)
    _, dest = _destination(store, run.id, step_rec.id)

    os.kill(driver_pid, signal.SIGKILL)
    wait_gone(driver_pid, WAIT_S)
    if step_outcome == "step-killed-too":
        os.kill(ready["pid"], signal.SIGKILL)
    else:  # the orphaned step writes the rest and exits 0, with no driver to commit it
        signals.go.touch()
    wait_gone(ready["pid"], WAIT_S)

    assert store.get_run(run.id).status not in TERMINAL  # resuming it is another story
    assert store.get_step_run(step_rec.id).status == "Running"
    assert store.outputs_of(step_rec.id) == []
    assert workspace.catalog.list_versions(case.dataset_name) == []
    assert not (store_root / dest).exists()
    visible = [
        f for f in _files_under(store_root) if not f.startswith(f"{STAGING_DIR}/")
    ]
    assert visible == []
    if step_outcome == "step-finishes-alone":  # whole bytes, still only in staging
        assert (Path(ready["out"]) / "part-1.bin").stat().st_size == 2000


@pytest.mark.slow
def test_step_killed_while_overwriting_leaves_the_old_version(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    source_dir: Path,
    signals: Signals,
    stray_pids: list[int],
) -> None:
    old = store_root / "fixed" / "out"
    (old / "sub").mkdir(parents=True)
    before = {"part-0.bin": b"old 0", "keep.txt": b"old", "sub/deep.txt": b"old deep"}
    for rel, data in before.items():
        (old / rel).write_bytes(data)
    out = OutputFileDatasetConfig(name="out", destination=(blobstore, "fixed/out"))
    out = out.as_upload(overwrite=True).register_on_complete("overwritten")
    run = _submit(workspace, Case(out, out, "overwritten", ""), source_dir, signals)
    ready = _wait_ready(run, signals.marker)
    stray_pids.append(ready["pid"])

    os.kill(ready["pid"], signal.SIGKILL)
    status = run.wait_for_completion(
        show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
    )

    assert status == "Failed"
    assert {f: (old / f).read_bytes() for f in _files_under(old)} == before
    assert workspace.catalog.list_versions("overwritten") == []
    assert _files_under(store_root) == [f"fixed/out/{f}" for f in sorted(before)]


def test_commit_over_an_existing_folder_swaps_in_the_merge(
    blobstore: Datastore, store_root: Path
) -> None:
    final = store_root / "merge" / "out"
    (final / "sub").mkdir(parents=True)
    for rel in ("a.txt", "keep.txt", "sub/deep.txt"):
        (final / rel).write_text(f"old {rel}")
    (final / "link").symlink_to("keep.txt")
    kept_inode, old_folder_inode = (
        (final / "keep.txt").stat().st_ino,
        final.stat().st_ino,
    )
    staged = store_root / STAGING_DIR / "step_1" / "out"
    (staged / "sub").mkdir(parents=True)
    (staged / "a.txt").write_text("new a.txt")
    (staged / "sub" / "new.txt").write_text("new sub/new.txt")
    spec = OutputTarget(
        name="out",
        type="dataset_output",
        mode="upload",
        datastore=blobstore.name,
        path_template="merge/out",
        overwrite=True,
    )

    row = commit_output(StagedOutput(spec, blobstore.location, "merge/out", staged))

    assert (row["path"], row["file_count"]) == ("merge/out", 2)  # what the step wrote
    assert {f: (final / f).read_text() for f in _files_under(final)} == {
        "a.txt": "new a.txt",
        "keep.txt": "old keep.txt",
        "link": "old keep.txt",
        "sub/deep.txt": "old sub/deep.txt",
        "sub/new.txt": "new sub/new.txt",
    }
    assert os.readlink(final / "link") == "keep.txt"
    assert (final / "keep.txt").stat().st_ino == kept_inode  # linked, not copied
    assert final.stat().st_ino != old_folder_inode  # one swap, not file by file
    assert not (store_root / STAGING_DIR / "step_1").exists()


@pytest.mark.slow
def test_a_failed_second_commit_takes_the_first_back(
    workspace: Workspace, store_root: Path, tmp_path: Path
) -> None:
    """Outputs of a step are committed all or none: the second output's destination is
    under a file, so its commit fails, and the first output must not stay at its place."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "two.py").write_text(
        "import os, sys\n"
        "for folder in sys.argv[1:]:\n"
        "    os.makedirs(folder, exist_ok=True)\n"
        "    open(os.path.join(folder, 'x.txt'), 'w').write('x')\n"
    )
    (store_root / "blocker").write_text("a file where a folder would go")
    store = workspace.get_default_datastore()
    first = OutputFileDatasetConfig(name="first", destination=(store, "fresh/first"))
    second = OutputFileDatasetConfig(name="second", destination=(store, "blocker/out"))
    step = PythonScriptStep(
        "two.py",
        arguments=[first, second],
        source_directory=str(code),
        allow_reuse=False,
    )
    run = Experiment(workspace, "allornone").submit(Pipeline(workspace, [step]))

    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    details = run.get_steps()[0].get_details()
    assert "committing outputs failed" in details["error"]
    assert not (store_root / "fresh" / "first").exists()
    assert (store_root / "blocker").read_text() == "a file where a folder would go"
    assert RunStore(workspace.catalog).outputs_of(run.get_steps()[0].id) == []
    assert not any((store_root / STAGING_DIR).rglob("*.txt"))


@pytest.mark.slow
def test_a_registration_that_cannot_be_made_commits_nothing(
    workspace: Workspace, store_root: Path, tmp_path: Path
) -> None:
    """register_on_complete is checked before the catalog records the output: a view
    whose path_glob matches none of the files fails the step and leaves nothing."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "one.py").write_text(
        "import os, sys\n"
        "os.makedirs(sys.argv[1], exist_ok=True)\n"
        "open(os.path.join(sys.argv[1], 'rows.txt'), 'w').write('a\\n1\\n')\n"
    )
    store = workspace.get_default_datastore()
    out = (
        OutputFileDatasetConfig(name="rows", destination=(store, "fresh/rows"))
        .read_delimited_files(path_glob=r"\.csv$")
        .register_on_complete("csv_rows")
    )
    step = PythonScriptStep(
        "one.py", arguments=[out], source_directory=str(code), allow_reuse=False
    )
    run = Experiment(workspace, "noreg").submit(Pipeline(workspace, [step]))

    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    step_run = run.get_steps()[0]
    assert "matches none of the 1 files" in step_run.get_details()["error"]
    assert not (store_root / "fresh" / "rows").exists()
    assert RunStore(workspace.catalog).outputs_of(step_run.id) == []
    assert "csv_rows" not in workspace.datasets
