"""A ParallelRunStep killed mid-run (pipeline driver, step process and workers, all
kill -9) resumes without redoing finished mini-batches, and commits its file once."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import WAIT_S, is_alive, step, wait_gone

from dataferry import (
    Dataset,
    Environment,
    OutputFileDatasetConfig,
    ParallelRunConfig,
    ParallelRunStep,
    Pipeline,
)
from dataferry.catalog.run_store import RunStore

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dataferry import Datastore, Workspace

pytestmark = pytest.mark.slow  # real drivers, step and worker processes
ROOT = Path(__file__).resolve().parents[2]
FILES = 8

# every call is logged; the mini-batch of f05 blocks on its first call (until the
# test releases it) after telling the test its worker's and step process's pids
SCORE = """\
import json, os, time

def run(mini_batch):
    spy = os.environ["SPY_DIR"]
    names = [os.path.basename(p) for p in mini_batch]
    with open(os.path.join(spy, "calls"), "a") as f:
        f.write(" ".join(names) + "\\n")
    if "f05.txt" in names and not os.path.exists(os.path.join(spy, "release")):
        pids = {"worker": os.getpid(), "step": os.getppid()}
        with open(os.path.join(spy, "stuck.tmp"), "w") as f:
            json.dump(pids, f)
        os.replace(os.path.join(spy, "stuck.tmp"), os.path.join(spy, "stuck"))
        time.sleep(600)
    return [f"{n} {len(open(p).read())}" for n, p in zip(names, mini_batch)]
"""


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``):
    a resume reads what the killed run committed from the catalog."""
    return catalog_workspace


@pytest.fixture
def spy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    parts = [str(ROOT / "src"), str(ROOT / "compat" / "src")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(parts))
    monkeypatch.setenv("SPY_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def stray_pids() -> Iterator[list[int]]:
    """Pids to SIGKILL at teardown if a failing test left them running."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)


def _pipeline(workspace: Workspace, blobstore: Datastore, src: Path) -> Pipeline:
    config = ParallelRunConfig(
        environment=Environment("prs"),
        entry_script="score.py",
        error_threshold=0,
        output_action="append_row",
        compute_target=None,
        node_count=1,
        process_count_per_node=1,  # one worker: f00..f04 end before f05 blocks
        mini_batch_size=1,
        source_directory=str(src),
        run_invocation_timeout=600,
    )
    docs = Dataset.File.from_files((blobstore, "docs/*.txt"))
    out = OutputFileDatasetConfig(name="scores", destination=(blobstore, "prs/out"))
    prs = ParallelRunStep("score", config, [docs.as_named_input("docs")], out)
    return Pipeline(workspace, [prs])


def _wait_stuck(marker: Path) -> dict[str, int]:
    deadline = time.monotonic() + WAIT_S
    while not marker.exists():
        if time.monotonic() > deadline:
            pytest.fail("the mini-batch of f05 never started")
        time.sleep(0.05)
    pids: dict[str, int] = json.loads(marker.read_text())
    return pids


def test_kill_9_mid_run_then_resume_redoes_no_finished_mini_batch(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    spy_dir: Path,
    stray_pids: list[int],
) -> None:
    docs = store_root / "docs"
    docs.mkdir(parents=True)
    for i in range(FILES):
        (docs / f"f{i:02d}.txt").write_text("x" * i)
    src = tmp_path / "src"
    src.mkdir()
    (src / "score.py").write_text(textwrap.dedent(SCORE))
    run = _pipeline(workspace, blobstore, src).submit("prs")
    pids = _wait_stuck(spy_dir / "stuck")
    store = RunStore(workspace.catalog)
    driver = store.get_run(run.id).driver_pid
    assert driver is not None
    stray_pids += [driver, pids["step"], pids["worker"]]

    for pid in (driver, pids["step"], pids["worker"]):
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid)
    (spy_dir / "release").touch()
    run.resume()
    status = run.wait_for_completion(
        show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
    )

    assert status == "Finished", step(run, "score").get_job_log()
    calls = (spy_dir / "calls").read_text().split()
    # f00..f04 ended before the kill and are not run again; f05 was cut and rerun
    assert sorted(calls) == sorted(
        [f"f{i:02d}.txt" for i in range(FILES)] + ["f05.txt"]
    )
    out = store_root / "prs/out"
    lines = (out / "parallel_run_step.txt").read_text().splitlines()
    assert lines == [f"f{i:02d}.txt {i}" for i in range(FILES)]
    assert sorted(p.name for p in out.iterdir()) == ["parallel_run_step.txt"]
    (record,) = store.outputs_of(step(run, "score").id)  # committed once
    assert record.deleted_at is None
