"""Schedule from Python: create's checks, get/list/enable/disable/update, and firing
with ``fire_due`` at a given ``now`` (a real catalog, real runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from execution.test_published import echo_pipeline
from pipeline.kit import write_script

from dataferry import (
    DataPath,
    DataPathComputeBinding,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
)
from dataferry.errors import (
    PipelineValidationError,
    PublishedPipelineNotFoundError,
    ScheduleNotFoundError,
    ScheduleValidationError,
)
from dataferry.execution.pipeline_endpoint import PipelineEndpoint
from dataferry.execution.schedule import Schedule
from dataferry.execution.schedule_runner import SCHEDULE_TAG, fire_due
from dataferry.pipeline.schedule_recurrence import ScheduleRecurrence

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore, Workspace

COPY = """
import shutil, sys
shutil.copy(sys.argv[1], sys.argv[2])
"""


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def copy_pipeline(
    workspace: Workspace, blobstore: Datastore, tmp_path: Path, store_root: Path
) -> Pipeline:
    """One step that copies the file its DataPath parameter 'src' names to out.txt."""
    (store_root / "inbox").mkdir(parents=True, exist_ok=True)
    (store_root / "seed.txt").write_text("seed")
    code = write_script(tmp_path / "code", "copy.py", COPY)
    src = PipelineParameter("src", default_value=DataPath(blobstore, "seed.txt"))
    bound = (src, DataPathComputeBinding(mode="download"))
    step = PythonScriptStep(
        "copy.py",
        source_directory=str(code),
        arguments=[bound, str(tmp_path / "out.txt")],
        inputs=[bound],
    )
    return Pipeline(workspace, [step])


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``):
    schedules, and the runs they fire, are catalog rows."""
    return catalog_workspace


