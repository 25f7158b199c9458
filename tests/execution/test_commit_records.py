"""A step's output commits are on record from its move to Running to its end, in
transactions it takes anyway; a driver killed in between leaves them, and the first
use of the catalog in a later process settles them once that driver is gone.

Real drivers: the step waits for a go file while the test SIGKILLs its driver, or the
driver dies inside its step commit (``CRASH_ENV``). Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import WAIT_S, is_alive, wait_gone

from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep
from dataferry.catalog import pending_commits
from dataferry.catalog.run_store import TERMINAL, RunStore
from dataferry.catalog.step_commit import CRASH_ENV
from dataferry.execution.commit import STAGING_DIR
from dataferry.execution.resume import is_orphaned

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dataferry import Datastore, Workspace

WRITER = """
import json, os, sys, time
out, marker, go = sys.argv[1:4]
with open(os.path.join(out, "part.txt"), "w") as fh:
    fh.write("new")
with open(marker + ".tmp", "w") as fh:
    json.dump({"pid": os.getpid()}, fh)
os.replace(marker + ".tmp", marker)
deadline = time.monotonic() + 120  # a forgotten step ends on its own
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.02)
sys.exit(int(open(go).read() or 0) if os.path.exists(go) else 3)
"""

# argv: project folder; prints whether SQLAlchemy was loaded by a bare open
BARE_OPEN = (
    "import sys; from dataferry import Workspace; Workspace.from_config(sys.argv[1]);"
    " print('sqlalchemy' in sys.modules)"
)
# argv: project folder; the first use of the catalog settles what is on record
FIRST_USE = (
    "import sys; from dataferry import Workspace;"
    " print(sorted(Workspace.from_config(sys.argv[1]).datastores))"
)


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


@pytest.fixture
def stray_pids() -> Iterator[list[int]]:
    """Pids to SIGKILL at teardown if a failing test left them running."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if is_alive(pid):
            os.kill(pid, signal.SIGKILL)


def submit(ws: Workspace, tmp_path: Path) -> tuple[Any, Path, Path]:
    """A one-step run whose step writes its output, signals and waits for ``go``
    (which holds its exit code); returns the run, the marker and the go file."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "writer.py").write_text(WRITER)
    marker, go = tmp_path / "ready.json", tmp_path / "go"
    out = OutputFileDatasetConfig(name="out")
    step = PythonScriptStep(
        "writer.py",
        name="writer",
        arguments=[out, str(marker), str(go)],
        outputs=[out],
        source_directory=str(source),
        allow_reuse=False,
    )
    return Pipeline(ws, steps=[step]).submit("records"), marker, go


def wait_ready(run: Any, marker: Path) -> int:
    deadline = time.monotonic() + WAIT_S
    while not marker.exists():
        if run.get_status() in TERMINAL or time.monotonic() > deadline:
            pytest.fail(f"the step never signalled; run {run.get_status()}")
        time.sleep(0.02)
    pid: int = json.loads(marker.read_text())["pid"]
    return pid


def on_record(ws: Workspace) -> list[tuple[str, str, int]]:
    """(datastore, step run id, writer pid) of every commit on record."""
    return [
        (r.datastore, r.step_run_id, r.writer.pid)
        for r in pending_commits.pending(ws.catalog)
    ]


def in_a_fresh_process(ws: Workspace, code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, str(ws.path.parent)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATAFERRY_CATALOG_URL": ws.catalog_url},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def staged_steps(store: Datastore) -> list[str]:
    return store.location.staging.staged_steps()


# -- on record while the step runs, gone when it ends -----------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("code", "status"), [("0", "Finished"), ("1", "Failed")])
def test_a_running_steps_commits_are_on_record_until_it_ends(
    workspace: Workspace, tmp_path: Path, code: str, status: str
) -> None:
    run, marker, go = submit(workspace, tmp_path)
    wait_ready(run, marker)
    (step,) = RunStore(workspace.catalog).step_runs(run.id)
    driver = RunStore(workspace.catalog).get_run(run.id).driver_pid
    assert on_record(workspace) == [("workspaceblobstore", step.id, driver)]

    # written aside, then renamed: the step never reads a created, still empty file
    (tmp_path / "go.part").write_text(code)
    (tmp_path / "go.part").rename(go)

    assert (
        run.wait_for_completion(
            show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
        )
        == status
    )
    assert on_record(workspace) == []


# -- a killed driver's records, settled at the first use of the catalog -----------------


@pytest.mark.slow
def test_a_driver_killed_while_its_step_runs_is_settled_by_the_first_use(
    workspace: Workspace,
    blobstore: Datastore,
    tmp_path: Path,
    stray_pids: list[int],
) -> None:
    run, marker, _ = submit(workspace, tmp_path)
    step_pid = wait_ready(run, marker)
    driver = RunStore(workspace.catalog).get_run(run.id).driver_pid
    assert driver is not None
    stray_pids.extend([step_pid, driver])
    (step,) = RunStore(workspace.catalog).step_runs(run.id)
    os.kill(driver, signal.SIGKILL)
    os.kill(step_pid, signal.SIGKILL)
    wait_gone(driver, WAIT_S)
    wait_gone(step_pid, WAIT_S)
    assert staged_steps(blobstore) == [step.id]

    # a bare open reads nothing (not even loads SQLAlchemy) and settles nothing
    assert in_a_fresh_process(workspace, BARE_OPEN) == "False"
    assert on_record(workspace) == [("workspaceblobstore", step.id, driver)]

    assert in_a_fresh_process(workspace, FIRST_USE) == str(
        ["workspaceblobstore", "workspacefilestore"]
    )
    assert on_record(workspace) == []
    assert staged_steps(blobstore) == []
    # the run is still the dead driver's: resume restarts the step as before
    assert RunStore(workspace.catalog).get_step_run(step.id).status == "Running"


@pytest.mark.slow
def test_a_driver_killed_inside_its_step_commit_is_settled_by_the_first_use(
    workspace: Workspace,
    blobstore: Datastore,
    store_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CRASH_ENV, "1")  # the bytes moved, the catalog transaction not
    run, marker, go = submit(workspace, tmp_path)
    wait_ready(run, marker)
    monkeypatch.delenv(CRASH_ENV)
    (step,) = RunStore(workspace.catalog).step_runs(run.id)
    go.write_text("0")
    deadline = time.monotonic() + WAIT_S
    while not is_orphaned(RunStore(workspace.catalog).get_run(run.id), workspace):
        assert time.monotonic() < deadline, "the driver did not die in its commit"
        time.sleep(0.05)
    assert RunStore(workspace.catalog).get_step_run(step.id).status == "Running"
    assert len(on_record(workspace)) == 1

    in_a_fresh_process(workspace, FIRST_USE)

    assert on_record(workspace) == []
    assert staged_steps(blobstore) == []
    assert not (store_root / STAGING_DIR / step.id).exists()


# -- no transaction of their own ---------------------------------------------------------

# argv: project folder, steps. A cold chain driven in this process; prints the write
# transactions it took and the moves among them to Preparing (shown only when a step
# prepares for long: timing, not the step's cost).
COUNTER = """
import json, sys
from pathlib import Path
from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.sql_catalog import SqlCatalog
from dataferry.execution import driver_start
from dataferry.execution.driver import drive_run
from dataferry.execution.processes import mark_driver
from dataferry.execution.run_layout import run_dir

