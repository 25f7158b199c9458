"""gc of shared snapshots against what a submit leaves behind: a hold of a submit
killed (-9) between its hold and its run's record stops holding at once; a live
submit's hold, another host's recent hold and an older dataferry's recent hold are
respected; a later process with the holder's pid is not the holder; the holds that no
longer hold are deleted by gc. On a shared local folder on both databases."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from datetime import timedelta
from typing import TYPE_CHECKING

import psutil
import pytest
from execution.shared_folders import two_folders
from sqlalchemy import func, insert, select

from dataferry import Experiment, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog import now
from dataferry.catalog.schema import snapshot_holds
from dataferry.errors import DatastoreNotFoundError
from dataferry.execution.lifecycle import gc
from dataferry.execution.pipeline_run import PipelineRun
from dataferry.execution.shared_snapshots import publish_snapshots

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

ORPHAN = "0f" * 32  # a snapshot hash no run names

HOLD_THEN_WAIT = """
import sys, time
from dataferry import Workspace
from dataferry.execution.shared_snapshots import snapshots_published
ws = Workspace.from_config(sys.argv[1])
with snapshots_published(ws, [sys.argv[2]]):
    print("held", flush=True)
    time.sleep(120)  # killed here: between its hold and recording its run
"""


@pytest.fixture
def pair(tmp_path: Path, catalog_url: str) -> Iterator[tuple[Workspace, Workspace]]:
    """Two workspace folders on one catalog, a shared folder as default datastore."""
    yield from two_folders(tmp_path, catalog_url)


def _snapshot_folder(ws: Workspace, name: str = ORPHAN) -> str:
    folder = ws.path / "snapshots" / name
    folder.mkdir(parents=True)
    (folder / "a.py").write_bytes(b"print('x')")
    return f"snapshots/{name}"


def _stored(ws: Workspace) -> list[str]:
    location = ws.get_default_datastore().location
    full = location.full_path("dataferry/snapshots")
    if not location.fs.isdir(full):
        return []
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in location.fs.ls(full))


def _hold_rows(ws: Workspace) -> int:
    with ws.catalog.read() as conn:
        return int(
            conn.execute(select(func.count()).select_from(snapshot_holds)).one()[0]
        )


def _add_hold(
    ws: Workspace,
    *,
    host: str | None,
    pid: int | None,
    started: float | None,
    age: timedelta = timedelta(0),
) -> None:
    row = {
        "hash": ORPHAN,
        "token": os.urandom(8).hex(),
        "taken_at": now() - age,
        "host": host,
        "pid": pid,
        "started_at": started,
    }
    with ws.catalog.write() as conn:
        conn.execute(insert(snapshot_holds).values(**row))


def _collected(ws: Workspace) -> list[str]:
    return [i.name for i in gc(ws, older_than="1d").shared]


@pytest.mark.slow
def test_a_submit_killed_between_hold_and_record_no_longer_blocks_gc(
    pair: tuple[Workspace, Workspace],
) -> None:
    first, second = pair
    stored = _snapshot_folder(second)
    submit = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(HOLD_THEN_WAIT),
            str(second.path),
            stored,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert submit.stdout is not None
        assert submit.stdout.readline() == "held\n"
        assert _collected(first) == []  # a live submit's hold is respected
        assert _stored(first) == [ORPHAN]
    finally:
        submit.send_signal(signal.SIGKILL)
        submit.wait(timeout=30)
        submit.stdout.close()
    assert _hold_rows(first) == 1  # it never released its hold

    assert _collected(first) == [ORPHAN]  # at once, not after HOLD_EXPIRY
    assert _stored(first) == []
    assert _hold_rows(first) == 0  # and its row is gone


def test_a_later_process_with_the_holders_pid_is_not_the_holder(
    pair: tuple[Workspace, Workspace],
) -> None:
    first, _ = pair
    publish_snapshots(first, [_snapshot_folder(first)])
    me = psutil.Process(os.getpid())
    # this pid runs, but it started after the process that took the hold
    _add_hold(
        first, host=socket.gethostname(), pid=me.pid, started=me.create_time() - 60
    )

    assert _collected(first) == [ORPHAN]
    assert _hold_rows(first) == 0


def test_a_hold_of_a_pid_no_process_has_does_not_hold(
    pair: tuple[Workspace, Workspace],
) -> None:
    first, _ = pair
    publish_snapshots(first, [_snapshot_folder(first)])
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(child.pid).create_time()
    child.wait(timeout=30)  # exited and reaped: no process has this pid now
    _add_hold(first, host=socket.gethostname(), pid=child.pid, started=started)

    assert _collected(first) == [ORPHAN]


def test_a_live_holder_here_holds_past_the_expiry(
    pair: tuple[Workspace, Workspace],
) -> None:
    """A submit still uploading after an hour is alive: its hold still holds."""
    first, _ = pair
    publish_snapshots(first, [_snapshot_folder(first)])
    me = psutil.Process(os.getpid())
    _add_hold(
        first,
        host=socket.gethostname(),
        pid=me.pid,
        started=me.create_time(),
        age=timedelta(hours=2),
    )

    assert _collected(first) == []
    assert _hold_rows(first) == 1


@pytest.mark.parametrize(
    ("host", "pid", "started"),
    [("another-host.example", 1, 1.0), (None, None, None)],
    ids=["another-host", "older-dataferry"],
)
def test_a_hold_that_cannot_be_checked_keeps_the_expiry_rule(
    pair: tuple[Workspace, Workspace],
    host: str | None,
    pid: int | None,
    started: float | None,
) -> None:
    first, _ = pair
    publish_snapshots(first, [_snapshot_folder(first)])
    _add_hold(first, host=host, pid=pid, started=started, age=timedelta(minutes=59))
    assert _collected(first) == []
    assert _hold_rows(first) == 1

    _add_hold(first, host=host, pid=pid, started=started, age=timedelta(minutes=61))
    assert _collected(first) == []  # the recent one still holds
    assert _hold_rows(first) == 1  # the expired one was deleted


def test_a_dry_run_deletes_no_hold_row(
    pair: tuple[Workspace, Workspace],
) -> None:
    first, _ = pair
    publish_snapshots(first, [_snapshot_folder(first)])
    _add_hold(first, host=None, pid=None, started=None, age=timedelta(hours=2))

    assert [i.name for i in gc(first, older_than="1d", dry_run=True).shared] == [ORPHAN]
    assert _hold_rows(first) == 1
    assert _stored(first) == [ORPHAN]


def test_a_run_submitted_from_the_other_folder_keeps_its_snapshot_for_a_rerun(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    """gc in one folder keeps the snapshot of a run submitted from the other, whose
    own copy is gone; a rerun from the gc's folder fetches it and finishes."""
    first, second = pair
    code = tmp_path / "code"
    code.mkdir()
    (code / "say.py").write_text("print('again')\n")
    step = PythonScriptStep("say.py", name="say", source_directory=str(code))
    run = Experiment(first, "e").submit(Pipeline(first, steps=[step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    (kept,) = _stored(first)

    assert _collected(second) == []
    assert _stored(first) == [kept]
    assert not (second.path / "snapshots" / kept).exists()
    again = PipelineRun(Experiment(second, "e"), run.id).rerun("say")
    assert again.wait_for_completion(show_output=False) == "Finished"
    assert (second.path / "snapshots" / kept).is_dir()  # fetched by its hash


def test_gc_naming_the_default_datastore_collects_the_shared_folders(
    pair: tuple[Workspace, Workspace],
) -> None:
    first, second = pair
    publish_snapshots(first, [_snapshot_folder(first)])
    report = gc(second, older_than="1d", datastore="team_store")
    assert [i.name for i in report.shared] == [ORPHAN]
    assert _stored(first) == []


def test_gc_naming_an_unknown_datastore_fails_before_deleting(
    pair: tuple[Workspace, Workspace],
) -> None:
    first, second = pair
    publish_snapshots(first, [_snapshot_folder(first)])
    with pytest.raises(DatastoreNotFoundError, match="no_such_store"):
        gc(second, older_than="1d", datastore="no_such_store")
    assert _stored(first) == [ORPHAN]
