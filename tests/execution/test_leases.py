"""Two writers never share an output location.

Within one pipeline the graph refuses it; across runs the lease in the catalog refuses
the second writer with a message naming the first, and the first writer's data stays
whole. The steps are real processes writing a fixed destination, ``shared/out``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dataferry import (
    Datastore,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry._record import replace
from dataferry.catalog.run_store import TERMINAL, RunStore
from dataferry.errors import OutputLocationBusyError, PipelineValidationError
from dataferry.storage.places import physical_place

WAIT_S = 60.0  # upper bound for things that take well under a second; never asserted
SHARED = "shared/out"

HOLDER = '''\
"""Writes its tag into its output, signals the test, waits for a go file, ends."""
import json, os, sys, time

out, tag, marker, go = sys.argv[1:5]
with open(os.path.join(out, "data.txt"), "w") as fh:
    fh.write(f"written by {tag}\\n")
with open(marker + ".tmp", "w") as fh:
    json.dump({"pid": os.getpid(), "out": out}, fh)
os.replace(marker + ".tmp", marker)
deadline = time.monotonic() + 120  # a forgotten step ends on its own
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit(3)
    time.sleep(0.02)
with open(os.path.join(out, "done.txt"), "w") as fh:
    fh.write(tag)
'''


@dataclass
class Writer:
    """One submitted run whose single step writes ``shared/out``."""

    step_name: str
    run: Any
    marker: Path
    go: Path

    def step_run_id(self, store: RunStore) -> str:
        (rec,) = store.step_runs(self.run.id)
        return rec.id

    def error(self, store: RunStore) -> str:
        (rec,) = store.step_runs(self.run.id)
        return str(rec.details.get("error", ""))


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "holder.py").write_text(HOLDER)
    return folder


def _submit(
    ws: Workspace,
    store: Datastore,
    source_dir: Path,
    step_name: str,
    mode: str,
    destination: str = SHARED,
) -> Writer:
    signals = source_dir.parent / f"signals_{step_name}"
    signals.mkdir()
    marker, go = signals / "ready.json", signals / "go"
    out = OutputFileDatasetConfig(name="out", destination=(store, destination))
    out = out.as_mount() if mode == "mount" else out.as_upload()
    step = PythonScriptStep(
        "holder.py",
        name=step_name,
        arguments=[out, step_name, str(marker), str(go)],
        source_directory=str(source_dir),
        allow_reuse=False,
    )
    run = Pipeline(ws, steps=[step]).submit("leases")
    return Writer(step_name, run, marker, go)


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {WAIT_S} s")
        time.sleep(0.02)


def _finish(writer: Writer) -> str:
    status: str = writer.run.wait_for_completion(
        show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
    )
    return status


def _check_refused(store: RunStore, loser: Writer, winner: Writer) -> None:
    """The loser failed before it ran, naming the winner's step and run."""
    message = loser.error(store)
    assert f"{SHARED} is being written by step '{winner.step_name}'" in message
    assert f"(step run {winner.step_run_id(store)}) of run {winner.run.id}" in message
    assert not loser.marker.exists()  # its script never started
    assert store.outputs_of(loser.step_run_id(store)) == []
    assert store.leases_of_run(loser.run.id) == []