project, steps = sys.argv[1], int(sys.argv[2])
ws = Workspace.from_config(project)
src = Path(project) / "src"
src.mkdir()
(src / "s.py").write_text(
    "import pathlib, sys\\n(pathlib.Path(sys.argv[-1]) / 'x.txt').write_text('x')\\n"
)
ws.catalog
writes, moves = [], []
real_write, real_move = SqlCatalog.write, RunStore.move_step
WRAPPERS = {"run", "_retrying", "__call__", "<lambda>", "write"}
def write(self):
    import traceback
    names = [f.name for f in reversed(traceback.extract_stack()[:-1])]
    writes.append(next(n for n in names if n not in WRAPPERS))
    return real_write(self)
def move_step(self, step_run_id, to, **kw):
    moves.append(str(to))
    return real_move(self, step_run_id, to, **kw)
SqlCatalog.write, RunStore.move_step = write, move_step
def in_process(folder, run_id):
    mark_driver(run_dir(ws, run_id))
    drive_run(ws, run_id)
    return os.getpid()
import os
driver_start.start_driver = in_process
chain, prev = [], None
for i in range(steps):
    out = OutputFileDatasetConfig(name=f"o{i}")
    args = [out] if prev is None else [prev.as_input(), out]
    chain.append(PythonScriptStep("s.py", name=f"s{i}", arguments=args, outputs=[out],
                                  source_directory=str(src), allow_reuse=False))
    prev = out
run = Pipeline(ws, steps=chain).submit("count")
status = run.wait_for_completion(show_output=False, raise_on_error=False)
print(json.dumps([status, writes, moves]))
"""


@pytest.mark.slow
def test_a_cold_step_takes_no_transaction_more(
    workspace: Workspace, tmp_path: Path
) -> None:
    script = tmp_path / "counter.py"
    script.write_text(COUNTER)
    done = subprocess.run(
        [sys.executable, str(script), str(workspace.path.parent), "3"],
        capture_output=True,
        text=True,
        timeout=300,
        # recorded and driven in that process: the local agent would drive it
        env={
            **os.environ,
            "DATAFERRY_CATALOG_URL": workspace.catalog_url,
            "DATAFERRY_AGENT": "off",
        },
    )
    assert done.returncode == 0, done.stderr
    status, writes, moves = json.loads(done.stdout.splitlines()[-1])

    assert status == "Finished"
    # as on main, per step: its lease, its move to Running (its commits on record in
    # the same transaction), its one-transaction commit (which ends them); a move to
    # Preparing or a stage shown is timing (a step that prepares for long)
    assert [m for m in moves if m != "Preparing"] == ["Running"] * 3
    per_step = ("acquire_lease", "move_step", "commit_step")
    assert [writes.count(name) for name in per_step] == [
        3,
        3 + moves.count("Preparing"),
        3,
    ], writes
    # and none of their own (pending_commits writes only in others' transactions)
    assert not {"begin", "end", "claim", "forget_step"} & set(writes), writes
    assert on_record(workspace) == []
