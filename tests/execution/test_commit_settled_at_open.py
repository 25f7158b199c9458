"""The first use of the catalog settles an output commit whose writer was killed
mid-commit.

A separate process opens the workspace, stages ``{a,b,c}.csv`` over an output that
holds ``{a,b}.csv``, puts the commit on record as a step's move to Running does, and
commits it through ``commit_outputs``, killing itself with SIGKILL at a chosen point.
A fresh process then opens the workspace and uses its catalog: the output must read
whole (old or new), with nothing left staged and no commit on record. A live writer's
commit is never settled. (Real drivers killed while a step runs or inside its step
commit: ``test_commit_records``.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from dataferry.catalog import pending_commits
from dataferry.catalog.pending_commits import Writer
from dataferry.data.commit_settling import this_writer
from dataferry.errors import PathNotFoundError
from dataferry.storage.commit_marker import MARKER, PENDING
from dataferry.storage.staging import StagedPlace

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Datastore, Workspace

# argv: project folder, datastore, scratch, kill point. Kill points: "exchange" (local:
# before the renameat2 exchange), "after_exchange" (local: the new output in place,
# the old one still staged), "remove_marker" (object store: before publishing),
# "second_copy" (object store: one file published over the old output)
COMMITTER = """
import os, signal, sys
from pathlib import Path
from dataferry import Datastore, Workspace
from dataferry.catalog import now, pending_commits
from dataferry.data.commit_settling import this_writer
from dataferry.execution.commit import StagedOutput, commit_outputs
from dataferry.execution.plan_model import OutputTarget
from dataferry.storage import staging_local, staging_object

project, name, scratch, kill_at = sys.argv[1:5]
ws = Workspace.from_config(project)
loc = Datastore.get(ws, name).location
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
staging_object.TRANSFER_THREADS = 1
folder = loc.staging.stage("data/out", "gone_1", "out", Path(scratch))
for part in ("a", "b", "c"):
    (folder / f"{part}.csv").write_text(f"new-{part}")
if kill_at == "exchange":
    staging_local._exchange = die
elif kill_at == "after_exchange":
    staging_local._remove = die
elif kill_at == "remove_marker":
    staging_object.ObjectStoreStaging._remove_marker = die
elif kill_at == "second_copy":
    real_copy, copies = loc.fs.copy, []
    def copy(src, dst, **kw):
        if copies:
            die()
        copies.append(dst)
        return real_copy(src, dst, **kw)
    loc.fs.copy = copy
spec = OutputTarget(name="out", type="dataset_output", mode="upload", datastore=name,
                    path_template="data/out", overwrite=True)
staged = StagedOutput(spec, loc, "data/out", folder, step_run_id="gone_1")
with ws.catalog.write() as conn:  # as the step's move to Running records it
    pending_commits.record_in(
        conn, pending_commits.rows(this_writer(), "gone_1", [(name, "data/out")], now())
    )
commit_outputs([staged])
print("committed")
"""

# the first use of the catalog in a process settles (a bare open reads nothing)
OPEN = (
    "import sys; from dataferry import Workspace;"
    " Workspace.from_config(sys.argv[1]).datastores"
)


def project(workspace: Workspace) -> str:
    return str(workspace.path.parent)


def commit_old(store: Datastore, tmp_path: Path) -> None:
    loc = store.location
    folder = loc.staging.stage("data/out", "old_1", "out", tmp_path / "old")
    for part in ("a", "b"):
        (folder / f"{part}.csv").write_text(f"old-{part}")
    loc.staging.commit(StagedPlace("data/out", folder, "old_1", "out"), merge=False)


def kill_a_commit(
    workspace: Workspace, store: Datastore, tmp_path: Path, at: str
) -> None:
    script = tmp_path / "committer.py"
    script.write_text(textwrap.dedent(COMMITTER))
    args = [project(workspace), store.name, str(tmp_path / "scratch"), at]
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout == ""


def open_in_a_fresh_process(workspace: Workspace) -> None:
    done = subprocess.run(
        [sys.executable, "-c", OPEN, project(workspace)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def read(store: Datastore) -> dict[str, str]:
    loc = store.location
    loc.fs.invalidate_cache()
    found = {}
    for full in loc.resolve("data/out"):
        with loc.open(full) as fh:
            found[full.rsplit("/", 1)[-1]] = fh.read().decode()
    return found


def on_record(workspace: Workspace) -> list[tuple[str, str, str]]:
    return [
        (r.datastore, r.path, r.step_run_id)
        for r in pending_commits.pending(workspace.catalog)
    ]


OLD = {"a.csv": "old-a", "b.csv": "old-b"}
NEW = {"a.csv": "new-a", "b.csv": "new-b", "c.csv": "new-c"}


# -- a local datastore ------------------------------------------------------------------


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``):
    a killed commit is settled from the catalog's pending commits."""
    return catalog_workspace


