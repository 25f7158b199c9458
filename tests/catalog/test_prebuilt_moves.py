"""Status moves and step commits run statements built once (``catalog.prebuilt``):
the columns they set are the ones given, each move still checks the status it found,
and a column the table lacks is refused as ``.values()`` refused it, before anything
is written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.exc import CompileError

from dataferry.catalog import run_events
from dataferry.catalog.prebuilt import checked
from dataferry.catalog.schema import outputs
from dataferry.catalog.status import RunStatus, StepStatus
from dataferry.errors import StatusTransitionError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dataferry.catalog.run_store import RunStore

AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def store(
    run_with_steps: Callable[[Sequence[tuple[str, str, str]]], RunStore],
) -> RunStore:
    return run_with_steps([("s1", "n1", "one"), ("s2", "n2", "two")])


def test_a_step_move_sets_exactly_the_columns_given(store: RunStore) -> None:
    store.move_step("s1", StepStatus.RUNNING, started_at=AT)
    store.move_step("s1", StepStatus.FINISHED, exit_code=0, ended_at=AT)

    one, two = store.get_step_run("s1"), store.get_step_run("s2")
    assert (one.status, one.exit_code, one.started_at, one.ended_at) == (
        "Finished",
        0,
        AT,
        AT,
    )
    assert (two.status, two.exit_code, two.started_at) == ("NotStarted", None, None)


def test_a_run_move_sets_exactly_the_columns_given(store: RunStore) -> None:
    assert store.move_run("r1", RunStatus.RUNNING, driver_pid=4321, started_at=AT)

    run = store.get_run("r1")
    assert (run.status, run.driver_pid, run.started_at, run.ended_at) == (
        "Running",
        4321,
        AT,
        None,
    )


@pytest.mark.parametrize(
    ("move", "message"),
    [
        (
            lambda s: s.move_step("s1", StepStatus.RUNNING, bogus=1, exit_code=0),
            "Unconsumed column names: bogus",
        ),
        (
            lambda s: s.move_run("r1", RunStatus.RUNNING, nope=1, zzz=2),
            "Unconsumed column names: nope, zzz",
        ),
    ],
)
def test_a_column_the_table_lacks_is_refused_and_nothing_written(
    store: RunStore, move: Callable[[RunStore], object], message: str
) -> None:
    events_before = store.events_since("r1")

    with pytest.raises(CompileError, match=message):  # as on main: a bug of ours
        move(store)

    assert store.get_step_run("s1").status == "NotStarted"
    assert store.get_run("r1").status == "NotStarted"
    assert store.events_since("r1") == events_before


def test_the_prebuilt_update_changes_no_row_whose_status_moved_meanwhile(
    store: RunStore,
) -> None:
    with store.catalog.write() as conn:
        run_events.move_step(conn, "s1", StepStatus.RUNNING)
        # what a writer that read NotStarted before that move would now execute
        stale = run_events._set(
            run_events.step_runs, {}, StepStatus.FAILED, "s1", "NotStarted"
        )
        assert conn.execute(run_events._MOVE_STEP, stale).rowcount == 0

    assert store.get_step_run("s1").status == "Running"


def test_a_move_its_status_does_not_allow_is_still_refused(store: RunStore) -> None:
    store.move_step("s1", StepStatus.FINISHED, exit_code=0)

    with pytest.raises(StatusTransitionError, match="s1"):
        store.move_step("s1", StepStatus.RUNNING)

    assert store.get_step_run("s1").status == "Finished"


def test_checked_passes_the_columns_of_the_table_through() -> None:
    row = {"step_run_id": "s1", "name": "out", "datastore": "d", "path": "p"}

    assert checked(outputs, row) == row


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"name": "out", "bogus": 1}, "^Unconsumed column names: bogus$"),
        ({"b": 1, "a": 2, "name": "out"}, "^Unconsumed column names: a, b$"),
    ],
)
def test_checked_refuses_a_key_that_is_no_column(
    row: dict[str, object], message: str
) -> None:
    with pytest.raises(CompileError, match=message):
        checked(outputs, row)