def _check_committed(store: RunStore, root: Path, winner: Writer) -> None:
    """The winner's whole output is at the destination and in the catalog."""
    assert (
        root / SHARED / "data.txt"
    ).read_text() == f"written by {winner.step_name}\n"
    assert (root / SHARED / "done.txt").read_text() == winner.step_name
    (committed,) = store.outputs_of(winner.step_run_id(store))
    assert (committed.datastore, committed.path, committed.file_count) == (
        "workspaceblobstore",
        SHARED,
        2,
    )
    assert store.leases_of_run(winner.run.id) == []


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["mount", "upload"])
def test_second_run_is_refused_while_the_first_writes(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    source_dir: Path,
    mode: str,
) -> None:
    store = RunStore(workspace.catalog)
    first = _submit(workspace, blobstore, source_dir, "first_writer", mode)
    _wait(lambda: first.marker.exists() or first.run.get_status() in TERMINAL, "first")
    assert first.marker.exists(), first.error(store)

    second = _submit(workspace, blobstore, source_dir, "second_writer", mode)
    assert _finish(second) == "Failed"
    _check_refused(store, second, first)
    with pytest.raises(
        OutputLocationBusyError, match=r"step 'first_writer' \(step run"
    ):
        store.acquire_lease(
            *physical_place(blobstore.location, SHARED),
            step_run_id="someone",
            run_id="else",
        )
    # a location inside the leased one, or one that holds it, overlaps it too
    for nested in (f"{SHARED}/inner", SHARED.rsplit("/", 1)[0]):
        with pytest.raises(
            OutputLocationBusyError, match=r"overlaps .* 'first_writer'"
        ):
            store.acquire_lease(
                *physical_place(blobstore.location, nested),
                step_run_id="someone",
                run_id="else",
            )
    staged = Path(json.loads(first.marker.read_text())["out"])
    assert (staged / "data.txt").read_text() == "written by first_writer\n"

    first.go.touch()
    assert _finish(first) == "Finished"
    _check_committed(store, store_root, first)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("first_spelling", "second_spelling"),
    [("shared/out", "shared/./out"), ("shared//out/", "./shared/out")],
)
def test_two_spellings_of_one_destination_are_one_place(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    source_dir: Path,
    first_spelling: str,
    second_spelling: str,
) -> None:
    store = RunStore(workspace.catalog)
    first = _submit(
        workspace, blobstore, source_dir, "first_writer", "upload", first_spelling
    )
    _wait(lambda: first.marker.exists() or first.run.get_status() in TERMINAL, "first")
    assert first.marker.exists(), first.error(store)

    second = _submit(
        workspace, blobstore, source_dir, "second_writer", "upload", second_spelling
    )
    assert _finish(second) == "Failed"
    _check_refused(store, second, first)
    # where a datastore ignores case, another case of the same place is refused too
    folding = replace(blobstore.location, is_case_insensitive=True)
    with pytest.raises(
        OutputLocationBusyError, match=r"is being written by step 'first_writer'"
    ):
        store.acquire_lease(
            *physical_place(folding, "Shared/./OUT/"),
            step_run_id="someone",
            run_id="else",
        )

    first.go.touch()
    assert _finish(first) == "Finished"
    _check_committed(store, store_root, first)


@pytest.mark.slow
def test_runs_started_together_one_wins_one_is_refused(
    workspace: Workspace, blobstore: Datastore, store_root: Path, source_dir: Path
) -> None:
    store = RunStore(workspace.catalog)
    a = _submit(workspace, blobstore, source_dir, "writer_a", "upload")
    b = _submit(workspace, blobstore, source_dir, "writer_b", "upload")

    def settled() -> bool:  # one step is writing, the other has been refused
        ready = [w for w in (a, b) if w.marker.exists()]
        failed = [w for w in (a, b) if w.run.get_status() == "Failed"]
        return len(ready) == 1 and len(failed) == 1 and ready != failed

    _wait(settled, "one writer to run and the other to be refused")
    winner, loser = (a, b) if a.marker.exists() else (b, a)
    _check_refused(store, loser, winner)
    winner.go.touch()
    assert _finish(winner) == "Finished"
    _check_committed(store, store_root, winner)


def test_one_output_bound_to_two_steps_of_one_pipeline_is_invalid(
    workspace: Workspace, source_dir: Path
) -> None:
    out = OutputFileDatasetConfig(name="out")
    steps = [
        PythonScriptStep(
            "holder.py", name=name, arguments=[out], source_directory=str(source_dir)
        )
        for name in ("writer_one", "writer_two")
    ]
    with pytest.raises(
        PipelineValidationError,
        match=r"output out can not be used as an output for step writer_two, as it is "
        r"already an output of step writer_one",
    ):
        Pipeline(workspace, steps=steps).submit("leases")
    assert RunStore(workspace.catalog).list_runs() == []


@pytest.mark.slow
def test_two_datastores_over_one_folder_are_one_place(
    workspace: Workspace, blobstore: Datastore, store_root: Path, source_dir: Path
) -> None:
    store = RunStore(workspace.catalog)
    alias = Datastore.register_local(workspace, "same_folder", store_root)
    nested = Datastore.register_local(workspace, "inner_folder", store_root / "shared")
    first = _submit(workspace, blobstore, source_dir, "first_writer", "upload")
    _wait(lambda: first.marker.exists() or first.run.get_status() in TERMINAL, "first")
    assert first.marker.exists(), first.error(store)

    second = _submit(workspace, alias, source_dir, "second_writer", "upload")
    assert _finish(second) == "Failed"
    _check_refused(store, second, first)
    with pytest.raises(
        OutputLocationBusyError, match=r"overlaps .* 'first_writer'"
    ):  # a datastore rooted inside the leased place
        store.acquire_lease(
            *physical_place(nested.location, "out/part"),
            step_run_id="someone",
            run_id="else",
        )

    first.go.touch()
    assert _finish(first) == "Finished"
    _check_committed(store, store_root, first)
