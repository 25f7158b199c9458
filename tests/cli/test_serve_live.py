"""The live feed of ``dataferry serve`` on both catalogs: on PostgreSQL it is woken
by LISTEN/NOTIFY, on SQLite it polls; either way an event committed after the stream
opened reaches it, and the stream starts after the id it is given."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

import pytest
import requests
from cli.big_run import recorded_run
from cli.test_serve import start_server

from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import RunStatus, StepStatus
from dataferry.execution import views

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    return catalog_workspace


def first_event(url: str, got: list[tuple[float, dict[str, object]]]) -> None:
    """Read the stream until its first event; record when it came."""
    with requests.get(url, stream=True, timeout=(10, 30)) as r:
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data: "):
                got.append((time.monotonic(), json.loads(line[6:])))
                return


def test_an_event_after_the_newest_reaches_the_stream(
    workspace: Workspace, tmp_path: Path
) -> None:
    run_id = recorded_run(workspace, tmp_path, 2)
    store = RunStore(workspace.catalog)
    store.move_run(run_id, RunStatus.RUNNING)
    with views.watch_all_events(workspace) as watcher:
        pushed = watcher.pushed
    assert pushed is (workspace.catalog.engine.dialect.name == "postgresql")
    newest = views.newest_event_id(workspace)
    assert newest > 0
    for url in start_server(workspace, "127.0.0.1"):
        got: list[tuple[float, dict[str, object]]] = []
        reader = threading.Thread(
            target=first_event, args=(f"{url}/api/stream?after={newest}", got)
        )
        reader.start()
        time.sleep(1.5)  # the stream is open and idle: nothing after `newest` yet
        assert got == []
        (step,) = [s for s in store.step_runs(run_id) if s.step_name == "s0"]
        committed = time.monotonic()
        store.move_step(step.id, StepStatus.FINISHED)
        reader.join(timeout=30)
        ((arrived, event),) = got
        assert (event["run_id"], event["kind"]) == (run_id, "step_status")
        assert event["id"] == newest + 1
        assert event["payload"] == {"from": "NotStarted", "to": "Finished"}
        print(
            f"SSE delay on {workspace.catalog.engine.dialect.name}: "
            f"{(arrived - committed) * 1000:.0f} ms"
        )