@pytest.mark.slow
@pytest.mark.parametrize(("at", "whole"), [("exchange", OLD), ("after_exchange", NEW)])
def test_a_killed_local_commit_is_settled_by_the_next_open(
    workspace: Workspace, tmp_path: Path, at: str, whole: dict[str, str]
) -> None:
    store = workspace.get_default_datastore()
    commit_old(store, tmp_path)
    kill_a_commit(workspace, store, tmp_path, at)
    assert on_record(workspace) == [(store.name, "data/out", "gone_1")]
    assert store.location.staging.staged_steps() == ["gone_1"]

    open_in_a_fresh_process(workspace)

    assert read(store) == whole
    assert on_record(workspace) == []
    assert store.location.staging.staged_steps() == []


@pytest.mark.slow
def test_a_live_writers_commit_is_left_alone(
    workspace: Workspace, tmp_path: Path
) -> None:
    store = workspace.get_default_datastore()
    commit_old(store, tmp_path)
    kill_a_commit(workspace, store, tmp_path, "exchange")
    [record] = pending_commits.pending(workspace.catalog)
    # this test's process takes the commit over: a live writer, on this host
    assert pending_commits.claim(workspace.catalog, record, this_writer())

    open_in_a_fresh_process(workspace)

    assert on_record(workspace) == [(store.name, "data/out", "gone_1")]
    assert store.location.staging.staged_steps() == ["gone_1"]


@pytest.mark.slow
def test_a_reused_pid_is_not_the_writer(workspace: Workspace, tmp_path: Path) -> None:
    store = workspace.get_default_datastore()
    commit_old(store, tmp_path)
    kill_a_commit(workspace, store, tmp_path, "after_exchange")
    [record] = pending_commits.pending(workspace.catalog)
    # a live process (this one) with the writer's pid, but not its start time
    reused = Writer(socket.gethostname(), os.getpid(), this_writer().started - 60)
    assert pending_commits.claim(workspace.catalog, record, reused)

    open_in_a_fresh_process(workspace)

    assert read(store) == NEW
    assert on_record(workspace) == []


@pytest.mark.slow
def test_a_writer_on_another_host_with_a_live_run_is_left_alone(
    workspace: Workspace, tmp_path: Path
) -> None:
    store = workspace.get_default_datastore()
    commit_old(store, tmp_path)
    kill_a_commit(workspace, store, tmp_path, "exchange")
    [record] = pending_commits.pending(workspace.catalog)
    elsewhere = Writer("another-host.invalid", 4242, 1.0)
    assert pending_commits.claim(workspace.catalog, record, elsewhere)

    open_in_a_fresh_process(workspace)

    # the step run is unknown here: its run may be live on the other host
    assert on_record(workspace) == [(store.name, "data/out", "gone_1")]
    assert read(store) == OLD


def test_an_open_with_nothing_on_record_settles_nothing(
    workspace: Workspace,
) -> None:
    from dataferry.data.commit_settling import settle_killed_commits

    assert settle_killed_commits(workspace) == []
    assert on_record(workspace) == []


# -- Azure Blob on Azurite ---------------------------------------------------------------


@pytest.fixture
def blob(workspace: Workspace, azurite: Azurite, blob_container: str) -> Datastore:
    from execution.blob_kit import register_blob

    return register_blob(workspace, azurite, blob_container)


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize(
    ("at", "whole"), [("remove_marker", OLD), ("second_copy", NEW)]
)
def test_a_killed_blob_commit_is_settled_by_the_next_open(
    workspace: Workspace,
    blob: Datastore,
    tmp_path: Path,
    at: str,
    whole: dict[str, str],
) -> None:
    from execution.blob_kit import blobs

    commit_old(blob, tmp_path)
    kill_a_commit(workspace, blob, tmp_path, at)
    assert PENDING in blobs(blob, "data/out")
    with pytest.raises(PathNotFoundError, match="matches no file"):
        read(blob)
    assert on_record(workspace) == [("blob", "data/out", "gone_1")]

    open_in_a_fresh_process(workspace)

    assert read(blob) == whole
    assert sorted(blobs(blob, "data/out")) == sorted([MARKER, *whole])
    assert on_record(workspace) == []
    assert blob.location.staging.staged_steps() == []