def test_create_checks_as_the_sdk(
    workspace: Workspace, blobstore: Datastore, tmp_path: Path
) -> None:
    pid = echo_pipeline(workspace, tmp_path).publish("echo").id
    every = ScheduleRecurrence("Hour", 1)
    cases = [
        ({"recurrence": every, "datastore": blobstore}, "Can not specify both"),
        (
            {"recurrence": every, "path_on_datastore": "x"},
            "path_on_datastore can only be given for a Datastore schedule",
        ),
        ({}, "needs a recurrence=ScheduleRecurrence"),
        ({"recurrence": ScheduleRecurrence("Day", 0)}, "interval must be an int"),
        ({"datastore": blobstore, "polling_interval": 0}, "polling_interval must be"),
        (
            {"datastore": blobstore, "data_path_parameter_name": "count"},
            "'count' is not a DataPath parameter",
        ),
        (
            {"recurrence": every, "pipeline_parameters": {"count": object()}},
            "stores str, int, float or bool",
        ),
        (
            {"recurrence": every, "pipeline_parameters": [("count", 4)]},
            r"pipeline_parameters must be a dict of name: value, not list",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(ScheduleValidationError, match=message):
            Schedule.create(workspace, "s", pid, "exp", **kwargs)
    with pytest.raises(PipelineValidationError, match="name nope does not exist"):
        Schedule.create(
            workspace, "s", pid, "exp", every, pipeline_parameters={"nope": 1}
        )
    with pytest.raises(PublishedPipelineNotFoundError, match="'missing'"):
        Schedule.create(workspace, "s", "missing", "exp", every)
    assert Schedule.list(workspace, active_only=False) == []
    with pytest.raises(ScheduleNotFoundError, match="no schedule has id 'x'"):
        Schedule.get(workspace, "x")


def test_get_list_enable_disable_update(workspace: Workspace, tmp_path: Path) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo")
    schedule = Schedule.create(
        workspace,
        "hourly",
        published.id,
        "exp",
        recurrence=ScheduleRecurrence("Hour", 1),
        description="d",
        pipeline_parameters={"count": 4},
    )
    endpoint = PipelineEndpoint.publish(workspace, "ep", "d", published)
    other = Schedule.create_for_pipeline_endpoint(
        workspace, "daily", endpoint.id, "exp", ScheduleRecurrence("Day", 1)
    )

    assert Schedule.get(workspace, schedule.id).name == "hourly"
    assert [s.id for s in Schedule.list(workspace)] == [schedule.id, other.id]
    assert [s.id for s in Schedule.list(workspace, pipeline_id=published.id)] == [
        schedule.id
    ]
    assert [
        s.id
        for s in Schedule.get_schedules_for_pipeline_endpoint_id(workspace, endpoint.id)
    ] == [other.id]
    schedule.disable()
    assert [s.id for s in Schedule.list(workspace)] == [other.id]
    schedule.enable()
    schedule.update(name="renamed", recurrence=ScheduleRecurrence("Minute", 30))
    assert (schedule.name, schedule.recurrence.frequency) == ("renamed", "Minute")
    assert schedule.status == "Active"
    with pytest.raises(
        ScheduleValidationError, match="cannot change the schedule type"
    ):
        schedule.update(datastore=workspace.get_default_datastore())
    with pytest.raises(ScheduleValidationError, match="status must be 'Active'"):
        schedule.update(status="Paused")
    with pytest.raises(
        ScheduleValidationError, match="unexpected arguments \\['bogus'\\]"
    ):
        schedule.update(bogus=1)
    assert schedule.get_last_pipeline_run() is None


@pytest.mark.slow
def test_a_recurrence_fires_once_per_due_time(
    workspace: Workspace, tmp_path: Path
) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo")
    schedule = Schedule.create(
        workspace,
        "m",
        published.id,
        "sched",
        ScheduleRecurrence("Minute", 1),
        pipeline_parameters={"count": 8},
    )
    start = now()

    first = fire_due(workspace, start)
    assert len(first) == 1
    assert fire_due(workspace, start) == []  # a second server at the same time
    assert fire_due(workspace, start + timedelta(seconds=30)) == []
    schedule.disable()
    assert fire_due(workspace, start + timedelta(minutes=1)) == []
    schedule.enable()
    second = fire_due(workspace, start + timedelta(minutes=1))
    assert len(second) == 1
    runs = schedule.get_pipeline_runs()
    assert [r.id for r in runs] == second + first
    last = schedule.get_last_pipeline_run()
    assert last is not None
    last.wait_for_completion(show_output=False)
    assert last.get_status() == "Finished"
    assert last.tags[SCHEDULE_TAG] == schedule.id


@pytest.mark.slow
def test_a_datastore_schedule_fires_per_added_or_modified_file(
    workspace: Workspace, blobstore: Datastore, tmp_path: Path, store_root: Path
) -> None:
    published = copy_pipeline(workspace, blobstore, tmp_path, store_root).publish("c")
    (store_root / "inbox" / "old.txt").write_text("old")
    schedule = Schedule.create(
        workspace,
        "inbox",
        published.id,
        "sched",
        datastore=blobstore,
        path_on_datastore="inbox",
        polling_interval=1,
        data_path_parameter_name="src",
    )
    start = now()
    assert fire_due(workspace, start + timedelta(minutes=1)) == []  # only old.txt
    (store_root / "inbox" / "new.txt").write_text("new")
    (store_root / "inbox" / "deeper").mkdir()
    (store_root / "inbox" / "deeper" / "no.txt").write_text("not directly under")

    fired = fire_due(workspace, start + timedelta(minutes=2))
    assert len(fired) == 1
    assert fire_due(workspace, start + timedelta(minutes=2)) == []  # same poll
    run = schedule.get_last_pipeline_run()
    assert run is not None
    run.wait_for_completion(show_output=False)
    assert (tmp_path / "out.txt").read_text() == "new"
    (store_root / "inbox" / "old.txt").write_text("changed")
    assert len(fire_due(workspace, start + timedelta(minutes=3))) == 1
    run = schedule.get_last_pipeline_run()
    assert run is not None
    run.wait_for_completion(show_output=False)
    assert (tmp_path / "out.txt").read_text() == "changed"
    assert fire_due(workspace, start + timedelta(minutes=4)) == []
