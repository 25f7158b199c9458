"""``dataferry schedule list|show|enable|disable``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from execution.test_published import echo_pipeline

from dataferry.execution.schedule import Schedule
from dataferry.pipeline.schedule_recurrence import ScheduleRecurrence

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore, Workspace
    from tests.cli.conftest import Invoke


def test_list_when_none(run: Invoke) -> None:
    result = run("schedule", "list")

    assert result.exit_code == 0
    assert "No schedules" in result.output
    assert json.loads(run("schedule", "list", "--json").output) == []


def test_list_show_disable_enable(
    run: Invoke, workspace: Workspace, blobstore: Datastore, tmp_path: Path
) -> None:
    pid = echo_pipeline(workspace, tmp_path).publish("echo").id
    hourly = Schedule.create(
        workspace, "hourly", pid, "exp", ScheduleRecurrence("Hour", 2)
    )
    Schedule.create(
        workspace, "inbox", pid, "exp", datastore=blobstore, path_on_datastore="in"
    )

    listed = json.loads(run("schedule", "list", "--json").output)
    assert [(d["name"], d["kind"], d["status"]) for d in listed] == [
        ("hourly", "Recurrence", "Active"),
        ("inbox", "DataStore", "Active"),
    ]
    shown = json.loads(run("schedule", "show", hourly.id, "--json").output)
    assert (shown["pipeline_id"], shown["recurrence"]["frequency"], shown["runs"]) == (
        pid,
        "Hour",
        [],
    )
    table = run("schedule", "list").output
    assert "every 2 Hour" in table
    assert "new files in workspaceblobstore:in" in table

    done = run("schedule", "disable", hourly.id)
    assert f"schedule hourly ({hourly.id}) is now Disabled" in done.output
    assert [
        d["name"] for d in json.loads(run("schedule", "list", "--json").output)
    ] == ["inbox"]
    assert len(json.loads(run("schedule", "list", "--all", "--json").output)) == 2
    run("schedule", "enable", hourly.id)
    assert hourly.status == "Active"
    assert "Schedule hourly" in run("schedule", "show", hourly.id).output


def test_an_unknown_id_is_a_clear_error(run: Invoke) -> None:
    for command in ("show", "enable", "disable"):
        result = run("schedule", command, "nope")
        assert result.exit_code == 3
        assert "no schedule has id 'nope'" in result.output
