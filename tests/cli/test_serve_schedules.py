"""``dataferry serve`` fires due schedules: real servers, real time, real runs."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

import pytest
from cli.test_serve import start_server
from execution.test_published import echo_pipeline

from dataferry.execution.schedule import Schedule
from dataferry.pipeline.schedule_recurrence import ScheduleRecurrence

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

TICK = "0.2"  # seconds between the servers' checks (default 10)


def test_two_servers_fire_a_due_time_once(workspace: Workspace, tmp_path: Path) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo")
    with contextlib.ExitStack() as stack:
        for _ in range(2):
            servers = start_server(workspace, "127.0.0.1", "--schedule-tick", TICK)
            stack.callback(servers.close)
            next(servers)
        # no start_time: the first due time is the creation itself (a Minute
        # recurrence's next one is a minute later, after this test)
        schedule = Schedule.create(
            workspace,
            "every-minute",
            published.id,
            "sched",
            ScheduleRecurrence("Minute", 1),
        )
        deadline = time.monotonic() + 60
        while not schedule.get_pipeline_runs() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # both servers tick ~10 more times
        runs = schedule.get_pipeline_runs()
        assert len(runs) == 1
        runs[0].wait_for_completion(show_output=False)
        assert runs[0].get_status() == "Finished"
        assert runs[0].tags["ScheduleId"] == schedule.id
